// What the staff screen sees: the gate and signal words of the UI contract follow the real devices
// through a grant, a lost gate and a pattern change.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AnnulReasons, GateStates, SignalStates } from '../../main/api/contract.js';
import { AnnulReasons as GateAnnulReasons } from '../../main/core/actuators/gate-outcomes.js';
import {
  contractAnnulReason,
  createActuators,
  gateStateView,
  signalStateView,
  type Actuators,
} from '../../main/core/actuators/index.js';
import { createSoftwareRig } from '../../sim/hid/index.js';
import { fastSupervision, MemoryRecorder } from './helpers.js';

let actuators: Actuators | null = null;

beforeEach(() => vi.useFakeTimers());
afterEach(async () => {
  await actuators?.stop();
  actuators = null;
  vi.useRealTimers();
});

const views = (a: Actuators) => ({
  gate: gateStateView(a.status().gate),
  signal: signalStateView(a.status().signal),
});

describe('status views for the UI contract', () => {
  it('follow a grant, a lost gate and the patterns, always with words the contract accepts', async () => {
    const rig = createSoftwareRig({
      relay: { channels: 8, autoPassage: { channel: 1, input: 1, afterMs: 1200 } },
    });
    actuators = await createActuators(
      {
        gate: {
          driver: 'software',
          vendorId: null,
          productId: null,
          serial: null,
          path: null,
          channel: 1,
          pulseMs: 300,
          passageInput: 1,
          passageTimeoutMs: 3000,
        },
        signal: {
          driver: 'software',
          vendorId: null,
          productId: null,
          serial: null,
          path: null,
          channel: 1,
          pulseMs: 0,
          passageInput: null,
          passageTimeoutMs: 0,
        },
      },
      { recorder: new MemoryRecorder(), supervisor: fastSupervision, softwareBackend: rig.bus },
    );
    const seen: Array<{ gate: string; signal: string }> = [];
    actuators.on('status', () => seen.push(views(actuators!)));
    expect(views(actuators)).toEqual({ gate: 'unavailable', signal: 'unavailable' });
    actuators.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(views(actuators)).toEqual({ gate: 'closed', signal: 'off' });
    const admitted = actuators.actuate({ outcome: 'admitted' }, 'd-1');
    await vi.advanceTimersByTimeAsync(10);
    expect(views(actuators)).toEqual({ gate: 'open', signal: 'green' });
    await vi.advanceTimersByTimeAsync(3000);
    await admitted;
    expect(views(actuators).gate).toBe('closed');
    void actuators.actuate({ outcome: 'staff' }, 'd-2');
    await vi.advanceTimersByTimeAsync(10);
    expect(views(actuators).signal).toBe('amber');
    rig.bus.unplug(rig.relay.info.path);
    await vi.advanceTimersByTimeAsync(50);
    expect(views(actuators)).toEqual({ gate: 'unavailable', signal: 'red' });
    for (const v of seen) {
      expect(GateStates).toContain(v.gate);
      expect(SignalStates).toContain(v.signal);
    }
  });

  it('maps every gate annulment reason onto a contract reason', () => {
    for (const r of GateAnnulReasons) expect(AnnulReasons).toContain(contractAnnulReason(r));
    expect(contractAnnulReason('no_passage')).toBe('turnstile_not_turned');
    expect(gateStateView(null)).toBe('none');
    expect(signalStateView(null)).toBe('none');
  });
});
