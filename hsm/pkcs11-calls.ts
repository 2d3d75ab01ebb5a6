// The PKCS#11 module, its tokens and its sessions, on the worker thread (pkcs11-worker.ts), so that no
// C_* call runs on the event loop that serves the UI. Key operations are in pkcs11-keys.ts.
import { createRequire } from 'node:module';
import type * as Pkcs11Types from 'pkcs11js';
import type { LibraryInfo, TokenSummary, WorkerFailure } from './pkcs11-protocol.js';

type Pkcs11Module = typeof Pkcs11Types;
export const pk = createRequire(import.meta.url)('pkcs11js') as Pkcs11Module;

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

export class Failure extends Error {
  constructor(
    message: string,
    readonly notFound: 'token' | 'key' | null = null,
  ) {
    super(message);
  }
}

let lib: Pkcs11Types.PKCS11 | null = null;
let modulePath: string | null = null;

export interface KeyHandles {
  priv: Buffer;
  pub: Buffer | null;
  /** Learned on first signature. */
  ec?: boolean;
}

export interface Session {
  slot: Buffer;
  handle: Buffer;
  keys: Map<string, KeyHandles>;
}
const sessions = new Map<number, Session>();
let nextSid = 1;

/** Loads the module once per thread and initialises it. */
export function load(module: string): LibraryInfo {
  if (lib && modulePath !== module)
    throw new Failure(`this process already loaded ${modulePath}; one PKCS#11 module per process`);
  if (!lib) {
    const candidate = new pk.PKCS11();
    candidate.load(module);
    lib = candidate;
    modulePath = module;
  }
  initialize();
  const info = lib.C_GetInfo();
  return {
    manufacturer: text(info.manufacturerID),
    library: text(info.libraryDescription),
    version: `${info.libraryVersion.major}.${info.libraryVersion.minor}`,
  };
}

/**
 * The last resort after a token vanished: some modules only rescan their slots at C_Initialize. Not
 * while another client of this process still has a working session: C_Finalize would end it.
 */
export function reinit(): boolean {
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

/** Closes one session; a session that went with its token is simply forgotten. */
export function close(sid: number): void {
  const s = sessions.get(sid);
  sessions.delete(sid);
  if (!s) return;
  try {
    requireLib().C_CloseSession(s.handle);
  } catch {
    // already gone with the token
  }
}

export function ckrOf(error: unknown): string | null {
  const rv = (error as { code?: unknown }).code;
  return typeof rv === 'number' ? (ckrNames.get(rv) ?? `CKR_0x${rv.toString(16)}`) : null;
}

export function initialize(): void {
  if (!lib) throw new Failure('PKCS#11 module not loaded');
  try {
    lib.C_Initialize();
  } catch (error) {
    // Another part of this process (or a previous worker) initialised it: that is fine.
    if (ckrOf(error) !== 'CKR_CRYPTOKI_ALREADY_INITIALIZED') throw error;
  }
}

export function requireLib(): Pkcs11Types.PKCS11 {
  if (!lib) throw new Failure('PKCS#11 module not loaded');
  return lib;
}

function text(field: string): string {
  return field.replace(/[\s\0]+$/, '');
}

export function tokens(): TokenSummary[] {
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

export function open(
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

export function session(sid: number): Session {
  const s = sessions.get(sid);
  if (!s) throw Object.assign(new Failure('session closed'), { code: pk.CKR_SESSION_HANDLE_INVALID });
  return s;
}

export function initToken(label: string, soPin: string, userPin: string): TokenSummary {
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

/** A thrown PKCS#11 error (or our own Failure) as the answer the client maps to a typed error. */
export function failure(error: unknown): WorkerFailure {
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
