// The status view is a pure function of the parts' health: the out-of-service reason is the first
// required part that does not work, and sync shows `running` during a round.
import { describe, expect, it } from 'vitest';
import type { Health } from '../../base/supervisor.js';
import type { SyncStatus } from '../../main/core/sync/index.js';
import type { DeviceHealth } from '../../main/core/terminal/health.js';
import { statusView, type StatusSnapshot } from '../../main/core/terminal/status-view.js';
import { configFor } from './helpers.js';

const ok = (name: string): Health => ({
  name,
  state: 'ready',
  error: null,
  failures: 0,
  retryAt: null,
  since: null,
});
const down = (name: string, code: 'HSM_UNAVAILABLE' | 'HID_UNAVAILABLE' | 'CLOCK_FAULT'): Health => ({
  ...ok(name),
  state: 'retrying',
  error: { code, message: name },
});

function snapshot(health: Partial<DeviceHealth>, extra: Partial<StatusSnapshot> = {}): StatusSnapshot {
  const config = configFor();
  return {
    config,
    site: { kind: 'stadium-gate', gateId: 'gate-a', zone: 'main', direction: 'entry' },
    health: {
      stores: ok('stores'),
      reader: ok('reader'),
      hsm: ok('hsm'),
      authenticator: ok('authenticator'),
      clock: ok('clock'),
      gate: null,
      signal: null,
      sync: null,
      ...health,
    },
    reader: { watcher: 'ready', error: null, readers: [{ name: 'Virtual PCD 00 00', cardPresent: false }] },
    busy: false,
    freshness: null,
    now: Date.now(),
    journalPending: 0,
    sync: null,
    actuators: null,
    counters: { admitted: 0, refused: 0 },
    inside: null,
    staffUntil: null,
    volume: 0.8,
    ...extra,
  };
}

const syncStatus = (patch: Partial<SyncStatus>): SyncStatus => ({
  running: false,
  online: true,
  feeds: {},
  push: { lastSuccessAt: null, lastAttemptAt: null, lastError: null, failures: 0, queueLength: 0 },
  dataAgeSeconds: null,
  clockSkewMs: null,
  clockFault: false,
  lastError: null,
  alarm: null,
  outOfService: null,
  hub: null,
  ...patch,
});

describe('status view', () => {
  it('is out of service with the code when the hub operator disabled the terminal', () => {
    const order = { code: 'TERMINAL_DISABLED' as const, message: 'disabled by the hub operator: stolen' };
    expect(statusView(snapshot({}, { sync: syncStatus({ outOfService: order }) })).outOfService).toEqual(
      order,
    );
    expect(statusView(snapshot({}, { sync: syncStatus({}) })).outOfService).toBeNull();
  });

  it('is in service when every required part works', () => {
    expect(statusView(snapshot({})).outOfService).toBeNull();
  });

  it('reports the first required part that fails, in order: stores, reader, authenticator, clock, gate', () => {
    const s = statusView(
      snapshot({
        authenticator: down('authenticator', 'HSM_UNAVAILABLE'),
        gate: down('gate', 'HID_UNAVAILABLE'),
      }),
    );
    expect(s.outOfService?.code).toBe('HSM_UNAVAILABLE');
    expect(statusView(snapshot({ gate: down('gate', 'HID_UNAVAILABLE') })).outOfService?.code).toBe(
      'HID_UNAVAILABLE',
    );
    expect(statusView(snapshot({ clock: down('clock', 'CLOCK_FAULT') })).outOfService?.code).toBe(
      'CLOCK_FAULT',
    );
  });

  it('a part that is not required (signal tower, sync) never takes the terminal out of service', () => {
    const s = statusView(
      snapshot({ signal: down('signal', 'HID_UNAVAILABLE'), sync: down('sync', 'HSM_UNAVAILABLE') }),
    );
    expect(s.outOfService).toBeNull();
    expect(s.sync.state).toBe('failed');
  });

  it('sync shows running during a round, idle between rounds, disabled when off', () => {
    const running = syncStatus({ running: true });
    expect(
      statusView(snapshot({ sync: { ...ok('sync'), state: 'running' } }, { sync: running })).sync.state,
    ).toBe('running');
    const idle = syncStatus({});
    expect(statusView(snapshot({ sync: ok('sync') }, { sync: idle })).sync.state).toBe('idle');
    expect(statusView(snapshot({})).sync.state).toBe('disabled');
  });

  it('sync v2: an answer refused as an attack shows as the sync alarm (staff screen), none otherwise', () => {
    const alarm = { code: 'SYNC_ROLLBACK' as const, message: 'old snapshot', at: '2026-12-04T18:00:00.000Z' };
    const view = statusView(snapshot({ sync: ok('sync') }, { sync: syncStatus({ alarm }) }));
    expect(view.sync.alarm).toEqual(alarm);
    expect(statusView(snapshot({ sync: ok('sync') }, { sync: syncStatus({}) })).sync.alarm).toBeNull();
  });

  it('names the hub that answered last, by origin, with its place in the fail-over order', () => {
    const hub = { url: 'https://hub.example:8443/jpki/', index: 1, of: 2, answeredAt: Date.UTC(2026, 11, 4) };
    const view = statusView(snapshot({ sync: ok('sync') }, { sync: syncStatus({ hub }) }));
    expect(view.sync.hub).toEqual({
      origin: 'https://hub.example:8443',
      index: 1,
      of: 2,
      answeredAt: '2026-12-04T00:00:00.000Z',
    });
    expect(statusView(snapshot({ sync: ok('sync') }, { sync: syncStatus({}) })).sync.hub).toBeNull();
  });

  it('shows staff mode open until its expiry', () => {
    const until = Date.UTC(2026, 11, 4, 12, 0, 0);
    expect(statusView(snapshot({}, { staffUntil: until })).staff).toEqual({
      unlocked: true,
      until: new Date(until).toISOString(),
    });
  });
});
