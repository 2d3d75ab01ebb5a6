// The actuators built from real configuration (loadConfig on a site file): driver "software" runs the
// gate and the tower end to end on the in-process software devices the demo passes in (main/demo/hid.ts);
// the hardware drivers run unchanged on any HidBackend; a wrong driver for a role, or a "software"
// driver without the demo's devices, is a typed configuration error.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../config/load.js';
import { isKioskError } from '../../base/errors.js';
import { createActuators, type Actuators, type ActuatorsConfig } from '../../main/core/actuators/index.js';
import { createDemoHidRig } from '../../main/demo/hid.js';
import { createSoftwareRig, SoftwareSignalTower, type SoftwareRig } from '../../sim/hid/index.js';
import { fastSupervision, MemoryRecorder } from './helpers.js';

let dir: string;
let actuators: Actuators | null = null;
let rig: SoftwareRig;

/** The demo's software rig for `config`, passed in as the "software" backend. */
function demoRig(config: ActuatorsConfig): SoftwareRig {
  const created = createDemoHidRig(config);
  if (!created) throw new Error('no software device in this configuration');
  rig = created;
  return created;
}

function configWith(actuatorsJson: unknown): ActuatorsConfig {
  const file = join(dir, 'site.json');
  // The demo profile brings a software gate and tower; each test states exactly the devices it wants.
  const wanted = { gate: null, signal: null, ...(actuatorsJson as object) };
  writeFileSync(file, JSON.stringify({ version: 1, profile: 'demo', actuators: wanted }));
  return loadConfig({ file, env: {} }).actuators;
}

async function settle(a: Actuators): Promise<void> {
  for (let i = 0; i < 100 && !(a.gate?.available && a.signal?.status.device.state === 'connected'); i += 1)
    await vi.advanceTimersByTimeAsync(10);
}

beforeEach(() => {
  vi.useFakeTimers();
  dir = mkdtempSync(join(tmpdir(), 'jpki-actuators-'));
});

afterEach(async () => {
  await actuators?.stop();
  actuators = null;
  vi.useRealTimers();
  rmSync(dir, { recursive: true, force: true });
});

describe('driver "software" (demo)', () => {
  it('opens the gate, commits the simulated passage and lights the tower, from the config alone', async () => {
    const config = configWith({
      gate: { driver: 'software', channel: 2, pulseMs: 500, passageInput: 1, passageTimeoutMs: 4000 },
      signal: { driver: 'software' },
    });
    const recorder = new MemoryRecorder();
    actuators = await createActuators(config, {
      recorder,
      supervisor: fastSupervision,
      softwareBackend: demoRig(config).bus,
    });
    const statuses: unknown[] = [];
    actuators.on('status', (s) => statuses.push(s));
    actuators.start();
    await settle(actuators);
    expect(actuators.status()).toMatchObject({
      gate: { device: { state: 'connected', driver: 'usbrelay' } },
      signal: { device: { state: 'connected', driver: 'signal-tower' } },
    });
    const shown = actuators.signal!.show('admitted');
    const outcome = actuators.gate!.admit('demo-grant');
    await vi.advanceTimersByTimeAsync(100);
    expect(SoftwareSignalTower.lit(rig.tower.state)).toEqual(['green']);
    expect(rig.relay.isClosed(2)).toBe(true);
    await vi.advanceTimersByTimeAsync(4000);
    expect(await outcome).toMatchObject({ result: 'passed', evidence: 'sensor' });
    await shown;
    expect(recorder.presence.has('demo-grant')).toBe(true);
    expect(statuses.length).toBeGreaterThan(0);
  });

  it('shows an annulment when the simulated person does not come (skipEvery)', async () => {
    const config = configWith({ gate: { driver: 'software', passageInput: 1, passageTimeoutMs: 3000 } });
    const recorder = new MemoryRecorder();
    actuators = await createActuators(config, {
      recorder,
      supervisor: fastSupervision,
      softwareBackend: demoRig(config).bus,
    });
    rig.relay.autoPassage!.skipEvery = 2;
    actuators.start();
    for (let i = 0; i < 50 && !actuators.gate!.available; i += 1) await vi.advanceTimersByTimeAsync(10);
    const first = actuators.gate!.admit('one');
    const second = actuators.gate!.admit('two');
    await vi.advanceTimersByTimeAsync(8000);
    expect((await first).result).toBe('passed');
    expect(await second).toMatchObject({ result: 'annulled', reason: 'no_passage' });
    expect([...recorder.presence]).toEqual(['one']);
    expect(actuators.gate!.annulments().map((a) => a.grantRef)).toEqual(['two']);
    expect(actuators.signal).toBeNull();
  });
});

describe('actuate: one decision at the lane', () => {
  it('refused shows red and never opens the gate; admitted opens it and returns the gate outcome', async () => {
    const config = configWith({
      gate: { driver: 'software', passageInput: 1, passageTimeoutMs: 3000, pulseMs: 300 },
      signal: { driver: 'software' },
    });
    const recorder = new MemoryRecorder();
    actuators = await createActuators(config, {
      recorder,
      supervisor: fastSupervision,
      softwareBackend: demoRig(config).bus,
    });
    actuators.start();
    await settle(actuators);
    expect(await actuators.actuate({ outcome: 'refused' }, 'r-1')).toBeNull();
    await vi.advanceTimersByTimeAsync(50);
    expect(SoftwareSignalTower.lit(rig.tower.state)).toEqual(['red']);
    expect(rig.relay.transitions).toEqual([]);
    const admitted = actuators.actuate({ outcome: 'admitted' }, 'a-1');
    await vi.advanceTimersByTimeAsync(50);
    expect(SoftwareSignalTower.lit(rig.tower.state)).toEqual(['green']);
    await vi.advanceTimersByTimeAsync(3000);
    expect(await admitted).toMatchObject({ grantRef: 'a-1', result: 'passed' });
    expect([...recorder.presence]).toEqual(['a-1']);
  });

  it('losing the gate turns the lane out-of-service; getting it back clears it', async () => {
    const config = configWith({ gate: { driver: 'software' }, signal: { driver: 'software' } });
    actuators = await createActuators(config, {
      recorder: new MemoryRecorder(),
      supervisor: fastSupervision,
      softwareBackend: demoRig(config).bus,
    });
    actuators.start();
    await settle(actuators);
    rig.bus.unplug(rig.relay.info.path);
    await vi.advanceTimersByTimeAsync(100);
    expect(actuators.signal!.status.pattern).toBe('out-of-service');
    expect(SoftwareSignalTower.lit(rig.tower.state)).toEqual(['red']);
    const outcome = await actuators.actuate({ outcome: 'admitted' }, 'while-lost');
    expect(outcome).toMatchObject({ result: 'annulled', reason: 'gate_unavailable' });
    rig.bus.plug(rig.relay);
    await vi.advanceTimersByTimeAsync(1000);
    expect(actuators.status().gate?.device.state).toBe('connected');
    expect(actuators.signal!.status.pattern).toBe('idle');
    expect(SoftwareSignalTower.lit(rig.tower.state)).toEqual([]);
  });
});

describe('hardware drivers', () => {
  it('run unchanged on whichever HidBackend they are given (here the software bus)', async () => {
    const config = configWith({
      gate: { driver: 'usbrelay', serial: 'GATE1', passageInput: null, passageTimeoutMs: 1000, pulseMs: 300 },
      signal: { driver: 'signal-tower' },
    });
    const rig = createSoftwareRig({ relay: { serial: 'GATE1' } });
    actuators = await createActuators(config, {
      recorder: new MemoryRecorder(),
      backend: rig.bus,
      supervisor: fastSupervision,
    });
    actuators.start();
    await settle(actuators);
    const t0 = Date.now();
    const outcome = actuators.gate!.admit('hw');
    await vi.advanceTimersByTimeAsync(1000);
    expect(await outcome).toMatchObject({ result: 'passed', evidence: 'assumed' });
    expect(rig.relay.pulses(1)).toEqual([{ from: t0, to: t0 + 300 }]);
    // the demo creates no software devices for hardware drivers
    expect(createDemoHidRig(config)).toBeNull();
  });

  it('a relay with the wrong serial leaves the gate visibly missing and every grant annulled', async () => {
    const config = configWith({ gate: { driver: 'usbrelay', serial: 'OTHER' } });
    const rig = createSoftwareRig({ relay: { serial: 'GATE1' } });
    const recorder = new MemoryRecorder();
    actuators = await createActuators(config, { recorder, backend: rig.bus, supervisor: fastSupervision });
    actuators.start();
    await vi.advanceTimersByTimeAsync(200);
    expect(actuators.status().gate?.device.state).toBe('failed');
    expect(actuators.status().gate?.device.lastError?.code).toBe('HID_UNAVAILABLE');
    expect(await actuators.gate!.admit('x')).toMatchObject({
      result: 'annulled',
      reason: 'gate_unavailable',
    });
    expect(recorder.presence.size).toBe(0);
  });

  it('refuses driver "software" without the demo\'s devices, naming the demo', async () => {
    const config = configWith({ gate: { driver: 'software' }, signal: { driver: 'software' } });
    await expect(createActuators(config, { recorder: new MemoryRecorder() })).rejects.toSatisfy(
      (e: Error) => isKioskError(e, 'CONFIG_INVALID') && /only in the demo/.test(e.message),
    );
  });

  it('refuses a driver that cannot serve the role', async () => {
    const config = configWith({ gate: { driver: 'signal-tower' } });
    await expect(createActuators(config, { recorder: new MemoryRecorder() })).rejects.toSatisfy((e) =>
      isKioskError(e, 'CONFIG_INVALID'),
    );
  });
});
