// The one thread that talks PKCS#11. It owns the loaded module, its sessions and its key handles, so
// that no C_* call (some HSMs take tens of milliseconds, a network HSM seconds) runs on the event
// loop that serves the UI. It answers typed requests from hsm/client.ts; nothing else imports it.
//
// This file must stay self-contained (only node: built-ins and the pkcs11js package): when the code
// runs from TypeScript sources (vitest), client.ts transpiles this one file and starts it as an eval
// worker. Private key material never crosses this boundary: only public keys, signatures and
// attribute flags are answered.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';
import type * as Pkcs11Types from 'pkcs11js';

type Pkcs11Module = typeof Pkcs11Types;
const requireFrom = createRequire((workerData as { base: string }).base);
const pk = requireFrom('pkcs11js') as Pkcs11Module;

export type KeyKind = 'ec-p256' | 'rsa-2048';

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
  | { op: 'auditExtraction'; sid: number; label: string }
  | { op: 'dropSessions'; sid: number };

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
  /** EC: the uncompressed point 04||X||Y; RSA: the modulus. */
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

const ckrNames = new Map<number, string>();
for (const [name, value] of Object.entries(pk)) {
  if (name.startsWith('CKR_') && typeof value === 'number' && !ckrNames.has(value)) ckrNames.set(value, name);
}

const SESSION_LOST = new Set([
  'CKR_SESSION_HANDLE_INVALID',
  'CKR_SESSION_CLOSED',
  'CKR_TOKEN_NOT_PRESENT',
  'CKR_TOKEN_NOT_RECOGNIZED',
  'CKR_DEVICE_REMOVED',
  'CKR_DEVICE_ERROR',
  'CKR_USER_NOT_LOGGED_IN',
  'CKR_SLOT_ID_INVALID',
  'CKR_CRYPTOKI_NOT_INITIALIZED',
  'CKR_GENERAL_ERROR',
]);
const PIN_PROBLEM = new Set(['CKR_PIN_INCORRECT', 'CKR_PIN_LEN_RANGE', 'CKR_PIN_LOCKED', 'CKR_PIN_EXPIRED']);

class Failure extends Error {
  constructor(
    message: string,
    readonly notFound: 'token' | 'key' | null = null,
  ) {
    super(message);
  }
}

let lib: Pkcs11Types.PKCS11 | null = null;
let modulePath: string | null = null;

interface KeyHandles {
  priv: Buffer;
  pub: Buffer | null;
  /** Learned on first signature. */
  ec?: boolean;
}

interface Session {
  slot: Buffer;
  handle: Buffer;
  keys: Map<string, KeyHandles>;
}
const sessions = new Map<number, Session>();
let nextSid = 1;

function ckrOf(error: unknown): string | null {
  const rv = (error as { code?: unknown }).code;
  return typeof rv === 'number' ? (ckrNames.get(rv) ?? `CKR_0x${rv.toString(16)}`) : null;
}

function initialize(): void {
  if (!lib) throw new Failure('PKCS#11 module not loaded');
  try {
    lib.C_Initialize();
  } catch (error) {
    // Another part of this process (or a previous worker) initialised it: that is fine.
    if (ckrOf(error) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw error;
  }
}

function requireLib(): Pkcs11Types.PKCS11 {
  if (!lib) throw new Failure('PKCS#11 module not loaded');
  return lib;
}

function text(field: string): string {
  return field.replace(/[\s\0]+$/, '');
}

function tokens(): TokenSummary[] {
  const p = requireLib();
  return p.C_GetSlotList(true).map((slot) => {
    const info = p.C_GetTokenInfo(slot);
    return {
      slot: slot.toString('hex'),
      label: text(info.label),
      serial: text(info.serialNumber),
      manufacturer: text(info.manufacturerID),
      model: text(info.model),
      initialized: (info.flags & pk.CKF_TOKEN_INITIALIZED) !== 0,
      userPinInitialized: (info.flags & pk.CKF_USER_PIN_INITIALIZED) !== 0,
    };
  });
}

function findSlot(label: string | null, serial: string | null): Buffer {
  const p = requireLib();
  for (const slot of p.C_GetSlotList(true)) {
    const info = p.C_GetTokenInfo(slot);
    if ((info.flags & pk.CKF_TOKEN_INITIALIZED) === 0) continue;
    if (label !== null && text(info.label) !== label) continue;
    if (serial !== null && text(info.serialNumber) !== serial) continue;
    return slot;
  }
  const wanted = [label !== null ? `label ${label}` : null, serial !== null ? `serial ${serial}` : null]
    .filter(Boolean)
    .join(', ');
  throw new Failure(`no token with ${wanted || 'any label'} is present`, 'token');
}

function open(
  label: string | null,
  serial: string | null,
  pin: string,
): { sid: number; token: TokenSummary } {
  const p = requireLib();
  const slot = findSlot(label, serial);
  const handle = p.C_OpenSession(slot, pk.CKF_SERIAL_SESSION | pk.CKF_RW_SESSION);
  try {
    p.C_Login(handle, pk.CKU_USER, pin);
  } catch (error) {
    if (ckrOf(error) !== 'CKR_USER_ALREADY_LOGGED_IN') {
      p.C_CloseSession(handle);
      throw error;
    }
  }
  const sid = nextSid++;
  sessions.set(sid, { slot, handle, keys: new Map() });
  const token = tokens().find((t) => t.slot === slot.toString('hex'))!;
  return { sid, token };
}

function session(sid: number): Session {
  const s = sessions.get(sid);
  if (!s) throw Object.assign(new Failure('session closed'), { code: pk.CKR_SESSION_HANDLE_INVALID });
  return s;
}

function findOne(s: Session, cls: number, label: string): Buffer | null {
  const p = requireLib();
  p.C_FindObjectsInit(s.handle, [
    { type: pk.CKA_CLASS, value: cls },
    { type: pk.CKA_LABEL, value: label },
  ]);
  try {
    const found = p.C_FindObjects(s.handle, 2);
    if (found.length > 1) throw new Failure(`more than one object labelled ${label}: refusing to guess`);
    return found[0] ?? null;
  } finally {
    p.C_FindObjectsFinal(s.handle);
  }
}

function keyHandles(s: Session, label: string): KeyHandles {
  const cached = s.keys.get(label);
  if (cached) return cached;
  const priv = findOne(s, pk.CKO_PRIVATE_KEY, label);
  if (!priv) throw new Failure(`no private key labelled ${label} in the token`, 'key');
  const found: KeyHandles = { priv, pub: findOne(s, pk.CKO_PUBLIC_KEY, label) };
  s.keys.set(label, found);
  return found;
}

const P256_OID = Buffer.from('06082a8648ce3d030107', 'hex');

function unwrapEcPoint(value: Buffer): Buffer {
  // CKA_EC_POINT is a DER OCTET STRING holding 04||X||Y (some modules return the raw point).
  if (value.length === 65 && value[0] === 0x04) return value;
  if (value[0] === 0x04 && value[1] === 65 && value.length === 67) return value.subarray(2);
  throw new Failure('unexpected CKA_EC_POINT encoding');
}

function bool(v: Buffer | undefined): boolean {
  return v !== undefined && v.length > 0 && v[0] !== 0;
}

function keyInfo(s: Session, label: string): KeyInfo {
  const p = requireLib();
  let handles: KeyHandles;
  try {
    handles = keyHandles(s, label);
  } catch (error) {
    if (error instanceof Failure && error.notFound === 'key') return { present: false };
    throw error;
  }
  const attrs = p.C_GetAttributeValue(s.handle, handles.priv, [
    { type: pk.CKA_KEY_TYPE },
    { type: pk.CKA_SENSITIVE },
    { type: pk.CKA_EXTRACTABLE },
    { type: pk.CKA_PRIVATE },
    { type: pk.CKA_ALWAYS_SENSITIVE },
    { type: pk.CKA_NEVER_EXTRACTABLE },
  ]);
  const keyType = attrs[0]!.value.readUIntLE(0, Math.min(attrs[0]!.value.length, 6));
  const info: KeyInfo = {
    present: true,
    sensitive: bool(attrs[1]?.value),
    extractable: bool(attrs[2]?.value),
    private: bool(attrs[3]?.value),
    alwaysSensitive: bool(attrs[4]?.value),
    neverExtractable: bool(attrs[5]?.value),
  };
  if (keyType === pk.CKK_EC) {
    info.kind = 'ec-p256';
    if (handles.pub) {
      const [params, point] = p.C_GetAttributeValue(s.handle, handles.pub, [
        { type: pk.CKA_EC_PARAMS },
        { type: pk.CKA_EC_POINT },
      ]);
      if (!params!.value.equals(P256_OID)) throw new Failure(`key ${label} is not on P-256`);
      info.publicPoint = unwrapEcPoint(point!.value);
    }
  } else if (keyType === pk.CKK_RSA) {
    info.kind = 'rsa-2048';
    const [mod, exp] = p.C_GetAttributeValue(s.handle, handles.pub ?? handles.priv, [
      { type: pk.CKA_MODULUS },
      { type: pk.CKA_PUBLIC_EXPONENT },
    ]);
    info.publicPoint = mod!.value;
    info.publicExponent = exp!.value;
  } else {
    throw new Failure(`key ${label} has an unsupported key type ${keyType}`);
  }
  return info;
}

function generateKey(s: Session, label: string, kind: KeyKind): KeyInfo {
  const p = requireLib();
  if (keyInfo(s, label).present) throw new Failure(`a key labelled ${label} already exists`);
  const id = Buffer.from(label, 'utf8');
  const common = [
    { type: pk.CKA_TOKEN, value: true },
    { type: pk.CKA_LABEL, value: label },
    { type: pk.CKA_ID, value: id },
  ];
  const pub =
    kind === 'ec-p256'
      ? [...common, { type: pk.CKA_EC_PARAMS, value: P256_OID }, { type: pk.CKA_VERIFY, value: true }]
      : [
          ...common,
          { type: pk.CKA_MODULUS_BITS, value: 2048 },
          { type: pk.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
          { type: pk.CKA_VERIFY, value: true },
        ];
  // Born in the token, never to leave it: sensitive, not extractable, private, sign only.
  const priv = [
    ...common,
    { type: pk.CKA_PRIVATE, value: true },
    { type: pk.CKA_SENSITIVE, value: true },
    { type: pk.CKA_EXTRACTABLE, value: false },
    { type: pk.CKA_SIGN, value: true },
    { type: pk.CKA_DECRYPT, value: false },
    { type: pk.CKA_UNWRAP, value: false },
    { type: pk.CKA_DERIVE, value: false },
  ];
  const mechanism = { mechanism: kind === 'ec-p256' ? pk.CKM_EC_KEY_PAIR_GEN : pk.CKM_RSA_PKCS_KEY_PAIR_GEN };
  p.C_GenerateKeyPair(s.handle, mechanism, pub, priv);
  s.keys.delete(label);
  return keyInfo(s, label);
}

const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/** Signs a SHA-256 digest: ECDSA keys answer r||s, RSA keys PKCS#1 v1.5 over the DigestInfo. */
function signDigest(s: Session, label: string, digest: Uint8Array): Buffer {
  const p = requireLib();
  if (digest.length !== 32) throw new Failure('a SHA-256 digest is 32 bytes');
  const handles = keyHandles(s, label);
  if (handles.ec === undefined) {
    const [type] = p.C_GetAttributeValue(s.handle, handles.priv, [{ type: pk.CKA_KEY_TYPE }]);
    handles.ec = type!.value.readUIntLE(0, Math.min(type!.value.length, 6)) === pk.CKK_EC;
  }
  // SoftHSM2 2.6 refuses CKM_ECDSA_SHA256: the caller hashes, the token signs the digest (CKM_ECDSA).
  // For RSA the token pads the DigestInfo (CKM_RSA_PKCS).
  const data = handles.ec ? Buffer.from(digest) : Buffer.concat([SHA256_DIGEST_INFO, digest]);
  p.C_SignInit(s.handle, { mechanism: handles.ec ? pk.CKM_ECDSA : pk.CKM_RSA_PKCS }, handles.priv);
  return Buffer.from(p.C_Sign(s.handle, data, Buffer.alloc(handles.ec ? 132 : 512)));
}

/** Tries every way PKCS#11 offers to get a private key out; answers what the token said. */
function auditExtraction(s: Session, label: string): ExtractionAttempt[] {
  const p = requireLib();
  const { priv } = keyHandles(s, label);
  const attempts: ExtractionAttempt[] = [];
  const tryIt = (attempt: string, fn: () => Buffer | void): void => {
    try {
      const out = fn();
      const leaked = out instanceof Buffer ? out.length > 0 : true;
      attempts.push({ attempt, outcome: leaked ? 'LEAKED' : 'empty', leaked });
    } catch (error) {
      attempts.push({
        attempt,
        outcome: `refused: ${ckrOf(error) ?? (error as Error).message}`,
        leaked: false,
      });
    }
  };
  for (const [name, type] of [
    ['CKA_VALUE', pk.CKA_VALUE],
    ['CKA_PRIVATE_EXPONENT', pk.CKA_PRIVATE_EXPONENT],
    ['CKA_PRIME_1', pk.CKA_PRIME_1],
  ] as const) {
    tryIt(`read ${name}`, () => {
      const [attr] = p.C_GetAttributeValue(s.handle, priv, [{ type }]);
      return attr!.value;
    });
  }
  // Wrap under a session AES key that the caller would know.
  tryIt('wrap with a session AES key', () => {
    const wrapping = p.C_GenerateKey(s.handle, { mechanism: pk.CKM_AES_KEY_GEN }, [
      { type: pk.CKA_TOKEN, value: false },
      { type: pk.CKA_VALUE_LEN, value: 32 },
      { type: pk.CKA_WRAP, value: true },
      { type: pk.CKA_EXTRACTABLE, value: true },
    ]);
    try {
      return p.C_WrapKey(
        s.handle,
        { mechanism: pk.CKM_AES_KEY_WRAP_PAD },
        wrapping,
        priv,
        Buffer.alloc(4096),
      );
    } finally {
      p.C_DestroyObject(s.handle, wrapping);
    }
  });
  tryIt('set CKA_EXTRACTABLE to true', () => {
    p.C_SetAttributeValue(s.handle, priv, [{ type: pk.CKA_EXTRACTABLE, value: true }]);
  });
  tryIt('set CKA_SENSITIVE to false', () => {
    p.C_SetAttributeValue(s.handle, priv, [{ type: pk.CKA_SENSITIVE, value: false }]);
  });
  tryIt('copy as an extractable, non-sensitive object', () => {
    const copy = p.C_CopyObject(s.handle, priv, [
      { type: pk.CKA_TOKEN, value: false },
      { type: pk.CKA_EXTRACTABLE, value: true },
      { type: pk.CKA_SENSITIVE, value: false },
    ]);
    p.C_DestroyObject(s.handle, copy);
  });
  return attempts;
}

function initToken(label: string, soPin: string, userPin: string): TokenSummary {
  const p = requireLib();
  const free = p
    .C_GetSlotList(true)
    .find((slot) => (p.C_GetTokenInfo(slot).flags & pk.CKF_TOKEN_INITIALIZED) === 0);
  if (!free) throw new Failure('no uninitialised token slot is free');
  if (tokens().some((t) => t.initialized && t.label === label))
    throw new Failure(`a token labelled ${label} already exists`);
  // PKCS#11 labels are 32 bytes padded with blanks (pkcs11js would pad with NUL).
  if (Buffer.byteLength(label) > 32) throw new Failure('a token label has at most 32 bytes');
  p.C_InitToken(free, soPin, label.padEnd(32 - Buffer.byteLength(label) + label.length, ' '));
  // SoftHSM2 moves the new token to a new slot id: find it again by label.
  const slot = findSlot(label, null);
  const handle = p.C_OpenSession(slot, pk.CKF_SERIAL_SESSION | pk.CKF_RW_SESSION);
  try {
    p.C_Login(handle, pk.CKU_SO, soPin);
    p.C_InitPIN(handle, userPin);
    p.C_Logout(handle);
  } finally {
    p.C_CloseSession(handle);
  }
  return tokens().find((t) => t.slot === slot.toString('hex'))!;
}

function handle(req: WorkerRequest): unknown {
  switch (req.op) {
    case 'init': {
      if (lib && modulePath !== req.module)
        throw new Failure(`this process already loaded ${modulePath}; one PKCS#11 module per process`);
      if (!lib) {
        const candidate = new pk.PKCS11();
        candidate.load(req.module);
        lib = candidate;
        modulePath = req.module;
      }
      initialize();
      const info = lib.C_GetInfo();
      return {
        manufacturer: text(info.manufacturerID),
        library: text(info.libraryDescription),
        version: `${info.libraryVersion.major}.${info.libraryVersion.minor}`,
      };
    }
    case 'reinit': {
      // The last resort after a token vanished: some modules only rescan their slots at C_Initialize.
      // Not while another client of this process still has a working session: C_Finalize would end it.
      const p = requireLib();
      if (sessions.size > 0) return false;
      try {
        p.C_Finalize();
      } catch {
        // not initialised: fine, we initialise below
      }
      initialize();
      return true;
    }
    case 'tokens':
      return tokens();
    case 'open':
      return open(req.tokenLabel, req.tokenSerial, req.pin);
    case 'close': {
      const s = sessions.get(req.sid);
      sessions.delete(req.sid);
      if (s) {
        try {
          requireLib().C_CloseSession(s.handle);
        } catch {
          // already gone with the token
        }
      }
      return null;
    }
    case 'initToken':
      return initToken(req.label, req.soPin, req.userPin);
    case 'keyInfo':
      return keyInfo(session(req.sid), req.label);
    case 'generateKey':
      return generateKey(session(req.sid), req.label, req.kind);
    case 'signDigest':
      return signDigest(session(req.sid), req.label, req.digest);
    case 'auditExtraction':
      return auditExtraction(session(req.sid), req.label);
    case 'dropSessions': {
      // Test and diagnostics hook: the token forgets every session, as when it is pulled out.
      const s = session(req.sid);
      requireLib().C_CloseAllSessions(s.slot);
      return null;
    }
  }
}

function failure(error: unknown): WorkerFailure {
  const ckr = ckrOf(error);
  const rv = (error as { code?: unknown }).code;
  return {
    ckr,
    rv: typeof rv === 'number' ? rv : null,
    message: error instanceof Error ? error.message : String(error),
    sessionLost: ckr !== null && SESSION_LOST.has(ckr),
    pinProblem: ckr !== null && PIN_PROBLEM.has(ckr),
    notFound: error instanceof Failure ? error.notFound : null,
  };
}

parentPort!.on('message', (msg: { id: number; req: WorkerRequest }) => {
  try {
    const result = handle(msg.req);
    parentPort!.postMessage({ id: msg.id, ok: true, result });
  } catch (error) {
    parentPort!.postMessage({ id: msg.id, ok: false, error: failure(error) });
  }
});
