// One small adapter per part, from the status each part reports today to the one `Health` shape that
// the device set and the status view read. Parts that grow their own `health()` replace their adapter.
import type { ErrorPayload } from '../../../base/errors.js';
import type { Health, SupervisedState } from '../../../base/supervisor.js';
import type { HsmState } from '../../../hsm/client.js';
import type { DeviceStatus } from '../actuators/index.js';
import type { WatcherState } from '../card/reader-watcher.js';
import type { SyncStatus } from '../sync/index.js';

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

const hsmStates: Record<HsmState, SupervisedState> = {
  stopped: 'stopped',
  opening: 'starting',
  ready: 'ready',
  unavailable: 'retrying',
};

/** The HSM token. `problem` is what the terminal saw go wrong on top of the token's own state. */
export function hsmHealth(state: HsmState, problem: ErrorPayload | null): Health {
  if (state === 'ready' && !problem) return health('hsm', 'ready', null);
  return health(
    'hsm',
    state === 'ready' ? 'failed' : hsmStates[state],
    problem ?? { code: 'HSM_UNAVAILABLE', message: 'HSM not ready' },
  );
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

/** The sync loop: running during a round, retrying after a failed one. */
export function syncHealth(status: SyncStatus): Health {
  if (status.lastError) return health('sync', 'retrying', status.lastError);
  return health('sync', status.running ? 'running' : 'ready', null);
}

/** Every part's health, by name; null where the part is not configured. */
export interface DeviceHealth {
  stores: Health;
  reader: Health;
  hsm: Health | null;
  /** PIN-less authentication (authMode terminal). */
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
