// What a gate admission can come to, and what the GateController asks the journal to record: the
// vocabulary shared by the controller, its recorder, the status view and the staff screen. Apart from
// gate-controller.ts so that these can be read (and imported) without the relay-driving code.
import type { ErrorPayload } from '../../../base/errors.js';
import type { DeviceStatus } from './supervisor.js';

export interface GateSettings {
  channel: number;
  pulseMs: number;
  /** Input line of the passage sensor on the relay board; null: no sensor, the window is a timeout. */
  passageInput: number | null;
  passageTimeoutMs: number;
}

export type PassageEvidence = 'sensor' | 'assumed';
export const AnnulReasons = ['no_passage', 'sensor_lost', 'gate_unavailable', 'gate_stopped'] as const;
export type AnnulReason = (typeof AnnulReasons)[number];

export interface PassageDetail {
  evidence: PassageEvidence;
  openedAt: string;
  passedAt: string;
}

export interface AnnulmentDetail {
  openedAt: string | null;
  annulledAt: string;
  error?: ErrorPayload;
}

export interface ReversalDetail {
  staffRef: string;
  reversedAt: string;
  reason: AnnulReason;
}

/**
 * Implemented by the terminal's wiring onto the entry journal and presence. Each call is durable when
 * its promise resolves; a rejection keeps the event queued by the GateController and retried, in order.
 */
export interface PassageRecorder {
  recordPassage(grantRef: string, detail: PassageDetail): Promise<void> | void;
  recordAnnulment(grantRef: string, reason: AnnulReason, detail: AnnulmentDetail): Promise<void> | void;
  /** Staff decided the person did pass: the journal records a passage by staff; presence follows. */
  recordAnnulmentReversal(grantRef: string, detail: ReversalDetail): Promise<void> | void;
}

export type GateOutcome =
  | { grantRef: string; result: 'passed'; evidence: PassageEvidence; openedAt: string; settledAt: string }
  | {
      grantRef: string;
      result: 'annulled';
      reason: AnnulReason;
      openedAt: string | null;
      settledAt: string;
      error?: ErrorPayload;
    };

export interface AnnulmentView {
  grantRef: string;
  reason: AnnulReason;
  openedAt: string | null;
  annulledAt: string;
  reversed: { staffRef: string; at: string } | null;
}

export interface GateStatus {
  device: DeviceStatus;
  /** The relay is energised (the gate is released) right now. */
  relayClosed: boolean;
  /** Grants whose gate opened and that wait for a passage. */
  waiting: number;
  lastOutcome: GateOutcome | null;
  /** Journal events not yet durable (the recorder failed); retried in order. */
  unrecorded: number;
}
