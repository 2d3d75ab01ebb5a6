// Actuator overheads on this machine: the kiosk's own cost from a grant to the relay-close report, from a
// new pattern to the tower report (both over the software bus: USB transfer time is not included), the
// hot-plug latency with default supervision, and the cost of one node-hid enumeration (the presence poll).
import { performance } from 'node:perf_hooks';
import { GateController } from '../main/core/actuators/gate-controller.js';
import { NodeHidBackend } from '../main/core/actuators/node-hid-backend.js';
import { SignalController } from '../main/core/actuators/signal-controller.js';
import {
  signalTowerProfile,
  TOWER_PRODUCT_ID,
  TOWER_VENDOR_ID,
} from '../main/core/actuators/signal-tower.js';
import { SupervisedDevice } from '../main/core/actuators/supervisor.js';
import { usbRelayProfile, USBRELAY_PRODUCT_ID, USBRELAY_VENDOR_ID } from '../main/core/actuators/usbrelay.js';
import { createSoftwareRig } from '../sim/hid/index.js';
import { measure, summarize, type BenchContext, type Metrics } from './harness.js';

const noJournal = { recordPassage() {}, recordAnnulment() {}, recordAnnulmentReversal() {} };

async function until(check: () => boolean, maxMs = 10_000): Promise<void> {
  const end = Date.now() + maxMs;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 2));
  }
}

export async function run(ctx: BenchContext): Promise<Metrics> {
  const iterations = ctx.quick ? 50 : 500;
  const rig = createSoftwareRig();
  const any = { serial: null, path: null };
  const relay = new SupervisedDevice(
    'gate',
    rig.bus,
    { vendorId: USBRELAY_VENDOR_ID, productId: USBRELAY_PRODUCT_ID, ...any },
    usbRelayProfile([1]),
  );
  const tower = new SupervisedDevice(
    'signal',
    rig.bus,
    { vendorId: TOWER_VENDOR_ID, productId: TOWER_PRODUCT_ID, ...any },
    signalTowerProfile(),
  );
  const gate = new GateController(
    relay,
    { channel: 1, pulseMs: 0, passageInput: null, passageTimeoutMs: 0 },
    noJournal,
  );
  const signal = new SignalController(tower);
  relay.start();
  tower.start();
  await until(() => relay.connected && tower.connected);

  ctx.log(`grant → relay close report, ${iterations} pulses`);
  // Each sample starts with the relay released, so it times one grant's path to the close report only.
  const pulseMs: number[] = [];
  for (let i = 0; i < iterations + 20; i += 1) {
    await until(() => !rig.relay.isClosed(1));
    const t = performance.now();
    await gate.testPulse();
    if (i >= 20) pulseMs.push(performance.now() - t);
  }
  const pulse = summarize(pulseMs);
  ctx.log(`pattern → tower report, ${iterations} patterns`);
  const show = await measure(() => signal.show('idle'), { warmup: 20, iterations });

  const replugs = ctx.quick ? 3 : 10;
  ctx.log(`unplug/replug → connected, ${replugs} times (default supervision)`);
  const replugMs: number[] = [];
  for (let i = 0; i < replugs; i += 1) {
    rig.bus.unplug(rig.relay.info.path);
    await until(() => !relay.connected);
    const t = performance.now();
    rig.bus.plug(rig.relay);
    await until(() => relay.connected);
    replugMs.push(performance.now() - t);
  }
  const replug = summarize(replugMs);

  const hid = new NodeHidBackend();
  const enumerate = await measure(() => hid.enumerate(), { warmup: 3, iterations: ctx.quick ? 20 : 100 });
  const visible = (await hid.enumerate()).length;

  await gate.stop();
  await signal.stop();
  await relay.stop();
  await tower.stop();
  return {
    'actuators.grant_to_relay_close_p50_ms': pulse.p50,
    'actuators.grant_to_relay_close_p99_ms': pulse.p99,
    'actuators.pattern_to_tower_report_p50_ms': show.p50,
    'actuators.pattern_to_tower_report_p99_ms': show.p99,
    'actuators.replug_to_connected_p50_ms': replug.p50,
    'actuators.replug_to_connected_max_ms': replug.max,
    'actuators.nodehid_enumerate_p50_ms': enumerate.p50,
    'actuators.nodehid_enumerate_p99_ms': enumerate.p99,
    'actuators.nodehid_devices_visible_count': visible,
  };
}
