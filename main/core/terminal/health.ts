// The one `Health` shape the device set and the status view read. Supervised parts (HSM, sync) report
// their own; the adapters here add what only the terminal knows (which reader it uses, what the PIN-less
// key needs, which HID states stop a lane) or cover parts that are not supervised (stores, clock).
import type { ErrorPayload } from '../../../base/errors.js';
import type { Health, SupervisedState } from '../../../base/supervisor.js';
import type { DeviceStatus } from '../actuators/index.js';
import type { WatcherState } from '../card/reader-watcher.js';

function health(
  name: string,
  state: SupervisedState,
  error: ErrorPayload | null,
  extra: Partial<Health> = {},
): Health {
  return { name, state, error, failures: 0, retryAt: null, since: null, ...extra };
}

/** The stores open at start or not at all (a broken store needs an operator). */
export function storesHealth(error: ErrorPayload | null): Health {
  return health('stores', error ? 'failed' : 'ready', error);
}

/** What the reader part is: the PC/SC service, and whether a usable reader is connected. */
export interface ReaderSnapshot {
  watcher: WatcherState;
  error: ErrorPayload | null;
  /** Readers that match card.reader. */
  readers: { name: string; cardPresent: boolean }[];
}

export function readerHealth(reader: ReaderSnapshot): Health {
  if (reader.watcher !== 'ready') {
    const fallback = reader.watcher === 'stopped' ? 'PC/SC is unavailable' : `PC/SC ${reader.watcher}`;
    return health(
      'reader',
      reader.watcher === 'stopped' ? 'stopped' : 'retrying',
      reader.error ?? { code: 'PCSC_UNAVAILABLE', message: fallback },
    );
  }
  if (reader.readers.length === 0)
    return health('reader', 'retrying', { code: 'READER_NOT_FOUND', message: 'no card reader is connected' });
  return health('reader', 'ready', null);
}

/** The HSM token as it supervises itself, with what the terminal saw go wrong on top of it. */
export function hsmHealth(token: Health, problem: ErrorPayload | null): Health {
  if (!problem) return token;
  const working = token.state === 'ready' || token.state === 'running';
  return { ...token, state: working ? 'failed' : token.state, error: problem };
}

/** PIN-less terminal authentication: the HSM and the institution's key and certificate on it. */
export function authenticatorHealth(hsm: Health, ready: boolean): Health {
  if (hsm.state !== 'ready') return { ...hsm, name: 'authenticator' };
  return ready
    ? health('authenticator', 'ready', null)
    : health('authenticator', 'starting', { code: 'HSM_UNAVAILABLE', message: 'HSM not ready' });
}

/** The clock guard: a clock behind the build or the hub makes every time check meaningless. */
export function clockHealth(fault: ErrorPayload | null): Health {
  return health('clock', fault ? 'failed' : 'ready', fault);
}

/**
 * A HID device (gate relay, signal tower). Only a lost device (missing, failed) is a fault: one that is
 * still being searched for, or stopped on purpose, does not stop the lane.
 */
export function deviceHealth(device: DeviceStatus): Health {
  if (device.state === 'missing' || device.state === 'failed')
    return health(
      device.role,
      device.state === 'missing' ? 'retrying' : 'failed',
      { code: 'HID_UNAVAILABLE', message: `${device.role} device ${device.state}` },
      { failures: device.attempts },
    );
  return health(device.role, 'ready', null);
}

/** Every part's health, by name; null where the part is not configured. */
export interface DeviceHealth {
  stores: Health;
  reader: Health;
  hsm: Health | null;
  /** PIN-less authentication (authMode terminal; 'auto' decides without it, by PIN or staff check). */
  authenticator: Health | null;
  clock: Health;
  gate: Health | null;
  signal: Health | null;
  sync: Health | null;
}

/**
 * The parts without which the terminal cannot decide, in the order their fault is reported: stores,
 * reader, PIN-less authentication (terminal mode), the clock guard, the gate (when configured).
 */
export function requiredParts(health: DeviceHealth): Health[] {
  return [health.stores, health.reader, health.authenticator, health.clock, health.gate].filter(
    (h): h is Health => h !== null,
  );
}
