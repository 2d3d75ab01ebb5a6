// The entry ledger: the only writer of journal records and presence, so that the two never disagree.
// A decision is made durable in the journal before anyone is told "admitted"; presence moves at once,
// or once the gate reports the passage; staff annulments and their reversals undo and redo exactly what
// the entry did. It also keeps the recent decisions staff act on and the admits for double touches.
import { performance } from 'node:perf_hooks';
import type { Clock } from '../../../base/clock.js';
import type { Decision, Direction } from '../../../base/decision.js';
import { KioskError } from '../../../base/errors.js';
import type { KioskConfig } from '../../../config/load.js';
import type { KioskData } from '../../../whitelist/kiosk-data.js';
import type { JournalEntryInput } from '../../../protocol/journal-record.js';
import type { CommandResponse } from '../../api/contract.js';
import { contractAnnulReason, type GateOutcome, type PassageRecorder } from '../actuators/index.js';
import type { CheckResult } from '../check/pipeline.js';
import type { RecentView } from '../sites/index.js';

const RECENT_ADMIT_KEEP_MS = 10 * 60_000;
const RECENT_ADMIT_MAX = 10_000;
const RECENT_KEPT = 200;

type PresenceState = 'inside' | 'outside';
type AnnulReason = CommandResponse<'recentDecisions'>[number]['annulReason'];

export interface RecentEntry extends RecentView {
  annulled: boolean;
  annulReason: AnnulReason;
  /** Presence the decision moved (to restore on annulment). */
  presence: { subject: string; to: PresenceState } | null;
}

/** A grant whose presence waits for the gate to report the passage. */
interface PendingGrant {
  subject: string;
  to: PresenceState;
  direction: Direction;
  decisionId: string;
}

export interface LedgerSite {
  gateId: string;
  zone: string;
}

export interface EntryLedgerOptions {
  config: KioskConfig;
  clock: Clock;
  /** The stores; throws STORE_UNAVAILABLE when they are not open. */
  stores: () => KioskData;
  /** The lane the terminal serves now (staff may switch it). */
  site: () => LedgerSite;
  /** Another gate should learn of a presence change soon (through the hub). */
  presenceMoved?: () => void;
  /** Who records: the configured terminal and site unless enrolment at the screen changed them. */
  identity?: () => { terminalId: string; siteId: string };
}

export interface Committed {
  decision: Decision;
  /** True when presence waits for the gate's passage report. */
  waitsForPassage: boolean;
  /** The decision moved presence (now, or on passage). */
  movesPresence: boolean;
}

export class EntryLedger {
  /** Admitted serial refs → when (double touch); insertion order is age order. */
  readonly recentAdmits = new Map<string, number>();
  private readonly recentList: RecentEntry[] = [];
  private readonly pending = new Map<string, PendingGrant>();

  constructor(private readonly options: EntryLedgerOptions) {}

  private identity(): { terminalId: string; siteId: string } {
    const { site } = this.options.config;
    return this.options.identity?.() ?? { terminalId: site.terminalId, siteId: site.siteId };
  }

  // ------------------------------------------------------------------------------------------------
  // Decisions

  /** Journals the decision (durably, before it is shown), moves presence unless a gate will report it. */
  commit(result: CheckResult, gateReportsPassage: boolean): Committed {
    const { config } = this.options;
    const data = this.options.stores();
    const site = this.options.site();
    const start = performance.now();
    const { decision, policy, subject, serialRef } = result;
    const admitted = decision.outcome === 'admitted';
    const change = admitted && policy && !policy.repeat ? policy.presenceChange : null;
    const waitsForPassage = Boolean(
      change && subject && gateReportsPassage && config.policy.stadium.antiPassback.commitOn === 'passage',
    );
    const record = data.journal.append({
      kind: waitsForPassage ? 'grant' : 'decision',
      terminalId: this.identity().terminalId,
      siteId: this.identity().siteId,
      gateId: site.gateId,
      direction: decision.direction,
      ...(subject ? { subject } : {}),
      ...(serialRef ? { serialRef } : {}),
      outcome: decision.outcome,
      reasons: decision.reasons,
      ...(decision.authPath ? { authPath: decision.authPath } : {}),
      decisionId: decision.id,
      wall: decision.at,
    });
    const at = Date.parse(decision.at);
    if (admitted && serialRef && !policy?.repeat) this.rememberAdmit(serialRef, at);
    if (change && subject && !waitsForPassage) this.setPresence(subject, change.to, at);
    const journalMs = Math.round((performance.now() - start) * 1000) / 1000;
    const timings = decision.timings.filter((t) => t.stage !== 'total');
    const total = (decision.timings.find((t) => t.stage === 'total')?.ms ?? 0) + journalMs;
    const committed: Decision = {
      ...decision,
      journalSeq: record.seq,
      timings: [
        ...timings,
        { stage: 'journal', ms: journalMs },
        { stage: 'total', ms: Math.round(total * 1000) / 1000 },
      ],
    };
    if (waitsForPassage && change && subject) {
      this.pending.set(String(record.seq), {
        subject,
        to: change.to,
        direction: decision.direction,
        decisionId: decision.id,
      });
    }
    this.remember({
      decision: committed,
      annulled: false,
      annulReason: null,
      subject,
      serialRef,
      presence: change && subject ? { subject, to: change.to } : null,
    });
    return { decision: committed, waitsForPassage, movesPresence: Boolean(change) };
  }

  /** A kiosk service step: ids, codes and amounts only (nothing that names the person). */
  service(entry: {
    decisionId: string;
    serialRef: string | null;
    service: NonNullable<JournalEntryInput['service']>;
    note?: string;
  }): { journalSeq: number } {
    const data = this.options.stores();
    const site = this.options.site();
    const record = data.journal.append({
      kind: 'service',
      terminalId: this.identity().terminalId,
      siteId: this.identity().siteId,
      gateId: site.gateId,
      direction: 'entry',
      ...(entry.serialRef ? { serialRef: entry.serialRef } : {}),
      decisionId: entry.decisionId,
      service: entry.service,
      ...(entry.note ? { note: entry.note } : {}),
      wall: new Date(this.options.clock.now()).toISOString(),
    });
    return { journalSeq: record.seq };
  }

  /** Newest first. */
  recent(limit: number): RecentEntry[] {
    return this.recentList.slice(0, limit);
  }

  find(decisionId: string): RecentEntry {
    const entry = this.recentList.find((r) => r.decision.id === decisionId);
    if (!entry)
      throw new KioskError('INVALID_REQUEST', `decision ${decisionId} is not among the recent decisions`);
    return entry;
  }

  /** Drops a decision from memory (a closed patron session leaves nothing behind). */
  forget(decisionId: string): void {
    const index = this.recentList.findIndex((r) => r.decision.id === decisionId);
    if (index >= 0) this.recentList.splice(index, 1);
  }

  // ------------------------------------------------------------------------------------------------
  // Staff: annul an entry, and reverse the annulment

  annul(decisionId: string, reason: NonNullable<AnnulReason>, note?: string): { journalSeq: number } {
    const data = this.options.stores();
    const entry = this.find(decisionId);
    if (entry.annulled) throw new KioskError('INVALID_REQUEST', 'this entry is already annulled');
    const record = this.append(data, entry, {
      kind: 'staff-annul',
      ...(entry.serialRef ? { serialRef: entry.serialRef } : {}),
      note: note ? `${reason}: ${note}` : reason,
    });
    if (entry.presence) {
      // Undo what the entry did to presence, so anti-passback does not hold an annulled entry against them.
      const undone = entry.presence.to === 'inside' ? 'outside' : 'inside';
      this.setPresence(entry.presence.subject, undone, this.options.clock.now());
    }
    if (entry.serialRef) this.recentAdmits.delete(entry.serialRef);
    entry.annulled = true;
    entry.annulReason = reason;
    return { journalSeq: record.seq };
  }

  /** Staff saw the person go through after all (no gate holds the annulment): a passage in the journal. */
  reverseAnnulment(decisionId: string): { journalSeq: number } {
    const data = this.options.stores();
    const entry = this.find(decisionId);
    if (!entry.annulled) throw new KioskError('INVALID_REQUEST', 'this entry is not annulled');
    this.append(data, entry, { kind: 'passage', note: 'staff reversed the annulment' });
    if (entry.presence) this.setPresence(entry.presence.subject, entry.presence.to, this.options.clock.now());
    entry.annulled = false;
    entry.annulReason = null;
    return { journalSeq: data.journal.head().seq };
  }

  /** The entry, checked to be annulled, with the gate's reference for its grant. */
  annulledGrantRef(decisionId: string): string {
    const entry = this.find(decisionId);
    if (!entry.annulled) throw new KioskError('INVALID_REQUEST', 'this entry is not annulled');
    return String(entry.decision.journalSeq);
  }

  // ------------------------------------------------------------------------------------------------
  // The gate's reports

  /** What the gate reports about a grant: a passage moves presence, an annulment never does. */
  passageRecorder(): PassageRecorder {
    return {
      recordPassage: (grantRef, detail) => {
        const grant = this.gateRecord(
          grantRef,
          'passage',
          detail.evidence === 'assumed' ? 'passage assumed (no sensor)' : undefined,
        );
        if (grant) this.setPresence(grant.subject, grant.to, Date.parse(detail.passedAt));
        this.pending.delete(grantRef);
        this.options.presenceMoved?.();
      },
      recordAnnulment: (grantRef, reason) => {
        this.gateRecord(grantRef, 'annulment', reason);
        // Presence does not move: the person never went through, so anti-passback must not lock them out.
      },
      recordAnnulmentReversal: (grantRef, detail) => {
        const grant = this.gateRecord(grantRef, 'passage', `staff ${detail.staffRef} reversed the annulment`);
        if (grant) this.setPresence(grant.subject, grant.to, Date.parse(detail.reversedAt));
        this.pending.delete(grantRef);
        const entry = this.byGrantRef(grantRef);
        if (entry) {
          entry.annulled = false;
          entry.annulReason = null;
        }
      },
    };
  }

  /** The gate settled a grant: an annulment shows on the staff list. */
  gateOutcome(outcome: GateOutcome): void {
    const entry = this.byGrantRef(outcome.grantRef);
    if (entry && outcome.result === 'annulled') {
      entry.annulled = true;
      entry.annulReason = contractAnnulReason(outcome.reason);
    }
  }

  // ------------------------------------------------------------------------------------------------

  private gateRecord(
    grantRef: string,
    kind: 'passage' | 'annulment',
    note: string | undefined,
  ): PendingGrant | undefined {
    const grant = this.pending.get(grantRef);
    const decision = this.byGrantRef(grantRef)?.decision;
    const direction = grant?.direction ?? decision?.direction;
    // A gate report for a grant this terminal does not know has no direction to journal: never guess one.
    if (!direction)
      throw new KioskError(
        'ENTRY_UNKNOWN',
        `the gate reported grant ${grantRef}, which is not a known entry`,
      );
    this.options.stores().journal.append({
      kind,
      terminalId: this.identity().terminalId,
      siteId: this.identity().siteId,
      gateId: this.options.site().gateId,
      direction,
      ...(grant ? { subject: grant.subject } : {}),
      ref: Number(grantRef),
      ...((grant?.decisionId ?? decision?.id) ? { decisionId: grant?.decisionId ?? decision!.id } : {}),
      ...(note ? { note } : {}),
    });
    return grant;
  }

  private append(
    data: KioskData,
    entry: RecentEntry,
    record: { kind: 'staff-annul' | 'passage'; serialRef?: string; note: string },
  ) {
    return data.journal.append({
      kind: record.kind,
      terminalId: this.identity().terminalId,
      siteId: this.identity().siteId,
      gateId: this.options.site().gateId,
      direction: entry.decision.direction,
      ...(entry.subject ? { subject: entry.subject } : {}),
      ...(record.serialRef ? { serialRef: record.serialRef } : {}),
      decisionId: entry.decision.id,
      ...(entry.decision.journalSeq ? { ref: entry.decision.journalSeq } : {}),
      note: record.note,
    });
  }

  private setPresence(subject: string, state: PresenceState, at: number): void {
    const site = this.options.site();
    this.options.stores().terminal.setPresence({
      subject,
      state,
      terminalId: this.identity().terminalId,
      gateId: site.gateId,
      zone: site.zone,
      at,
    });
  }

  private byGrantRef(grantRef: string): RecentEntry | undefined {
    return this.recentList.find((r) => String(r.decision.journalSeq) === grantRef);
  }

  private remember(entry: RecentEntry): void {
    this.recentList.unshift(entry);
    if (this.recentList.length > RECENT_KEPT) this.recentList.length = RECENT_KEPT;
  }

  private rememberAdmit(key: string, at: number): void {
    const map = this.recentAdmits;
    map.delete(key);
    map.set(key, at);
    // Insertion order is age order: drop the oldest beyond the window or the cap.
    for (const [k, t] of map) {
      if (map.size <= RECENT_ADMIT_MAX && at - t < RECENT_ADMIT_KEEP_MS) break;
      map.delete(k);
    }
  }
}
