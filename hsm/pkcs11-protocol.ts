// The messages between hsm/client.ts and the PKCS#11 worker thread, and the shapes of what the worker
// answers. Private key material is never among them: only public keys, signatures and attribute flags.
/** ed25519: the hub's publisher and root keys (feed signatures); the terminal's keys are ec-p256. */
export type KeyKind = 'ec-p256' | 'rsa-2048' | 'ed25519';

export type WorkerRequest =
  | { op: 'init'; module: string }
  | { op: 'reinit' }
  | { op: 'tokens' }
  | { op: 'open'; tokenLabel: string | null; tokenSerial: string | null; pin: string }
  | { op: 'close'; sid: number }
  | { op: 'initToken'; label: string; soPin: string; userPin: string }
  | { op: 'keyInfo'; sid: number; label: string }
  | { op: 'generateKey'; sid: number; label: string; kind: KeyKind }
  | { op: 'signDigest'; sid: number; label: string; digest: Uint8Array }
  | { op: 'auditExtraction'; sid: number; label: string };

export interface TokenSummary {
  slot: string;
  label: string;
  serial: string;
  manufacturer: string;
  model: string;
  initialized: boolean;
  userPinInitialized: boolean;
}

export interface KeyInfo {
  present: boolean;
  kind?: KeyKind;
  /** EC: the uncompressed point 04||X||Y; Ed25519: the 32-byte public key; RSA: the modulus. */
  publicPoint?: Uint8Array;
  publicExponent?: Uint8Array;
  sensitive?: boolean;
  extractable?: boolean;
  private?: boolean;
  alwaysSensitive?: boolean;
  neverExtractable?: boolean;
}

export interface ExtractionAttempt {
  attempt: string;
  /** 'refused' with the PKCS#11 return value, or 'LEAKED' if the token gave anything away. */
  outcome: string;
  leaked: boolean;
}

export interface WorkerFailure {
  ckr: string | null;
  rv: number | null;
  message: string;
  /** A failure of the session or token itself (not of this one operation): reopen. */
  sessionLost: boolean;
  pinProblem: boolean;
  notFound: 'token' | 'key' | null;
}

export type LibraryInfo = { manufacturer: string; library: string; version: string };

/** What the thread receives and answers, one request at a time, matched by id. */
export interface WorkerCall {
  id: number;
  req: WorkerRequest;
}
export type WorkerReply =
  { id: number; ok: true; result: unknown } | { id: number; ok: false; error: WorkerFailure };
