// The terminal's HSM: a supervised PKCS#11 session behind an async API. Every C_* call runs in one
// worker thread (pkcs11-thread.ts) so the UI's event loop never waits on the token. The module is
// loaded and initialised once per process; the session is long-lived and reopened when the token
// drops it; "HSM unavailable" is a state with a retry timer (base/supervisor.ts), not a crash.
//
// Generic signer API used by other components (journal seals, hub request signatures):
//   hsm.sign(keyLabel, bytes)      → ECDSA P-256 / SHA-256 signature, DER (node:crypto's default)
//   hsm.publicKey(keyLabel)        → { pem, spki } (SubjectPublicKeyInfo)
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Clock } from '../base/clock.js';
import { KioskError, type ErrorCode } from '../base/errors.js';
import { getLogger } from '../base/log.js';
import { Supervisor, type Health, type Supervised, type SupervisedState } from '../base/supervisor.js';
import { P256_SPKI_PREFIX } from './cvc.js';
import type {
  ExtractionAttempt,
  KeyInfo,
  KeyKind,
  LibraryInfo,
  TokenSummary,
  WorkerFailure,
  WorkerRequest,
} from './pkcs11-protocol.js';
import { callThread, loadModule, moduleLoaded, pkcs11Thread, toKiosk } from './pkcs11-thread.js';

export type { ExtractionAttempt, KeyInfo, KeyKind, TokenSummary } from './pkcs11-protocol.js';

const log = getLogger('hsm');

export interface HsmOptions {
  module: string;
  tokenLabel: string | null;
  tokenSerial: string | null;
  /** Read only when a session is (re)opened; never stored or logged. */
  pin: () => string;
  /** SoftHSM2 configuration; applies to the whole process and must be set before the first load. */
  softhsmConf?: string | null;
  /** Backoff while unavailable (full jitter): default 1 s, doubling up to 30 s. */
  retry?: { baseMs: number; capMs: number; random?: () => number };
  clock?: Clock;
}

/** The HSM's own state names, for its consumers: the supervisor's, as an HSM operator says them. */
export type HsmState = 'stopped' | 'opening' | 'ready' | 'unavailable';

const hsmStates: Record<SupervisedState, HsmState> = {
  stopped: 'stopped',
  starting: 'opening',
  ready: 'ready',
  running: 'ready',
  retrying: 'unavailable',
  failed: 'unavailable',
};

export interface HsmStatus {
  state: HsmState;
  module: string;
  library: LibraryInfo | null;
  token: TokenSummary | null;
  error: { code: ErrorCode; message: string } | null;
}

export interface PublicKeyInfo {
  kind: KeyKind;
  pem: string;
  spki: Buffer;
  key: KeyObject;
}

/** SPKI (DER) of a public key as the token reports it. */
export function spkiFromKeyInfo(info: KeyInfo): Buffer {
  if (!info.present || !info.publicPoint)
    throw new KioskError('HSM_KEY_NOT_FOUND', 'no public key available');
  if (info.kind === 'ec-p256') return Buffer.concat([P256_SPKI_PREFIX, info.publicPoint]);
  if (info.kind === 'ed25519') return Buffer.concat([ED25519_SPKI_PREFIX, info.publicPoint]);
  const key = createPublicKey({
    key: {
      kty: 'RSA',
      n: Buffer.from(info.publicPoint).toString('base64url'),
      e: Buffer.from(info.publicExponent!).toString('base64url'),
    },
    format: 'jwk',
  });
  return key.export({ type: 'spki', format: 'der' });
}

/** SubjectPublicKeyInfo DER of an Ed25519 key, up to the 32 key bytes. */
export const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** IEEE P1363 r||s (what PKCS#11 returns) → DER ECDSA-Sig-Value (what node:crypto verifies by default). */
export function p1363ToDer(raw: Uint8Array): Buffer {
  const half = raw.length / 2;
  const int = (bytes: Uint8Array): Buffer => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    let v = Buffer.from(bytes.subarray(i));
    if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([int(raw.subarray(0, half)), int(raw.subarray(half))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

export class Hsm extends EventEmitter<{ state: [HsmState] }> implements Supervised {
  private readonly supervisor: Supervisor;
  private sid: number | null = null;
  private closed = false;
  private reported: HsmState = 'stopped';
  private library: LibraryInfo | null = null;
  private token: TokenSummary | null = null;

  constructor(readonly options: HsmOptions) {
    super();
    const retry = options.retry ?? { baseMs: 1_000, capMs: 30_000 };
    this.supervisor = new Supervisor({
      name: 'hsm',
      errorCode: 'HSM_UNAVAILABLE',
      backoff: {
        baseMs: retry.baseMs,
        capMs: retry.capMs,
        ...(retry.random ? { random: retry.random } : {}),
      },
      ...(options.clock ? { clock: options.clock } : {}),
      // A refused PIN is not retried: every try would count against the token's PIN counter and could
      // lock it. It stays unavailable until someone fixes the PIN and calls start() or retryNow().
      giveUpOn: (error) => error.code === 'HSM_LOGIN_FAILED',
      open: () => this.open(),
      close: () => this.closeSession(),
    });
    this.supervisor.on('state', (health) => this.report(health));
  }

  get state(): HsmState {
    return hsmStates[this.supervisor.state];
  }

  health(): Health {
    return this.supervisor.health();
  }

  /** Opens the session now instead of waiting out the backoff (also after a refused PIN). */
  retryNow(): void {
    if (!this.closed) this.supervisor.retryNow();
  }

  /** Opens the session; on failure the HSM is 'unavailable' and retried in the background. */
  async start(): Promise<HsmState> {
    this.closed = false;
    const state = await this.supervisor.settled();
    // A fresh start: also the way back from a refused PIN.
    if (state === 'retrying' || state === 'failed') await this.supervisor.stop();
    if (this.supervisor.state === 'stopped') await this.supervisor.start();
    return this.state;
  }

  status(): HsmStatus {
    return {
      state: this.state,
      module: this.options.module,
      library: this.library,
      token: this.token,
      error: this.supervisor.error?.toPayload() ?? null,
    };
  }

  private report(health: Health): void {
    const state = hsmStates[health.state];
    if (state === this.reported) return;
    this.reported = state;
    log.info({ state, code: health.error?.code }, 'hsm state');
    this.emit('state', state);
  }

  /** One attempt to load the module, log in and open the session (the supervisor's `open`). */
  private async open(): Promise<void> {
    try {
      // A token that vanished may only be seen again after the module rescans its slots.
      const previous = this.supervisor.error?.code;
      if ((previous === 'HSM_TOKEN_NOT_FOUND' || previous === 'HSM_UNAVAILABLE') && moduleLoaded())
        await pkcs11Thread()
          .call({ op: 'reinit' })
          .catch(() => undefined);
      this.library = await loadModule(this.options.module, this.options.softhsmConf ?? null);
      let pin: string;
      try {
        pin = this.options.pin();
      } catch (error) {
        throw error instanceof KioskError ? error : toKiosk(error as Error, 'reading the HSM user PIN');
      }
      const opened = await callThread<{ sid: number; token: TokenSummary }>(
        { op: 'open', tokenLabel: this.options.tokenLabel, tokenSerial: this.options.tokenSerial, pin },
        'opening the HSM session',
      );
      this.sid = opened.sid;
      this.token = opened.token;
    } catch (error) {
      this.token = null;
      throw error instanceof KioskError ? error : toKiosk(error as Error, 'opening the HSM');
    }
  }

  private async closeSession(): Promise<void> {
    const sid = this.sid;
    this.sid = null;
    if (sid !== null)
      await pkcs11Thread()
        .call({ op: 'close', sid })
        .catch(() => undefined);
  }

  /** The open session, opening it now if it is not (an operation does not wait out the backoff). */
  private async session(): Promise<number> {
    for (let tried = false; ; tried = true) {
      if (this.closed) throw new KioskError('HSM_UNAVAILABLE', 'the HSM client is closed');
      const state = await this.supervisor.settled();
      if ((state === 'ready' || state === 'running') && this.sid !== null) return this.sid;
      if (state === 'failed' || tried)
        throw this.supervisor.error ?? new KioskError('HSM_UNAVAILABLE', `the HSM is ${this.state}`);
      if (state === 'stopped') await this.supervisor.start();
      else this.supervisor.retryNow();
    }
  }

  /** Runs one session operation; if the token lost the session, reopens once and retries. */
  private async withSession<T>(what: string, build: (sid: number) => WorkerRequest): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      const sid = await this.session();
      try {
        return await pkcs11Thread().call<T>(build(sid));
      } catch (error) {
        const failure = error instanceof Error ? null : (error as WorkerFailure);
        if (failure && !failure.sessionLost) throw toKiosk(failure, what);
        log.warn({ op: what, ckr: failure?.ckr ?? null }, 'hsm session lost; reopening');
        const typed = toKiosk(failure ?? (error as Error), what);
        // Several operations may fail on the same lost session: the first one reports it.
        if (this.sid === sid) await this.supervisor.lost(typed);
        if (attempt >= 1) throw typed;
      }
    }
  }

  async keyInfo(label: string): Promise<KeyInfo> {
    return this.withSession('reading key attributes', (sid) => ({ op: 'keyInfo', sid, label }));
  }

  async publicKey(label: string): Promise<PublicKeyInfo> {
    const info = await this.keyInfo(label);
    if (!info.present) throw new KioskError('HSM_KEY_NOT_FOUND', `no key labelled ${label} in the token`);
    const spki = spkiFromKeyInfo(info);
    const key = createPublicKey({ key: spki, format: 'der', type: 'spki' });
    return { kind: info.kind!, spki, key, pem: key.export({ type: 'spki', format: 'pem' }) as string };
  }

  async generateKey(label: string, kind: KeyKind = 'ec-p256'): Promise<KeyInfo> {
    return this.withSession('generating a key', (sid) => ({ op: 'generateKey', sid, label, kind }));
  }

  /**
   * Signs a SHA-256 digest with the key: ECDSA keys answer P1363 r||s (64 bytes), RSA keys a
   * PKCS#1 v1.5 signature. The private key stays in the token.
   */
  async signDigest(label: string, digest: Uint8Array): Promise<Buffer> {
    if (digest.length !== 32) throw new KioskError('INVALID_REQUEST', 'a SHA-256 digest is 32 bytes');
    const out = await this.withSession<Uint8Array>('signing', (sid) => ({
      op: 'signDigest',
      sid,
      label,
      digest: Buffer.from(digest),
    }));
    return Buffer.from(out);
  }

  /**
   * The generic signer: SHA-256 over `bytes`, signed in the token. ECDSA signatures are DER-encoded,
   * so `crypto.verify('sha256', bytes, publicKeyPem, signature)` checks them.
   */
  async sign(label: string, bytes: Uint8Array): Promise<Buffer> {
    const digest = createHash('sha256').update(bytes).digest();
    const raw = await this.signDigest(label, digest);
    return raw.length === 64 ? p1363ToDer(raw) : raw;
  }

  /** Tries to export the private key in every way PKCS#11 offers; for audits and tests. */
  async auditExtraction(label: string): Promise<ExtractionAttempt[]> {
    return this.withSession('auditing key extraction', (sid) => ({ op: 'auditExtraction', sid, label }));
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.supervisor.stop();
  }
}

/** Lists the tokens the module shows (also uninitialised slots); loads the module if needed. */
export async function listTokens(module: string, softhsmConf: string | null = null): Promise<TokenSummary[]> {
  await loadModule(module, softhsmConf);
  return callThread<TokenSummary[]>({ op: 'tokens' }, 'listing tokens');
}

/** Creates and initialises a token in the first free slot (SoftHSM2, development). */
export async function initToken(
  module: string,
  softhsmConf: string | null,
  label: string,
  soPin: string,
  userPin: string,
): Promise<TokenSummary> {
  await listTokens(module, softhsmConf);
  return callThread<TokenSummary>({ op: 'initToken', label, soPin, userPin }, `initialising token ${label}`);
}
