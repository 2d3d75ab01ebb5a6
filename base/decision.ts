// The decision: one typed structure for every shell (UI, CLI JSON, journal, reception output).
// Browser-safe: no Node imports.

export const Outcomes = ['admitted', 'refused', 'staff', 'error'] as const;
/**
 * admitted: open the gate / show the result; refused: a clear "no" with a reason;
 * staff: a person must look (e.g. stale data under the 'staff' policy, an unregistered evacuee);
 * error: the terminal could not decide (card removed, reader fault) — the patron is asked to touch again.
 */
export type Outcome = (typeof Outcomes)[number];

export const ReasonCodes = [
  'ok',
  'not_registered',
  'revoked',
  'cert_expired',
  'cert_not_yet_valid',
  'cert_untrusted',
  'cert_tampered',
  'card_auth_failed',
  'pin_required',
  'pin_wrong',
  'pin_blocked',
  'outside_time_window',
  'wrong_gate',
  'already_inside',
  'not_inside',
  'data_too_old',
  'card_removed',
  'card_unreadable',
  'double_touch',
  'entitlement_expired',
  'entitlement_superseded',
  'unregistered_admitted',
  'degraded',
  /** No possession proof (the card refused PIN-less and the site checks faces instead of PINs). */
  'staff_visual_check',
  'clock_fault',
  'terminal_fault',
  'ticket_invalid',
  'ticket_not_accepted',
] as const;
export type ReasonCode = (typeof ReasonCodes)[number];

export type { Direction, SiteKind } from './site-kinds.js';
import type { Direction, SiteKind } from './site-kinds.js';
import type { Language } from './languages.js';

/** What the UI shows while a card is read, in the order the pipeline reaches them. */
export const ReadingPhases = [
  'card_detected',
  'reading_certificate',
  'authenticating',
  'verifying',
  'deciding',
] as const;
export type ReadingPhase = (typeof ReadingPhases)[number];

/** What the public side may show: never a name at a gate; staff-only fields are separate. */
export interface PublicView {
  headline: ReasonCode;
  seat?: string;
  zone?: string;
  /** Kiosk session: seconds the session stays open. */
  sessionSeconds?: number;
  /** Shelter: household members checked in together. */
  householdSize?: number;
  /** The holder's language when their whitelist entry names one: the result screen speaks it. */
  language?: Language;
}

export interface InsuranceDetails {
  status: 'valid' | 'expired' | 'not_found' | 'superseded';
  insurerNumber?: string;
  symbol?: string;
  number?: string;
  branch?: string;
  copayRatio?: number;
  validFrom?: string;
  validTo?: string;
}

export interface StaffView {
  subjectId?: string;
  displayName?: string;
  insurance?: InsuranceDetails;
  residentId?: string;
  householdId?: string;
  careNeeds?: string[];
  ticket?: { eventId: string; seat?: string; zones?: string[] };
  notes?: string[];
}

/** The pipeline's stages in the order they run; `total` closes every decision's timings. */
export const Stages = [
  'read_certificate',
  'chain',
  'revocation',
  'whitelist',
  'authenticate',
  'signature',
  'policy',
  'journal',
  'total',
] as const;

/**
 * How the card holder was proved: PIN-less terminal authentication, the holder's PIN, or (no proof of
 * possession) a staff member's visual check.
 */
export const AuthPaths = ['pinless', 'pin', 'staff-visual'] as const;
export type AuthPath = (typeof AuthPaths)[number];

export interface StageTiming {
  stage: (typeof Stages)[number];
  ms: number;
}

/** What the person showed: their card, or a signed QR ticket. */
export const CredentialKinds = ['card', 'qr_ticket'] as const;
export type CredentialKind = (typeof CredentialKinds)[number];

export interface Decision {
  id: string;
  /** Absent: a card (every decision before QR tickets). */
  credential?: CredentialKind;
  at: string;
  site: SiteKind;
  gateId: string;
  direction: Direction;
  outcome: Outcome;
  reasons: ReasonCode[];
  /** Revocation data older than the profile allows, admitted under the 'degraded' policy. */
  degraded: boolean;
  publicView: PublicView;
  staffView: StaffView;
  /** Journal sequence of the record, once durable. */
  journalSeq?: number;
  /** The path the card's authentication took; absent when the tap ended before it. */
  authPath?: AuthPath;
  timings: StageTiming[];
}
