// The client side of the PKCS#11 worker thread: one thread per process, started on first use, that
// loads and initialises the module once (SOFTHSM2_CONF is read at C_Initialize). Calls are matched to
// answers by id; if the thread dies, every call in flight fails as a lost session.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import { KioskError, type ErrorCode } from '../base/errors.js';
import type {
  LibraryInfo,
  WorkerCall,
  WorkerFailure,
  WorkerReply,
  WorkerRequest,
} from './pkcs11-protocol.js';

/**
 * The worker's compiled entry. The product runs from dist/, where it sits next to this file; the
 * TypeScript sources (under vitest) start the build's copy, since a worker thread does not go through
 * the test runner's loader: `npm test` builds first.
 */
export function workerEntry(): string {
  const fromSources = import.meta.url.endsWith('.ts');
  const entry = fileURLToPath(
    new URL(fromSources ? '../dist/hsm/pkcs11-worker.js' : './pkcs11-worker.js', import.meta.url),
  );
  if (!existsSync(entry))
    throw new KioskError(
      'HSM_UNAVAILABLE',
      fromSources
        ? `the PKCS#11 worker is not built (${entry}): run npm run build`
        : `the PKCS#11 worker ${entry} is missing`,
    );
  return entry;
}

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
    this.worker = new Worker(workerEntry(), { env: SHARE_ENV });
    // The HSM thread must not keep a finished CLI command alive.
    this.worker.unref();
    this.worker.on('message', (msg: WorkerReply) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(msg.error);
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
      const message: WorkerCall = { id, req };
      this.worker.postMessage(message);
    }).finally(() => {
      if (this.pending.size === 0) this.worker.unref();
    });
  }
}

let thread: Pkcs11Thread | undefined;
let loaded: { module: string; softhsmConf: string | null } | undefined;

export function pkcs11Thread(): Pkcs11Thread {
  thread ??= new Pkcs11Thread();
  return thread;
}

/** Whether this process's thread has loaded a module (a rescan needs one). */
export function moduleLoaded(): boolean {
  return loaded !== undefined;
}

/** A worker's answer (or a dead thread) as a typed error. */
export function toKiosk(f: WorkerFailure | Error, what: string): KioskError {
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

/** Loads and initialises the module once per process (SOFTHSM2_CONF is read at C_Initialize). */
export async function loadModule(module: string, conf: string | null): Promise<LibraryInfo> {
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

/** One call on the thread, its failure typed. */
export function callThread<T>(req: WorkerRequest, what: string): Promise<T> {
  return pkcs11Thread()
    .call<T>(req)
    .catch((error: WorkerFailure | Error) => {
      throw toKiosk(error, what);
    });
}
