// Commit on passage, driven at the HID-report level against the software USBRelay board. Fake timers make
// pulse lengths and windows exact; the report bytes, the relay transitions and the journal are real.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isKioskError } from '../../base/errors.js';
import { GateController } from '../../main/core/actuators/gate-controller.js';
import type { GateOutcome, GateSettings } from '../../main/core/actuators/gate-outcomes.js';
import { SupervisedDevice } from '../../main/core/actuators/supervisor.js';
import {
  usbRelayProfile,
  USBRELAY_PRODUCT_ID,
  USBRELAY_VENDOR_ID,
  type RelaySession,
} from '../../main/core/actuators/usbrelay.js';
import { SoftwareHidBus, SoftwareUsbRelay } from '../../sim/hid/index.js';
import { fastSupervision, hex, MemoryRecorder, reachState } from './helpers.js';

const match = { vendorId: USBRELAY_VENDOR_ID, productId: USBRELAY_PRODUCT_ID, serial: null, path: null };

interface Rig {
  bus: SoftwareHidBus;
  board: SoftwareUsbRelay;
  device: SupervisedDevice<RelaySession>;
  gate: GateController;
  recorder: MemoryRecorder;
}

async function rig(settings: Partial<GateSettings> = {}, boardOptions = {}): Promise<Rig> {
  const bus = new SoftwareHidBus();
  const board = new SoftwareUsbRelay({ channels: 4, ...boardOptions });
  bus.plug(board);
  const full: GateSettings = {
    channel: 1,
    pulseMs: 800,
    passageInput: 1,
    passageTimeoutMs: 5000,
    ...settings,
  };
  const device = new SupervisedDevice('gate', bus, match, usbRelayProfile([full.channel]), fastSupervision);
  const recorder = new MemoryRecorder();
  const gate = new GateController(device, full, recorder);
  device.start();
  await reachState(device, 'connected');
  return { bus, board, device, gate, recorder };
}

let current: Rig | null = null;

beforeEach(() => {
  vi.useFakeTimers();
});

afterEach(async () => {
  if (current) {
    await current.gate.stop();
    await current.device.stop();
  }
  current = null;
  vi.useRealTimers();
});

describe('relay pulse', () => {
  it('closes the configured channel for exactly pulseMs, with the documented reports, other channels untouched', async () => {
    current = await rig({ channel: 3, pulseMs: 650, passageInput: null, passageTimeoutMs: 2000 });
    const { board, gate } = current;
    const t0 = Date.now();
    const outcome = gate.admit('grant-1');
    await vi.advanceTimersByTimeAsync(0);
    expect(board.isClosed(3)).toBe(true);
    expect(gate.status.relayClosed).toBe(true);
    await vi.advanceTimersByTimeAsync(2000);
    await outcome;
    expect(board.pulses(3)).toEqual([{ from: t0, to: t0 + 650 }]);
    for (const ch of [1, 2, 4]) expect(board.pulses(ch)).toEqual([]);
    // Attach read the state (no report), then exactly: close 3, open 3.
    expect(board.reports.map(hex)).toEqual(['00ff030000000000' + '00', '00fd030000000000' + '00']);
    expect(board.ignored).toEqual([]);
  });

  it('serialises two grants: the second pulse starts after the first ended', async () => {
    current = await rig({ pulseMs: 500, passageInput: null, passageTimeoutMs: 1000 });
    const { board, gate } = current;
    const t0 = Date.now();
    const a = gate.admit('a');
    const b = gate.admit('b');
    await vi.advanceTimersByTimeAsync(3000);
    await Promise.all([a, b]);
    expect(board.pulses(1)).toEqual([
      { from: t0, to: t0 + 500 },
      { from: t0 + 500, to: t0 + 1000 },
    ]);
  });

  it('opens any relay a previous process left closed when it attaches (fail-safe)', async () => {
    const bus = new SoftwareHidBus();
    const board = new SoftwareUsbRelay({ channels: 2 });
    board.onFeatureReport(Uint8Array.of(0, 0xfe, 0, 0, 0, 0, 0, 0, 0));
    board.reports.length = 0;
    bus.plug(board);
    const device = new SupervisedDevice('gate', bus, match, usbRelayProfile([1]), fastSupervision);
    device.start();
    await reachState(device, 'connected');
    expect(board.closedMask).toBe(0);
    expect(board.reports.map(hex)).toEqual(['00fc000000000000' + '00']);
    await device.stop();
  });
});

describe('commit on passage', () => {
  it('passage path: the sensor commits the grant, and presence follows the passage', async () => {
    current = await rig({ passageTimeoutMs: 5000 });
    const { board, gate, recorder } = current;
    const outcome = gate.admit('grant-pass');
    await vi.advanceTimersByTimeAsync(1200);
    expect(recorder.presence.has('grant-pass')).toBe(false); // granted, not yet passed
    board.passSensor(1);
    await vi.advanceTimersByTimeAsync(0);
    const result = await outcome;
    expect(result).toMatchObject({ grantRef: 'grant-pass', result: 'passed', evidence: 'sensor' });
    expect(recorder.journal).toEqual([{ kind: 'passage', grantRef: 'grant-pass', evidence: 'sensor' }]);
    expect(recorder.presence.has('grant-pass')).toBe(true);
  });

  it('timeout path: nobody passes, the grant is annulled at passageTimeoutMs and presence is unchanged', async () => {
    current = await rig({ passageTimeoutMs: 4000 });
    const { gate, recorder } = current;
    const t0 = Date.now();
    let settled: GateOutcome | null = null;
    void gate.admit('grant-none').then((o) => (settled = o));
    await vi.advanceTimersByTimeAsync(3999);
    expect(settled).toBeNull();
    await vi.advanceTimersByTimeAsync(1);
    expect(settled).toMatchObject({ result: 'annulled', reason: 'no_passage' });
    expect(Date.parse(settled!.settledAt) - t0).toBe(4000);
    expect(recorder.journal).toEqual([{ kind: 'annulment', grantRef: 'grant-none', reason: 'no_passage' }]);
    expect(recorder.presence.size).toBe(0);
    expect(gate.annulments()).toMatchObject([
      { grantRef: 'grant-none', reason: 'no_passage', reversed: null },
    ]);
  });

  it('without a sensor the window is a timeout and the passage is committed as assumed', async () => {
    current = await rig({ passageInput: null, passageTimeoutMs: 3000 });
    const outcome = current.gate.admit('g');
    await vi.advanceTimersByTimeAsync(3000);
    expect(await outcome).toMatchObject({ result: 'passed', evidence: 'assumed' });
    expect(current.recorder.presence.has('g')).toBe(true);
  });

  it('matches passages to open grants first-in first-out, and reports a passage with no grant', async () => {
    current = await rig({ pulseMs: 100, passageTimeoutMs: 5000 });
    const { board, gate, recorder } = current;
    const unexpected: string[] = [];
    gate.on('unexpected-passage', (e) => unexpected.push(e.at));
    const a = gate.admit('first');
    const b = gate.admit('second');
    await vi.advanceTimersByTimeAsync(300);
    board.passSensor(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(await a).toMatchObject({ grantRef: 'first', result: 'passed' });
    await vi.advanceTimersByTimeAsync(5000);
    expect(await b).toMatchObject({ grantRef: 'second', result: 'annulled', reason: 'no_passage' });
    board.passSensor(1); // tailgater: no open grant
    expect(unexpected).toHaveLength(1);
    expect([...recorder.presence]).toEqual(['first']);
  });

  it('holding the beam broken counts one passage (edges, not levels)', async () => {
    current = await rig({ pulseMs: 100, passageTimeoutMs: 2000 });
    const { board, gate } = current;
    const a = gate.admit('a');
    const b = gate.admit('b');
    await vi.advanceTimersByTimeAsync(300);
    board.setInput(1, true);
    board.setInput(1, true);
    await vi.advanceTimersByTimeAsync(2000);
    expect((await a).result).toBe('passed');
    expect((await b).result).toBe('annulled');
  });

  it('the same grant cannot be at the gate twice (a retried call does not pulse again)', async () => {
    current = await rig({ passageTimeoutMs: 1000 });
    const { board, gate } = current;
    const first = gate.admit('dup');
    await expect(gate.admit('dup')).rejects.toSatisfy((e) => isKioskError(e, 'INVALID_REQUEST'));
    await vi.advanceTimersByTimeAsync(1000);
    await first;
    expect(board.pulses(1)).toHaveLength(1);
  });

  it('staff can see and reverse an annulment; presence then follows the reversal', async () => {
    current = await rig({ passageTimeoutMs: 1000 });
    const { gate, recorder } = current;
    const o = gate.admit('late');
    await vi.advanceTimersByTimeAsync(1000);
    await o;
    const reversed = await gate.reverseAnnulment('late', 'staff-7');
    expect(reversed.reversed?.staffRef).toBe('staff-7');
    expect(recorder.journal.at(-1)).toEqual({ kind: 'reversal', grantRef: 'late', staffRef: 'staff-7' });
    expect(recorder.presence.has('late')).toBe(true);
    expect(gate.annulments()[0]?.reversed?.staffRef).toBe('staff-7');
    await expect(gate.reverseAnnulment('late', 'staff-7')).rejects.toSatisfy((e) =>
      isKioskError(e, 'INVALID_REQUEST'),
    );
    await expect(gate.reverseAnnulment('never', 'staff-7')).rejects.toSatisfy((e) =>
      isKioskError(e, 'INVALID_REQUEST'),
    );
  });

  it('a failing journal loses nothing: events stay queued and are replayed in order', async () => {
    current = await rig({ passageInput: null, passageTimeoutMs: 500, pulseMs: 100 });
    const { gate, recorder } = current;
    recorder.failNext = 1;
    const failures: string[] = [];
    gate.on('record-failed', (f) => failures.push(f.grantRef));
    const a = gate.admit('a');
    await vi.advanceTimersByTimeAsync(500);
    expect((await a).result).toBe('passed');
    expect(gate.status.unrecorded).toBe(1);
    expect(failures).toEqual(['a']);
    const b = gate.admit('b');
    await vi.advanceTimersByTimeAsync(1000);
    await b;
    expect(recorder.journal.map((j) => j.grantRef)).toEqual(['a', 'b']);
    expect(gate.status.unrecorded).toBe(0);
  });
  it('grants settled in the same instant are each journaled once, in order, even with a slow journal', async () => {
    current = await rig({ pulseMs: 10, passageTimeoutMs: 5000 });
    const { gate, recorder } = current;
    const slow = recorder.recordAnnulment.bind(recorder);
    recorder.recordAnnulment = async (ref, reason) => {
      await new Promise((r) => setTimeout(r, 20));
      slow(ref, reason);
    };
    const grants = ['s1', 's2', 's3'].map((g) => gate.admit(g));
    await vi.advanceTimersByTimeAsync(100);
    const stopping = gate.stop();
    await vi.advanceTimersByTimeAsync(200);
    await stopping;
    await Promise.all(grants);
    expect(recorder.journal).toEqual(
      ['s1', 's2', 's3'].map((grantRef) => ({ kind: 'annulment', grantRef, reason: 'gate_stopped' })),
    );
  });
});

describe('device missing, unplugged and replugged', () => {
  it('a grant while the board is missing is annulled at once as gate_unavailable, and the state is visible', async () => {
    current = await rig();
    const { bus, board, device, gate, recorder } = current;
    bus.unplug(board.info.path);
    await reachState(device, 'missing');
    expect(gate.available).toBe(false);
    expect(gate.status.device).toMatchObject({ state: 'missing', lastError: { code: 'HID_FAILED' } });
    const result = await gate.admit('g');
    expect(result).toMatchObject({ result: 'annulled', reason: 'gate_unavailable', openedAt: null });
    expect(result.result === 'annulled' && result.error?.code).toBe('HID_UNAVAILABLE');
    expect(recorder.presence.size).toBe(0);
  });

  it('unplugged mid-pulse: the gate locks (power lost), the grant is annulled as sensor_lost; replugged: it works again', async () => {
    current = await rig({ pulseMs: 800, passageTimeoutMs: 3000 });
    const { bus, board, device, gate, recorder } = current;
    const states: string[] = [];
    device.on('status', (s) => states.push(s.state));
    const o = gate.admit('mid');
    await vi.advanceTimersByTimeAsync(200);
    expect(board.isClosed(1)).toBe(true);
    bus.unplug(board.info.path);
    expect(board.isClosed(1)).toBe(false); // coils need USB power
    await vi.advanceTimersByTimeAsync(100);
    expect(device.status.state).toBe('missing');
    board.passSensor(1); // unplugged: the host cannot see this
    await vi.advanceTimersByTimeAsync(3000);
    expect(await o).toMatchObject({ result: 'annulled', reason: 'sensor_lost' });
    expect(recorder.presence.size).toBe(0);

    bus.plug(board);
    await reachState(device, 'connected');
    expect(states).toEqual(expect.arrayContaining(['missing', 'connected']));
    const again = gate.admit('after-replug');
    await vi.advanceTimersByTimeAsync(300);
    board.passSensor(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await again).toMatchObject({ result: 'passed', evidence: 'sensor' });
    expect(board.isClosed(1)).toBe(false);
    expect([...recorder.presence]).toEqual(['after-replug']);
  });
});
