// The terminal's HSM: a supervised PKCS#11 session behind an async API. Every C_* call runs in one
// worker thread (pkcs11-worker.ts) so the UI's event loop never waits on the token. The module is
// loaded and initialised once per process; the session is long-lived and reopened when the token
// drops it; "HSM unavailable" is a state with a retry timer, not a crash.
//
// Generic signer API used by other components (journal seals, hub request signatures):
//   hsm.sign(keyLabel, bytes)      → ECDSA P-256 / SHA-256 signature, DER (node:crypto's default)
//   hsm.publicKey(keyLabel)        → { pem, spki } (SubjectPublicKeyInfo)
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import type TypeScript from 'typescript';
import { KioskError, type ErrorCode } from '../base/errors.js';
import { getLogger } from '../base/log.js';
import { P256_SPKI_PREFIX } from './cvc.js';
import type {
  ExtractionAttempt,
  KeyInfo,
  KeyKind,
  TokenSummary,
  WorkerFailure,
  WorkerRequest,
} from './pkcs11-worker.js';

export type { ExtractionAttempt, KeyInfo, KeyKind, TokenSummary } from './pkcs11-worker.js';

const log = getLogger('hsm');

// ---------------------------------------------------------------------------------------------
// The worker: one per process, started on first use.

interface Pending {
  resolve: (value: unknown) => void;
  reject: (error: WorkerFailure) => void;
}

class Pkcs11Thread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  dead: Error | null = null;

  constructor() {
    const compiled = fileURLToPath(new URL('./pkcs11-worker.js', import.meta.url));
    const base = import.meta.url;
    if (existsSync(compiled)) {
      this.worker = new Worker(compiled, { workerData: { base }, env: SHARE_ENV });
    } else {
      // Running from TypeScript sources (vitest): transpile the self-contained worker file.
      const source = fileURLToPath(new URL('./pkcs11-worker.ts', import.meta.url));
      const ts = createRequire(import.meta.url)('typescript') as typeof TypeScript;
      const js = ts.transpileModule(readFileSync(source, 'utf8'), {
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
      }).outputText;
      this.worker = new Worker(js, { eval: true, workerData: { base }, env: SHARE_ENV });
    }
    // The HSM thread must not keep a finished CLI command alive.
    this.worker.unref();
    this.worker.on('message', (msg: { id: number; ok: boolean; result?: unknown; error?: WorkerFailure }) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(msg.error!);
    });
    const fail = (error: Error) => {
      this.dead = error;
      for (const p of this.pending.values())
        p.reject({
          ckr: null,
          rv: null,
          message: `PKCS#11 thread stopped: ${error.message}`,
          sessionLost: true,
          pinProblem: false,
          notFound: null,
        });
      this.pending.clear();
      if (thread === this) {
        thread = undefined;
        loaded = undefined; // a new thread must load and initialise the module again
      }
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
  }

  call<T>(req: WorkerRequest): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      // Keep the process alive while a call is outstanding (the worker itself is unref'd).
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ id, req });
    }).finally(() => {
      if (this.pending.size === 0) this.worker.unref();
    });
  }
}

let thread: Pkcs11Thread | undefined;
let loaded: { module: string; softhsmConf: string | null } | undefined;

function pkcs11Thread(): Pkcs11Thread {
  thread ??= new Pkcs11Thread();
  return thread;
}

type LibraryInfo = { manufacturer: string; library: string; version: string };

/** Loads and initialises the module once per process (SOFTHSM2_CONF is read at C_Initialize). */
async function loadModule(module: string, conf: string | null): Promise<LibraryInfo> {
  if (loaded && (loaded.module !== module || (conf !== null && loaded.softhsmConf !== conf))) {
    throw new KioskError(
      'HSM_FAILED',
      `this process already uses ${loaded.module}${loaded.softhsmConf ? ` with ${loaded.softhsmConf}` : ''}; one PKCS#11 configuration per process`,
    );
  }
  if (!loaded) {
    if (conf !== null) {
      if (!existsSync(conf))
        throw new KioskError('HSM_UNAVAILABLE', `SoftHSM2 configuration ${conf} does not exist`);
      process.env.SOFTHSM2_CONF = conf;
    }
    if (!existsSync(module))
      throw new KioskError('HSM_UNAVAILABLE', `PKCS#11 module ${module} does not exist`);
  }
  try {
    const info = await pkcs11Thread().call<LibraryInfo>({ op: 'init', module });
    loaded = { module, softhsmConf: conf };
    return info;
  } catch (error) {
    throw toKiosk(error as WorkerFailure, `loading ${module}`);
  }
}

// ---------------------------------------------------------------------------------------------

export interface HsmOptions {
  module: string;
  tokenLabel: string | null;
  tokenSerial: string | null;
  /** Read only when a session is (re)opened; never stored or logged. */
  pin: () => string;
  /** SoftHSM2 configuration; applies to the whole process and must be set before the first load. */
  softhsmConf?: string | null;
  /** Retry delays while unavailable (ms); the last one repeats. */
  retryDelaysMs?: number[];
}

export type HsmState = 'stopped' | 'opening' | 'ready' | 'unavailable';

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

function toKiosk(f: WorkerFailure | Error, what: string): KioskError {
  if (f instanceof KioskError) return f;
  if (f instanceof Error) return new KioskError('HSM_UNAVAILABLE', `${what}: ${f.message}`);
  let code: ErrorCode = 'HSM_FAILED';
  if (f.pinProblem) code = 'HSM_LOGIN_FAILED';
  else if (f.notFound === 'token') code = 'HSM_TOKEN_NOT_FOUND';
  else if (f.notFound === 'key') code = 'HSM_KEY_NOT_FOUND';
  else if (f.sessionLost) code = 'HSM_UNAVAILABLE';
  return new KioskError(code, `${what}: ${f.ckr ? `${f.ckr} ` : ''}${f.message}`.trim(), {
    ckr: f.ckr,
  });
}

export class Hsm extends EventEmitter<{ state: [HsmState] }> {
  private sid: number | null = null;
  private opening: Promise<void> | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryIndex = 0;
  private closed = false;
  private pinRefused = false;
  private _state: HsmState = 'stopped';
  private library: HsmStatus['library'] = null;
  private token: TokenSummary | null = null;
  private lastError: KioskError | null = null;

  constructor(readonly options: HsmOptions) {
    super();
  }

  get state(): HsmState {
    return this._state;
  }

  private setState(next: HsmState): void {
    if (next === this._state) return;
    this._state = next;
    log.info({ state: next, code: this.lastError?.code }, 'hsm state');
    this.emit('state', next);
  }

  /** Opens the session; on failure the HSM is 'unavailable' and retried in the background. */
  async start(): Promise<HsmState> {
    this.closed = false;
    this.pinRefused = false;
    try {
      await this.ensureOpen();
    } catch {
      // state and lastError say why; the retry timer is running
    }
    return this._state;
  }

  status(): HsmStatus {
    return {
      state: this._state,
      module: this.options.module,
      library: this.library,
      token: this.token,
      error: this.lastError ? this.lastError.toPayload() : null,
    };
  }

  private ensureOpen(): Promise<void> {
    if (this.sid !== null && this._state === 'ready') return Promise.resolve();
    // A refused PIN is not retried: every try would count against the token's PIN counter and could
    // lock it. It stays 'unavailable' until someone fixes the PIN and calls start() again.
    if (this.pinRefused && this.lastError) return Promise.reject(this.lastError);
    this.opening ??= (async () => {
      this.setState('opening');
      try {
        this.library = await loadModule(this.options.module, this.options.softhsmConf ?? null);
        let pin: string;
        try {
          pin = this.options.pin();
        } catch (error) {
          throw error instanceof KioskError ? error : toKiosk(error as Error, 'reading the HSM user PIN');
        }
        const opened = await pkcs11Thread()
          .call<{ sid: number; token: TokenSummary }>({
            op: 'open',
            tokenLabel: this.options.tokenLabel,
            tokenSerial: this.options.tokenSerial,
            pin,
          })
          .catch((error: WorkerFailure) => {
            throw toKiosk(error, 'opening the HSM session');
          });
        this.sid = opened.sid;
        this.token = opened.token;
        this.lastError = null;
        this.retryIndex = 0;
        this.setState('ready');
      } catch (error) {
        this.lastError = error instanceof KioskError ? error : toKiosk(error as Error, 'opening the HSM');
        this.sid = null;
        this.token = null;
        this.pinRefused = this.lastError.code === 'HSM_LOGIN_FAILED';
        this.setState('unavailable');
        if (!this.pinRefused) this.scheduleRetry();
        throw this.lastError;
      } finally {
        this.opening = null;
      }
    })();
    return this.opening;
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    const delays = this.options.retryDelaysMs ?? [1000, 2000, 5000, 10_000, 30_000];
    const delay = delays[Math.min(this.retryIndex++, delays.length - 1)]!;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      // A token that vanished may only be seen again after the module rescans its slots.
      const rescan =
        this.lastError?.code === 'HSM_TOKEN_NOT_FOUND' || this.lastError?.code === 'HSM_UNAVAILABLE';
      const again =
        rescan && loaded
          ? pkcs11Thread()
              .call({ op: 'reinit' })
              .catch(() => undefined)
          : null;
      void Promise.resolve(again)
        .then(() => this.ensureOpen())
        .catch(() => undefined);
    }, delay);
    this.retryTimer.unref();
  }

  /** Runs one session operation; if the token lost the session, reopens once and retries. */
  private async withSession<T>(what: string, build: (sid: number) => WorkerRequest): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      if (this.closed) throw new KioskError('HSM_UNAVAILABLE', 'the HSM client is closed');
      await this.ensureOpen();
      const sid = this.sid!;
      try {
        return await pkcs11Thread().call<T>(build(sid));
      } catch (error) {
        const failure = error instanceof Error ? null : (error as WorkerFailure);
        if (failure && !failure.sessionLost) throw toKiosk(failure, what);
        log.warn({ op: what, ckr: failure?.ckr ?? null }, 'hsm session lost; reopening');
        this.sid = null;
        this.setState('unavailable');
        void pkcs11Thread()
          .call({ op: 'close', sid })
          .catch(() => undefined);
        if (attempt >= 1) {
          this.lastError = toKiosk(failure ?? (error as Error), what);
          this.scheduleRetry();
          throw this.lastError;
        }
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

  /** Diagnostics/test hook: the token closes all sessions, as when it is pulled out. */
  async simulateSessionLoss(): Promise<void> {
    await this.withSession('dropping sessions', (sid) => ({ op: 'dropSessions', sid }));
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const sid = this.sid;
    this.sid = null;
    if (sid !== null)
      await pkcs11Thread()
        .call({ op: 'close', sid })
        .catch(() => undefined);
    this.setState('stopped');
  }
}

/** Lists the tokens the module shows (also uninitialised slots); loads the module if needed. */
export async function listTokens(module: string, softhsmConf: string | null = null): Promise<TokenSummary[]> {
  await loadModule(module, softhsmConf);
  return pkcs11Thread()
    .call<TokenSummary[]>({ op: 'tokens' })
    .catch((error: WorkerFailure) => {
      throw toKiosk(error, 'listing tokens');
    });
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
  return pkcs11Thread()
    .call<TokenSummary>({ op: 'initToken', label, soPin, userPin })
    .catch((error: WorkerFailure) => {
      throw toKiosk(error, `initialising token ${label}`);
    });
}
