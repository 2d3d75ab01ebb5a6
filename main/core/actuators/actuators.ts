// Builds the gate and the signal tower from `config.actuators`: picks the backend (node-hid, or the
// software backend the demo composition passes in for driver "software"), the device profile and the
// match, and starts the supervisors. A missing or broken device never throws from here: it is a state
// in `status()`. The product never creates software devices itself (main/demo/hid.ts does).
import { EventEmitter } from 'node:events';
import type { KioskConfigParsed } from '../../../config/schema.js';
import { KioskError } from '../../../base/errors.js';
import type { Outcome } from '../../../base/decision.js';
import { GateController } from './gate-controller.js';
import type { GateOutcome, GateStatus, PassageRecorder } from './gate-outcomes.js';
import type { DeviceMatch, HidBackend } from './hid-backend.js';
import { NodeHidBackend } from './node-hid-backend.js';
import {
  SignalController,
  defaultSignalPatterns,
  signalForOutcome,
  type SignalStatus,
} from './signal-controller.js';
import { signalTowerProfile, TOWER_PRODUCT_ID, TOWER_VENDOR_ID, type TowerSession } from './signal-tower.js';
import { SupervisedDevice, type SupervisorOptions } from './supervisor.js';
import { USBRELAY_PRODUCT_ID, USBRELAY_VENDOR_ID, usbRelayProfile, type RelaySession } from './usbrelay.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
export type HidDeviceConfig = Readonly<Mutable<NonNullable<KioskConfigParsed['actuators']['gate']>>>;
export interface ActuatorsConfig {
  readonly gate: HidDeviceConfig | null;
  readonly signal: HidDeviceConfig | null;
}

export interface ActuatorsStatus {
  gate: GateStatus | null;
  signal: SignalStatus | null;
}

export interface ActuatorsOptions {
  recorder: PassageRecorder;
  /** Overrides node-hid for drivers "usbrelay" / "signal-tower" (tests). */
  backend?: HidBackend;
  /**
   * The backend for driver "software": the demo's in-process devices (main/demo/hid.ts). Without it a
   * "software" driver is a configuration error: only the demo composition provides one.
   */
  softwareBackend?: HidBackend;
  supervisor?: SupervisorOptions;
  /** ui.resultHoldMs: how long admitted/refused stay lit. */
  resultHoldMs?: number;
}

export interface Actuators extends EventEmitter<{ status: [ActuatorsStatus] }> {
  readonly gate: GateController | null;
  readonly signal: SignalController | null;
  status(): ActuatorsStatus;
  /**
   * One decision at the lane: shows its signal pattern (replacing the previous one) and, for an
   * admission with a gate, opens it for the already-journaled grant and resolves with the gate outcome
   * (null when there is nothing to settle). A gate that cannot open makes the lane out-of-service.
   */
  actuate(decision: { outcome: Outcome }, grantRef: string): Promise<GateOutcome | null>;
  start(): void;
  /** Staff "retry now": a missing or failed device is looked for at once instead of after its backoff. */
  retry(): void;
  stop(): Promise<void>;
}

export function deviceMatch(config: HidDeviceConfig, vendorId: number, productId: number): DeviceMatch {
  return {
    vendorId: config.vendorId ?? vendorId,
    productId: config.productId ?? productId,
    serial: config.serial,
    path: config.path,
  };
}

function checkDriver(role: 'gate' | 'signal', config: HidDeviceConfig): void {
  const allowed = role === 'gate' ? ['usbrelay', 'software'] : ['signal-tower', 'software'];
  if (!allowed.includes(config.driver))
    throw new KioskError(
      'CONFIG_INVALID',
      `actuators.${role}.driver '${config.driver}' cannot drive a ${role}`,
      {
        role,
        driver: config.driver,
      },
    );
  if (role === 'gate' && config.passageInput !== null && config.passageTimeoutMs === 0)
    throw new KioskError(
      'CONFIG_INVALID',
      'actuators.gate.passageTimeoutMs must be > 0 with a passage sensor',
    );
}

export async function createActuators(
  config: ActuatorsConfig,
  options: ActuatorsOptions,
): Promise<Actuators> {
  if (config.gate) checkDriver('gate', config.gate);
  if (config.signal) checkDriver('signal', config.signal);
  const software = options.softwareBackend ?? null;
  for (const [role, c] of [
    ['gate', config.gate],
    ['signal', config.signal],
  ] as const) {
    if (c?.driver === 'software' && !software)
      throw new KioskError(
        'CONFIG_INVALID',
        `actuators.${role}.driver 'software' runs only in the demo (its composition provides the simulated devices)`,
        { role, driver: c.driver },
      );
  }
  const hardware = options.backend ?? new NodeHidBackend();
  const backendFor = (c: HidDeviceConfig): HidBackend =>
    c.driver === 'software' && software ? software : hardware;

  let gate: GateController | null = null;
  let gateDevice: SupervisedDevice<RelaySession> | null = null;
  if (config.gate) {
    const c = config.gate;
    gateDevice = new SupervisedDevice(
      'gate',
      backendFor(c),
      deviceMatch(c, USBRELAY_VENDOR_ID, USBRELAY_PRODUCT_ID),
      usbRelayProfile([c.channel]),
      options.supervisor,
    );
    gate = new GateController(
      gateDevice,
      {
        channel: c.channel,
        pulseMs: c.pulseMs,
        passageInput: c.passageInput,
        passageTimeoutMs: c.passageTimeoutMs,
      },
      options.recorder,
    );
  }
  let signal: SignalController | null = null;
  let signalDevice: SupervisedDevice<TowerSession> | null = null;
  if (config.signal) {
    const c = config.signal;
    signalDevice = new SupervisedDevice(
      'signal',
      backendFor(c),
      deviceMatch(c, TOWER_VENDOR_ID, TOWER_PRODUCT_ID),
      signalTowerProfile(),
      options.supervisor,
    );
    signal = new SignalController(signalDevice, defaultSignalPatterns(options.resultHoldMs ?? 3000));
  }

  class Impl extends EventEmitter<{ status: [ActuatorsStatus] }> implements Actuators {
    readonly gate = gate;
    readonly signal = signal;
    status(): ActuatorsStatus {
      return { gate: gate?.status ?? null, signal: signal?.status ?? null };
    }
    async actuate(decision: { outcome: Outcome }, grantRef: string): Promise<GateOutcome | null> {
      void signal?.show(signalForOutcome(decision.outcome));
      if (decision.outcome !== 'admitted' || !gate) return null;
      const outcome = await gate.admit(grantRef);
      if (outcome.result === 'annulled' && outcome.reason === 'gate_unavailable')
        void signal?.show('out-of-service');
      return outcome;
    }
    start(): void {
      gateDevice?.start();
      signalDevice?.start();
    }
    retry(): void {
      gateDevice?.retryNow();
      signalDevice?.retryNow();
    }
    async stop(): Promise<void> {
      await gate?.stop();
      await signal?.stop();
      await gateDevice?.stop();
      await signalDevice?.stop();
    }
  }
  const actuators = new Impl();
  const forward = (): void => void actuators.emit('status', actuators.status());
  gate?.on('status', forward);
  signal?.on('status', forward);
  // The lane shows out-of-service while its gate is lost, and goes dark again when the gate is back.
  let gateLost = false;
  gateDevice?.on('status', (s) => {
    const lost = s.state === 'missing' || s.state === 'failed';
    if (lost && !gateLost) void signal?.show('out-of-service');
    if (s.state === 'connected' && gateLost && signal?.status.pattern === 'out-of-service')
      void signal.show('idle');
    gateLost = lost;
  });
  return actuators;
}
