// Site policies are pure functions: given what the stores said about a proven card, the clock and the
// site's rules, they return an outcome. No I/O, so every rule is tested exhaustively without hardware.
import type { InsuranceDetails, Outcome, PublicView, ReasonCode, StaffView } from '../../../base/decision.js';
import type { KioskConfig } from '../../../config/load.js';
import type { CardRecord } from '../../../whitelist/entitlements.js';

export interface PresenceRecord {
  state: 'inside' | 'outside';
  gateId: string;
  zone: string;
  /** When the state last changed (ms since epoch). */
  at: number;
  /** Entries committed with this card since the last reset. */
  entries: number;
}

export interface PolicySite {
  kind: KioskConfig['site']['kind'];
  gateId: string;
  zone: string;
  direction: 'entry' | 'exit' | 'both';
}

export interface PolicyInput {
  now: Date;
  site: PolicySite;
  rules: KioskConfig['policy'];
  /** The decrypted whitelist row, or null when the card is not on the list. */
  record: CardRecord | null;
  /** Presence of this card's subject for anti-passback / shelter occupancy; null: never seen. */
  presence: PresenceRecord | null;
  /** The last admitted decision for this card at this terminal (double touch), ms since epoch. */
  lastAdmittedAt: number | null;
}

export type PresenceChange = { to: 'inside' | 'outside' } | null;

export interface PolicyResult {
  outcome: Outcome;
  reasons: ReasonCode[];
  direction: 'entry' | 'exit';
  publicView: PublicView;
  staffView: StaffView;
  /** What presence becomes once the entry is committed (on grant or on passage, per configuration). */
  presenceChange: PresenceChange;
  /** True when this tap repeats one already counted (double touch): journal it, do not count it. */
  repeat: boolean;
  /** Convenience kiosk: open a session of this many seconds. */
  sessionSeconds?: number;
  insurance?: InsuranceDetails;
}
