// Supervision: matching by id/serial/path, backoff while missing, hot-plug found by polling, unplug seen
// without any I/O, a wrong board rejected visibly — and the real node-hid backend on this machine.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isKioskError } from '../../base/errors.js';
import { NodeHidBackend } from '../../main/core/actuators/node-hid-backend.js';
import { SupervisedDevice, type DeviceStatus } from '../../main/core/actuators/supervisor.js';
import { signalTowerProfile } from '../../main/core/actuators/signal-tower.js';
import {
  usbRelayProfile,
  USBRELAY_PRODUCT_ID,
  USBRELAY_VENDOR_ID,
} from '../../main/core/actuators/usbrelay.js';
import { SoftwareHidBus, SoftwareSignalTower, SoftwareUsbRelay } from '../../sim/hid/index.js';
import { fastSupervision, reachState } from './helpers.js';

const relayMatch = { vendorId: USBRELAY_VENDOR_ID, productId: USBRELAY_PRODUCT_ID, serial: null, path: null };
const devices: Array<SupervisedDevice<unknown>> = [];

function supervise<S>(d: SupervisedDevice<S>): SupervisedDevice<S> {
  devices.push(d as SupervisedDevice<unknown>);
  d.start();
  return d;
}

afterEach(async () => {
  for (const d of devices.splice(0)) await d.stop();
  vi.useRealTimers();
});

describe('finding the device', () => {
  it('picks the relay board whose firmware serial is configured (the USB serial is empty on these boards)', async () => {
    vi.useFakeTimers();
    const bus = new SoftwareHidBus();
    bus.plug(new SoftwareUsbRelay({ path: 'sw:a', serial: 'AAAAA' }));
    bus.plug(new SoftwareUsbRelay({ path: 'sw:b', serial: 'BBBBB' }));
    const d = supervise(
      new SupervisedDevice(
        'gate',
        bus,
        { ...relayMatch, serial: 'BBBBB' },
        usbRelayProfile([1]),
        fastSupervision,
      ),
    );
    await reachState(d, 'connected');
    expect(d.status.device?.path).toBe('sw:b');
    expect(d.session?.serial).toBe('BBBBB');
    expect(bus.isOpen('sw:a')).toBe(false); // the rejected candidate was closed again
  });

  it('matches by path, and by USB serial string for the tower', async () => {
    vi.useFakeTimers();
    const bus = new SoftwareHidBus();
    bus.plug(new SoftwareSignalTower({ path: 'sw:t1', serial: 'T-1' }));
    bus.plug(new SoftwareSignalTower({ path: 'sw:t2', serial: 'T-2' }));
    const bySerial = supervise(
      new SupervisedDevice(
        's1',
        bus,
        { vendorId: null, productId: null, serial: 'T-2', path: null },
        signalTowerProfile(),
        fastSupervision,
      ),
    );
    await reachState(bySerial, 'connected');
    expect(bySerial.status.device?.path).toBe('sw:t2');
    const byPath = supervise(
      new SupervisedDevice(
        's2',
        bus,
        { vendorId: null, productId: null, serial: null, path: 'sw:t1' },
        signalTowerProfile(),
        fastSupervision,
      ),
    );
    await reachState(byPath, 'connected');
    expect(byPath.status.device?.path).toBe('sw:t1');
  });

  it('a channel the board does not have is a visible failed state, not a crash', async () => {
    vi.useFakeTimers();
    const bus = new SoftwareHidBus();
    bus.plug(new SoftwareUsbRelay({ channels: 2 }));
    const d = supervise(new SupervisedDevice('gate', bus, relayMatch, usbRelayProfile([4]), fastSupervision));
    await reachState(d, 'failed');
    expect(d.status.lastError?.code).toBe('CONFIG_INVALID');
    await expect(d.run(async () => 1)).rejects.toSatisfy((e) => isKioskError(e, 'HID_UNAVAILABLE'));
  });
});

describe('missing, backoff, hot-plug', () => {
  it('retries a missing device with growing, capped backoff and connects when it is plugged', async () => {
    vi.useFakeTimers();
    const bus = new SoftwareHidBus();
    const seen: DeviceStatus[] = [];
    const d = new SupervisedDevice('gate', bus, relayMatch, usbRelayProfile([1]), fastSupervision);
    d.on('status', (s) => seen.push(s));
    supervise(d);
    await vi.advanceTimersByTimeAsync(2000);
    const waits = seen.filter((s) => s.state === 'missing').map((s) => s.retryInMs);
    // The first wait is the base, then it doubles up to the cap (base/supervisor.ts's backoff).
    expect(waits.slice(0, 5)).toEqual([50, 100, 200, 400, 400]);
    expect(d.status).toMatchObject({ state: 'missing', lastError: { code: 'HID_UNAVAILABLE' } });
    bus.plug(new SoftwareUsbRelay());
    await vi.advanceTimersByTimeAsync(400);
    expect(d.status).toMatchObject({ state: 'connected', attempts: 0, lastError: null });
  });

  it('retryNow (staff) skips the remaining backoff', async () => {
    vi.useFakeTimers();
    const bus = new SoftwareHidBus();
    const d = supervise(
      new SupervisedDevice('gate', bus, relayMatch, usbRelayProfile([1]), {
        retryMinMs: 5000,
        retryMaxMs: 60_000,
        random: () => 1,
      }),
    );
    await reachState(d, 'missing');
    bus.plug(new SoftwareUsbRelay());
    await vi.advanceTimersByTimeAsync(100);
    expect(d.status.state).toBe('missing');
    d.retryNow();
    await vi.advanceTimersByTimeAsync(1);
    expect(d.status.state).toBe('connected');
  });

  it('notices an unplugged board that sends no input reports by polling enumeration', async () => {
    vi.useFakeTimers();
    const bus = new SoftwareHidBus();
    const board = new SoftwareUsbRelay();
    bus.plug(board);
    const d = supervise(new SupervisedDevice('gate', bus, relayMatch, usbRelayProfile([1]), fastSupervision));
    await reachState(d, 'connected');
    // Remove the board from enumeration without telling the open handle (what a hidraw node can do).
    (bus as unknown as { plugged: Map<string, unknown> }).plugged.delete(board.info.path);
    await vi.advanceTimersByTimeAsync(fastSupervision.presencePollMs + 10);
    expect(d.status.state).toBe('missing');
    expect(bus.isOpen(board.info.path)).toBe(false);
  });

  it('an operation failing on a vanished device drops the connection and reports HID_FAILED', async () => {
    vi.useFakeTimers();
    const bus = new SoftwareHidBus();
    bus.plug(new SoftwareUsbRelay());
    const d = supervise(new SupervisedDevice('gate', bus, relayMatch, usbRelayProfile([1]), fastSupervision));
    await reachState(d, 'connected');
    await expect(d.run(async () => Promise.reject(new Error('EPIPE')))).rejects.toSatisfy((e) =>
      isKioskError(e, 'HID_FAILED'),
    );
    expect(d.status.state).toBe('failed');
    await reachState(d, 'connected');
  });
});

describe('health and jitter', () => {
  it('reports health as a supervised part and spreads retries with full jitter', async () => {
    vi.useFakeTimers();
    const bus = new SoftwareHidBus();
    const d = new SupervisedDevice('gate', bus, relayMatch, usbRelayProfile([1]), {
      retryMinMs: 1_000,
      retryMaxMs: 8_000,
      presencePollMs: 100,
      random: () => 0.25,
    });
    const waits: (number | null)[] = [];
    d.on('status', (s) => {
      if (s.state === 'missing') waits.push(s.retryInMs);
    });
    supervise(d);
    await vi.advanceTimersByTimeAsync(0);
    expect(d.health()).toMatchObject({
      name: 'gate',
      state: 'retrying',
      failures: 1,
      error: { code: 'HID_UNAVAILABLE' },
    });
    await vi.advanceTimersByTimeAsync(250);
    expect(d.health().failures).toBe(2);
    // A quarter of the ceiling each time: 1 000 then 2 000 ms.
    expect(waits).toEqual([250, 500]);
    bus.plug(new SoftwareUsbRelay());
    d.retryNow();
    await reachState(d, 'connected');
    expect(d.health()).toMatchObject({ state: 'ready', failures: 0, error: null });
  });

  it('shows running while an operation is under way, connected in its status all along', async () => {
    vi.useFakeTimers();
    const bus = new SoftwareHidBus();
    bus.plug(new SoftwareUsbRelay());
    const d = supervise(new SupervisedDevice('gate', bus, relayMatch, usbRelayProfile([1]), fastSupervision));
    await reachState(d, 'connected');
    const seen: string[] = [];
    d.on('status', (s) => seen.push(s.state));
    let during: string | null = null;
    await d.run(async () => {
      during = d.health().state;
    });
    expect(during).toBe('running');
    expect(d.health().state).toBe('ready');
    expect(seen).toEqual([]);
  });
});

describe('hostile or hung devices', () => {
  it('a device that stops answering is a fault after operationTimeoutMs, and is reattached when it recovers', async () => {
    vi.useFakeTimers();
    const bus = new SoftwareHidBus();
    const board = new SoftwareUsbRelay();
    bus.plug(board);
    const d = supervise(
      new SupervisedDevice('gate', bus, relayMatch, usbRelayProfile([1]), {
        ...fastSupervision,
        operationTimeoutMs: 300,
      }),
    );
    await reachState(d, 'connected');
    board.stalled = true;
    let caught: unknown;
    const op = d.run((h) => h.sendFeatureReport(Uint8Array.of(0, 0xff, 1))).catch((e) => (caught = e));
    await vi.advanceTimersByTimeAsync(300);
    await op;
    expect(isKioskError(caught, 'HID_FAILED')).toBe(true);
    expect(d.status.state).toBe('failed');
    // Still hung: opening and attaching time out too, and the state stays visible, not stuck.
    await vi.advanceTimersByTimeAsync(1500);
    expect(['failed', 'searching']).toContain(d.status.state);
    expect(d.status.lastError?.code).toBe('HID_FAILED');
    board.stalled = false;
    await reachState(d, 'connected');
  });

  it('a refused request (not a device fault) leaves the device connected', async () => {
    vi.useFakeTimers();
    const bus = new SoftwareHidBus();
    bus.plug(new SoftwareUsbRelay());
    const d = supervise(new SupervisedDevice('gate', bus, relayMatch, usbRelayProfile([1]), fastSupervision));
    await reachState(d, 'connected');
    const { relayReport } = await import('../../main/core/actuators/usbrelay.js');
    await expect(d.run((h) => h.sendFeatureReport(relayReport('close', 9)))).rejects.toSatisfy((e) =>
      isKioskError(e, 'INVALID_REQUEST'),
    );
    expect(d.status.state).toBe('connected');
  });

  it('a board answering a garbled state report is rejected with HID_FAILED and retried, never adopted', async () => {
    vi.useFakeTimers();
    const bus = new SoftwareHidBus();
    const board = new SoftwareUsbRelay();
    board.onGetFeatureReport = () => Uint8Array.of(0, 1, 2);
    bus.plug(board);
    const d = supervise(new SupervisedDevice('gate', bus, relayMatch, usbRelayProfile([1]), fastSupervision));
    await reachState(d, 'failed');
    expect(d.status.lastError?.code).toBe('HID_FAILED');
    expect(bus.isOpen(board.info.path)).toBe(false);
  });
});

describe('node-hid backend (real, on this machine)', () => {
  it('enumerates through devicesAsync and refuses a path that does not exist with HID_UNAVAILABLE', async () => {
    const backend = new NodeHidBackend();
    const list = await backend.enumerate();
    expect(Array.isArray(list)).toBe(true);
    for (const info of list) expect(typeof info.path).toBe('string');
    await expect(backend.open('/dev/hidraw-does-not-exist')).rejects.toSatisfy((e) =>
      isKioskError(e, 'HID_UNAVAILABLE'),
    );
  });

  it('a configured board that is not attached is the visible state "missing"', async () => {
    const d = supervise(
      new SupervisedDevice(
        'gate',
        new NodeHidBackend(),
        { ...relayMatch, serial: 'NONE0' },
        usbRelayProfile([1]),
        {
          retryMinMs: 20,
          retryMaxMs: 40,
        },
      ),
    );
    await reachState(d, 'missing');
    expect(d.status.lastError?.code).toBe('HID_UNAVAILABLE');
    expect(d.connected).toBe(false);
  });
});
