// Signal patterns at the report level on the software tower: colours, buzzer timing from the bytes sent,
// cancel-previous, and a replugged tower restored to the current state.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isKioskError } from '../../base/errors.js';
import { SignalController, signalForOutcome } from '../../main/core/actuators/signal-controller.js';
import {
  signalTowerProfile,
  TOWER_PRODUCT_ID,
  TOWER_VENDOR_ID,
  type TowerSession,
} from '../../main/core/actuators/signal-tower.js';
import { SupervisedDevice } from '../../main/core/actuators/supervisor.js';
import { SoftwareHidBus, SoftwareSignalTower, type TowerSnapshot } from '../../sim/hid/index.js';
import { fastSupervision, reachState } from './helpers.js';

const match = { vendorId: TOWER_VENDOR_ID, productId: TOWER_PRODUCT_ID, serial: null, path: null };

let bus: SoftwareHidBus;
let tower: SoftwareSignalTower;
let device: SupervisedDevice<TowerSession>;
let signal: SignalController;
let t0: number;

/** The tower's history as [ms since t0, lit lamps, buzzer] after t0. */
function timeline(from = t0): Array<[number, string, number]> {
  return tower.history
    .filter((s) => s.at >= from)
    .map((s: TowerSnapshot) => [s.at - from, SoftwareSignalTower.lit(s).join('+') || 'dark', s.buzzer]);
}

beforeEach(async () => {
  vi.useFakeTimers();
  bus = new SoftwareHidBus();
  tower = new SoftwareSignalTower();
  bus.plug(tower);
  device = new SupervisedDevice('signal', bus, match, signalTowerProfile(), fastSupervision);
  signal = new SignalController(device);
  device.start();
  await reachState(device, 'connected');
  t0 = Date.now();
});

afterEach(async () => {
  await signal.stop();
  await device.stop();
  vi.useRealTimers();
});

describe('patterns', () => {
  it('attach clears whatever a previous process left lit', () => {
    expect(tower.history[0]).toMatchObject({
      buzzer: 0,
      lamps: { red: 0, yellow: 0, green: 0, blue: 0, clear: 0 },
    });
  });

  it('admitted: green with one 150 ms beep, dark after the hold', async () => {
    const done = signal.show('admitted');
    await vi.advanceTimersByTimeAsync(3000);
    expect(await done).toBe('completed');
    expect(timeline()).toEqual([
      [0, 'green', 1],
      [150, 'green', 0],
      [3000, 'dark', 0],
    ]);
    expect(signal.status.pattern).toBe('idle');
  });

  it('refused: red with three short beeps', async () => {
    const done = signal.show('refused');
    await vi.advanceTimersByTimeAsync(3000);
    await done;
    const beeps = timeline().filter(([, , buzzer]) => buzzer === 1);
    expect(beeps.map(([ms]) => ms)).toEqual([0, 200, 400]);
    expect(timeline().every(([, lamps]) => lamps === 'red' || lamps === 'dark')).toBe(true);
    expect(timeline().at(-1)).toEqual([3000, 'dark', 0]);
  });

  it('attention: two long beeps, then yellow blinks until replaced', async () => {
    let result: string | null = null;
    void signal.show('attention').then((r) => (result = r));
    await vi.advanceTimersByTimeAsync(5000);
    expect(result).toBeNull();
    const tl = timeline();
    expect(tl.filter(([, , b]) => b === 1).map(([ms]) => ms)).toEqual([0, 600]);
    expect(tl.filter(([, lamps]) => lamps === 'dark').length).toBeGreaterThanOrEqual(3);
    await signal.show('idle');
    expect(result).toBe('cancelled');
  });

  it('out-of-service: red and one long beep, red held until replaced', async () => {
    await vi.advanceTimersByTimeAsync(0);
    const done = signal.show('out-of-service');
    await vi.advanceTimersByTimeAsync(10_000);
    expect(await done).toBe('completed');
    expect(timeline()).toEqual([
      [0, 'red', 1],
      [600, 'red', 0],
    ]);
    expect(SoftwareSignalTower.lit(tower.state)).toEqual(['red']);
    expect(signal.status.pattern).toBe('out-of-service');
  });

  it('cancel-previous: a new decision replaces the running pattern at once, no old beep afterwards', async () => {
    const first = signal.show('refused');
    await vi.advanceTimersByTimeAsync(250);
    const switchAt = Date.now();
    const second = signal.show('admitted');
    expect(await first).toBe('cancelled');
    await vi.advanceTimersByTimeAsync(3000);
    expect(await second).toBe('completed');
    const after = timeline(switchAt);
    expect(after[0]).toEqual([0, 'green', 1]);
    expect(after.some(([, lamps]) => lamps.includes('red'))).toBe(false);
  });

  it('refuses an unknown pattern name from an untyped caller and keeps the current pattern', async () => {
    void signal.show('out-of-service');
    await expect(signal.show('party' as never)).rejects.toSatisfy((e) => isKioskError(e, 'INVALID_REQUEST'));
    expect(signal.status.pattern).toBe('out-of-service');
  });

  it('maps decision outcomes to patterns', () => {
    expect(signalForOutcome('admitted')).toBe('admitted');
    expect(signalForOutcome('refused')).toBe('refused');
    expect(signalForOutcome('staff')).toBe('attention');
    expect(signalForOutcome('error')).toBe('attention');
  });
});

describe('tower unplugged and replugged', () => {
  it('showing a pattern while missing does not throw; the replugged tower gets the current state', async () => {
    void signal.show('out-of-service');
    await vi.advanceTimersByTimeAsync(1000);
    bus.unplug(tower.info.path);
    await reachState(device, 'missing');
    expect(signal.status.device.state).toBe('missing');
    const replacement = new SoftwareSignalTower();
    const whileMissing = signal.show('out-of-service');
    await vi.advanceTimersByTimeAsync(1000);
    await expect(whileMissing).resolves.toBe('completed');
    expect(signal.status.pattern).toBe('out-of-service');
    bus.plug(replacement);
    await reachState(device, 'connected');
    await vi.advanceTimersByTimeAsync(0);
    expect(SoftwareSignalTower.lit(replacement.state)).toEqual(['red']);
    expect(replacement.state.buzzer).toBe(0);
  });
});
