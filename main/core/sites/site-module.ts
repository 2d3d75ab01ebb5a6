// What a kind of site is to the terminal: its policy, what it does after an entry is committed, the
// staff commands only it needs, and its occupancy count. The terminal runs the one the site selects and
// knows no kind by name.
import type { Decision } from '../../../base/decision.js';
import type { SiteFeatures, SiteKind } from '../../../base/site-kinds.js';
import type { KioskConfig } from '../../../config/load.js';
import type { KioskData } from '../../../whitelist/kiosk-data.js';
import type { KioskCommands } from '../../api/contract.js';
import type { CheckResult } from '../check/pipeline.js';
import type { SlipContent } from '../printing/slips.js';
import type { PolicyInput, PolicyResult } from './policy-types.js';
import type { ShelterRoster } from './shelter/roster.js';

/** A decision the staff can still act on (kept in memory, newest first). */
export interface RecentView {
  decision: Decision;
  subject: string | null;
  serialRef: string | null;
}

/** What a site module may use of the terminal: ports, never the terminal itself. */
export interface SitePorts {
  config: KioskConfig;
  /** The terminal's clock (epoch ms). */
  now(): number;
  /** The stores; throws STORE_UNAVAILABLE when they could not be opened. */
  stores(): KioskData;
  /** The shelter roster, where this terminal keeps one. */
  roster(): ShelterRoster | null;
  /** A recent decision by id; throws INVALID_REQUEST when it is not among them. */
  findRecent(decisionId: string): RecentView;
  /** Opens a patron session for an admitted decision (replacing any open one). */
  /** Opens the patron session, bound to the card (its serial reference) that opened it. */
  openSession(decisionId: string, seconds: number, serialRef: string | null): void;
  /** Something the status shows has changed. */
  changed(): void;
  /**
   * Prints a slip on the terminal's slip printer (printing.slipMedia), titled `slip:<tag>:<decision>`;
   * in the background and never throws: a missing printer or out of paper is the printer's state.
   */
  printSlip(content: SlipContent, tag: string, decisionId: string): void;
}

/** The staff commands that belong to one kind of site. */
export type SiteStaffCommands = Partial<
  Pick<KioskCommands, 'getRoster' | 'registerPerson' | 'sendToReception'>
>;

export interface SiteModule {
  readonly kind: SiteKind;
  readonly features: SiteFeatures;
  /** A gate at this kind of site reports the passage, and presence may wait for it (commitOn passage). */
  readonly passageAtGate: boolean;
  decide(input: PolicyInput): PolicyResult;
  /** Runs once the decision is journaled (roster update, session open); must not throw. */
  afterCommit(decision: Decision, result: CheckResult, ports: SitePorts): void;
  /** People inside for the status counter; null where the kind does not count them. */
  occupancy(ports: SitePorts): number | null;
  staffCommands(ports: SitePorts): SiteStaffCommands;
}
