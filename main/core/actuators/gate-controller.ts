// Commit on passage. The decision path journals the grant first, then calls `admit(grantRef)`: the gate
// relay is pulsed, and the grant is settled exactly once as
//   passed   — the passage sensor saw a person (evidence 'sensor'), or, on hardware without a sensor,
//              the passage window ran out after a successful pulse (evidence 'assumed');
//   annulled — nobody passed within passageTimeoutMs ('no_passage'), the sensor's device was lost during
//              the window ('sensor_lost'), the relay could not be pulsed ('gate_unavailable'), or the
//              controller stopped first ('gate_stopped').
// Only `recordPassage` may change presence / anti-passback; an annulment never does. Sensor passages are
// matched to open grants first-in first-out, like a turnstile's passage credits. A passage with no
// open grant is reported as 'unexpected-passage' (tailgating) for the staff screen.
import { EventEmitter } from 'node:events';
import { KioskError, toKioskError, type ErrorPayload } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import type { SupervisedDevice } from './supervisor.js';
import type {
  AnnulReason,
  AnnulmentDetail,
  AnnulmentView,
  GateOutcome,
  GateSettings,
  GateStatus,
  PassageDetail,
  PassageEvidence,
  PassageRecorder,
} from './gate-outcomes.js';
import { inputActive, relayReport, type RelaySession } from './usbrelay.js';
import { cancellableWait, type CancellableWait } from './timing.js';

export type {
  AnnulReason,
  AnnulmentDetail,
  AnnulmentView,
  GateOutcome,
  GateSettings,
  GateStatus,
  PassageDetail,
  PassageEvidence,
  PassageRecorder,
  ReversalDetail,
} from './gate-outcomes.js';

interface Pending {
  grantRef: string;
  openedAt: string;
  sensorLost: boolean;
  window: CancellableWait;
  settle: (outcome: GateOutcome) => void;
}

type Unrecorded =
  | { kind: 'passage'; grantRef: string; detail: PassageDetail }
  | { kind: 'annulment'; grantRef: string; reason: AnnulReason; detail: AnnulmentDetail };

export interface GateControllerOptions {
  /** How many recent annulments staff can see and reverse here (the journal keeps all). */
  annulmentsKept?: number;
}

export class GateController extends EventEmitter<{
  outcome: [GateOutcome];
  status: [GateStatus];
  'unexpected-passage': [{ at: string }];
  'record-failed': [{ grantRef: string; error: ErrorPayload }];
}> {
  private readonly log = getLogger('gate');
  private readonly waiting: Pending[] = [];
  private readonly annulled: AnnulmentView[] = [];
  private readonly unrecorded: Unrecorded[] = [];
  private readonly annulmentsKept: number;
  private readonly inFlight = new Set<string>();
  private flushing: Promise<number> = Promise.resolve(0);
  private pulses: Promise<void> = Promise.resolve();
  private relayClosed = false;
  private sensorWasActive = false;
  private lastOutcome: GateOutcome | null = null;
  private stopped = false;

  constructor(
    private readonly device: SupervisedDevice<RelaySession>,
    private readonly settings: GateSettings,
    private readonly recorder: PassageRecorder,
    options: GateControllerOptions = {},
  ) {
    super();
    this.annulmentsKept = options.annulmentsKept ?? 50;
    device.on('input', (report) => this.onInput(report));
    device.on('status', (status) => {
      if (status.state !== 'connected') {
        for (const p of this.waiting) p.sensorLost = true;
        this.sensorWasActive = false;
        this.relayClosed = false;
      }
      this.emitStatus();
    });
  }

  get status(): GateStatus {
    return {
      device: this.device.status,
      relayClosed: this.relayClosed,
      waiting: this.waiting.length,
      lastOutcome: this.lastOutcome,
      unrecorded: this.unrecorded.length,
    };
  }

  /** The gate can be opened now (for the decision path: admit or show out-of-service). */
  get available(): boolean {
    return !this.stopped && this.device.connected;
  }

  /** Opens the gate for a journaled grant and resolves once the grant is settled (and recorded). */
  async admit(grantRef: string): Promise<GateOutcome> {
    if (this.inFlight.has(grantRef))
      throw new KioskError('INVALID_REQUEST', 'this grant is already at the gate', { grantRef });
    this.inFlight.add(grantRef);
    try {
      return await this.admitOnce(grantRef);
    } finally {
      this.inFlight.delete(grantRef);
    }
  }

  private async admitOnce(grantRef: string): Promise<GateOutcome> {
    if (this.stopped) return this.annul(grantRef, 'gate_stopped', null);
    let openedAt: string;
    try {
      openedAt = await this.pulse();
    } catch (error) {
      return this.annul(grantRef, 'gate_unavailable', null, toKioskError(error, 'HID_FAILED').toPayload());
    }
    const outcome = await new Promise<GateOutcome>((resolve) => {
      const pending: Pending = {
        grantRef,
        openedAt,
        sensorLost: !this.device.connected,
        window: cancellableWait(this.settings.passageTimeoutMs),
        settle: resolve,
      };
      this.waiting.push(pending);
      this.emitStatus();
      void pending.window.done.then((elapsed) => {
        if (elapsed) this.windowClosed(pending);
      });
    });
    await this.record(outcome);
    return outcome;
  }

  /**
   * Maintenance: one pulse with no grant behind it (installer checks the wiring). Nothing is journaled;
   * a passage seen meanwhile is reported as 'unexpected-passage'. Rejects HID_UNAVAILABLE when missing.
   */
  async testPulse(): Promise<{ closedAt: string }> {
    if (this.stopped) throw new KioskError('HID_UNAVAILABLE', 'the gate controller is stopped');
    return { closedAt: await this.pulse() };
  }

  /** Recent annulments, newest first, for the staff screen. */
  annulments(): AnnulmentView[] {
    return this.annulled.map((a) => ({ ...a, reversed: a.reversed ? { ...a.reversed } : null })).reverse();
  }

  /** Staff confirm the person did pass: journal the reversal (presence follows it there). */
  async reverseAnnulment(grantRef: string, staffRef: string): Promise<AnnulmentView> {
    const entry = this.annulled.find((a) => a.grantRef === grantRef);
    if (!entry) throw new KioskError('INVALID_REQUEST', 'no such annulment on this gate', { grantRef });
    if (entry.reversed)
      throw new KioskError('INVALID_REQUEST', 'this annulment was already reversed', { grantRef });
    if (this.unrecorded.some((u) => u.grantRef === grantRef))
      throw new KioskError('STORE_UNAVAILABLE', 'the annulment is not journaled yet; retry shortly', {
        grantRef,
      });
    const at = new Date().toISOString();
    try {
      await this.recorder.recordAnnulmentReversal(grantRef, {
        staffRef,
        reversedAt: at,
        reason: entry.reason,
      });
    } catch (error) {
      throw toKioskError(error, 'STORE_UNAVAILABLE');
    }
    entry.reversed = { staffRef, at };
    this.log.info({ grantRef, staffRef }, 'annulment reversed by staff');
    return { ...entry, reversed: { ...entry.reversed } };
  }

  /** Replays journal events the recorder refused earlier; returns how many are still pending. */
  retryUnrecorded(): Promise<number> {
    // One flush at a time: two flushes running together would both write the head event.
    const run = this.flushing.then(() => this.flush());
    this.flushing = run.catch(() => 0);
    return run;
  }

  private async flush(): Promise<number> {
    while (this.unrecorded.length > 0) {
      const next = this.unrecorded[0]!;
      try {
        if (next.kind === 'passage') await this.recorder.recordPassage(next.grantRef, next.detail);
        else await this.recorder.recordAnnulment(next.grantRef, next.reason, next.detail);
      } catch (error) {
        this.emit('record-failed', { grantRef: next.grantRef, error: toKioskError(error).toPayload() });
        break;
      }
      this.unrecorded.shift();
    }
    this.emitStatus();
    return this.unrecorded.length;
  }

  /** Settles every waiting grant as annulled ('gate_stopped') and stops; the relay is opened if possible. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const p of [...this.waiting]) this.settleAnnulled(p, 'gate_stopped');
    await this.pulses;
    await this.device
      .run((h) => h.sendFeatureReport(relayReport('open', this.settings.channel)))
      .catch(() => undefined);
    await this.retryUnrecorded();
  }

  // Pulses are serialised: a second grant's pulse starts after the first pulse ended, so one pulse can
  // never cut another short. Resolves with the time the relay closed; rejects if it could not be closed.
  private pulse(): Promise<string> {
    const { channel, pulseMs } = this.settings;
    return new Promise<string>((resolveOn, rejectOn) => {
      this.pulses = this.pulses.then(async () => {
        try {
          await this.device.run((h) => h.sendFeatureReport(relayReport('close', channel)));
        } catch (error) {
          rejectOn(error);
          return;
        }
        this.relayClosed = true;
        this.emitStatus();
        resolveOn(new Date().toISOString());
        await cancellableWait(pulseMs).done;
        try {
          await this.device.run((h) => h.sendFeatureReport(relayReport('open', channel)));
        } catch (error) {
          // The board re-opens every relay when it is attached again (usbRelayProfile).
          this.log.warn(
            { err: toKioskError(error).toPayload() },
            'relay could not be released after the pulse',
          );
        }
        this.relayClosed = false;
        this.emitStatus();
      });
    });
  }

  private onInput(report: Uint8Array): void {
    const input = this.settings.passageInput;
    if (input === null) return;
    const active = inputActive(report, input);
    const rising = active && !this.sensorWasActive;
    this.sensorWasActive = active;
    if (!rising) return;
    const pending = this.waiting[0];
    if (!pending) {
      this.log.warn('passage without an open grant');
      this.emit('unexpected-passage', { at: new Date().toISOString() });
      return;
    }
    this.settlePassed(pending, 'sensor');
  }

  private windowClosed(pending: Pending): void {
    if (!this.waiting.includes(pending)) return;
    if (this.settings.passageInput === null) this.settlePassed(pending, 'assumed');
    else this.settleAnnulled(pending, pending.sensorLost ? 'sensor_lost' : 'no_passage');
  }

  private remove(pending: Pending): void {
    const i = this.waiting.indexOf(pending);
    if (i >= 0) this.waiting.splice(i, 1);
    pending.window.cancel();
  }

  private settlePassed(pending: Pending, evidence: PassageEvidence): void {
    this.remove(pending);
    const outcome: GateOutcome = {
      grantRef: pending.grantRef,
      result: 'passed',
      evidence,
      openedAt: pending.openedAt,
      settledAt: new Date().toISOString(),
    };
    pending.settle(outcome);
  }

  private settleAnnulled(pending: Pending, reason: AnnulReason): void {
    this.remove(pending);
    pending.settle({
      grantRef: pending.grantRef,
      result: 'annulled',
      reason,
      openedAt: pending.openedAt,
      settledAt: new Date().toISOString(),
    });
  }

  private async annul(
    grantRef: string,
    reason: AnnulReason,
    openedAt: string | null,
    error?: ErrorPayload,
  ): Promise<GateOutcome> {
    const outcome: GateOutcome = {
      grantRef,
      result: 'annulled',
      reason,
      openedAt,
      settledAt: new Date().toISOString(),
    };
    if (error) outcome.error = error;
    await this.record(outcome);
    return outcome;
  }

  private async record(outcome: GateOutcome): Promise<void> {
    this.lastOutcome = outcome;
    const item: Unrecorded =
      outcome.result === 'passed'
        ? {
            kind: 'passage',
            grantRef: outcome.grantRef,
            detail: { evidence: outcome.evidence, openedAt: outcome.openedAt, passedAt: outcome.settledAt },
          }
        : {
            kind: 'annulment',
            grantRef: outcome.grantRef,
            reason: outcome.reason,
            detail: {
              openedAt: outcome.openedAt,
              annulledAt: outcome.settledAt,
              ...(outcome.error ? { error: outcome.error } : {}),
            },
          };
    if (outcome.result === 'annulled') {
      this.annulled.push({
        grantRef: outcome.grantRef,
        reason: outcome.reason,
        openedAt: outcome.openedAt,
        annulledAt: outcome.settledAt,
        reversed: null,
      });
      if (this.annulled.length > this.annulmentsKept) this.annulled.shift();
    }
    this.log.info({ grantRef: outcome.grantRef, result: outcome.result }, 'gate outcome');
    this.unrecorded.push(item);
    this.emit('outcome', outcome);
    await this.retryUnrecorded();
  }

  private emitStatus(): void {
    this.emit('status', this.status);
  }
}
