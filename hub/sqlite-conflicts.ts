// Double entries across terminals, on the hub's SQLite tables `presence_event` and `entry_conflict`:
// each presence change a journal brings is recorded in record-time order and compared with its
// neighbours, so that an overlap is found even when journals arrive late and out of order. Apart from
// SqliteHubStore because it is one policy (conflicts.ts) with its own tables; the store calls `track`
// inside the transaction that accepts a journal.
import type { Statement } from 'better-sqlite3';
import { KioskError } from '../base/errors.js';
import type { Db } from '../whitelist/db.js';
import type { PeerEntryOp } from '../protocol/feed-format.js';
import type { ConflictEntry, EntryConflict, PresenceRecordFacts } from './conflicts.js';

interface PresenceEventRow {
  terminal_id: string;
  seq: number;
  state: 'inside' | 'outside';
  gate_id: string;
  at: number;
  grant_seq: number;
}

interface ConflictRow {
  id: number;
  site_id: string;
  subject: string;
  earlier_terminal_id: string;
  earlier_gate_id: string;
  earlier_seq: number;
  earlier_at: number;
  later_terminal_id: string;
  later_gate_id: string;
  later_seq: number;
  later_at: number;
  detected_at: number;
  resolved_at: number | null;
  resolved_by: string | null;
  note: string | null;
}

function toConflict(r: ConflictRow): EntryConflict {
  return {
    id: r.id,
    siteId: r.site_id,
    subject: r.subject,
    earlier: {
      terminalId: r.earlier_terminal_id,
      gateId: r.earlier_gate_id,
      at: r.earlier_at,
      journalSeq: r.earlier_seq,
    },
    later: {
      terminalId: r.later_terminal_id,
      gateId: r.later_gate_id,
      at: r.later_at,
      journalSeq: r.later_seq,
    },
    detectedAt: r.detected_at,
    resolvedAt: r.resolved_at,
    resolvedBy: r.resolved_by,
    note: r.note,
  };
}

/** Who closes conflicts the hub itself finds void (an annulment or an exit in between arrived later). */
const HUB_RESOLVER = 'hub';

export class ConflictTable {
  constructor(
    private readonly db: Db,
    /** The store's cache of prepared statements. */
    private readonly q: (sql: string) => Statement,
  ) {}

  /**
   * Records one presence change in record-time order and compares an admission with its neighbours at
   * the site: the change just before it (someone already inside through another terminal makes this
   * entry the later, conflicting one) and the change just after it (a journal that arrives late can be
   * the earlier entry of one already held). Annulled grants do not count as inside, like in presence.ts.
   */
  track(site: string, op: PeerEntryOp, facts: PresenceRecordFacts, detectedAt: number): void {
    this.q(
      `INSERT OR IGNORE INTO presence_event (terminal_id, seq, site_id, subject, state, gate_id, at, grant_seq, annulled)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      op.terminalId,
      op.journalSeq,
      site,
      op.subject,
      op.state,
      op.gateId,
      op.at,
      facts.grantSeq,
      facts.kind === 'annulment' ? 1 : 0,
    );
    if (facts.kind === 'annulment') {
      this.q('UPDATE presence_event SET annulled = 1 WHERE terminal_id = ? AND grant_seq = ?').run(
        op.terminalId,
        facts.grantSeq,
      );
      this.q(
        `UPDATE entry_conflict SET resolved_at = ?, resolved_by = ?, note = ?
         WHERE resolved_at IS NULL AND ((earlier_terminal_id = ? AND earlier_seq = ?) OR (later_terminal_id = ? AND later_seq = ?))`,
      ).run(
        detectedAt,
        HUB_RESOLVER,
        'the gate annulled one of the entries (the person did not go through)',
        op.terminalId,
        facts.grantSeq,
        op.terminalId,
        facts.grantSeq,
      );
      return;
    }
    if (op.state === 'outside') {
      this.q(
        `UPDATE entry_conflict SET resolved_at = ?, resolved_by = ?, note = ?
         WHERE resolved_at IS NULL AND site_id = ? AND subject = ? AND earlier_at < ? AND later_at > ?`,
      ).run(
        detectedAt,
        HUB_RESOLVER,
        'an exit between the two entries arrived later',
        site,
        op.subject,
        op.at,
        op.at,
      );
      return;
    }
    // A passage follows its own grant: the admission was already compared when the grant arrived.
    if (this.firstOfGrant(op.terminalId, facts.grantSeq).seq !== op.journalSeq) return;
    const self: ConflictEntry = {
      terminalId: op.terminalId,
      gateId: op.gateId,
      at: op.at,
      journalSeq: facts.grantSeq,
    };
    const before = this.q(
      `SELECT * FROM presence_event WHERE site_id = ? AND subject = ? AND annulled = 0 AND at <= ?
         AND NOT (terminal_id = ? AND grant_seq = ?) ORDER BY at DESC, seq DESC LIMIT 1`,
    ).get(site, op.subject, op.at, op.terminalId, facts.grantSeq) as PresenceEventRow | undefined;
    if (before && before.state === 'inside' && before.terminal_id !== op.terminalId) {
      const earlier = this.firstOfGrant(before.terminal_id, before.grant_seq);
      this.recordConflict(site, op.subject, this.asEntry(earlier), self, detectedAt);
    }
    const after = this.q(
      `SELECT * FROM presence_event WHERE site_id = ? AND subject = ? AND annulled = 0 AND at > ?
         AND NOT (terminal_id = ? AND grant_seq = ?) ORDER BY at, seq LIMIT 1`,
    ).get(site, op.subject, op.at, op.terminalId, facts.grantSeq) as PresenceEventRow | undefined;
    if (
      after &&
      after.state === 'inside' &&
      after.terminal_id !== op.terminalId &&
      this.firstOfGrant(after.terminal_id, after.grant_seq).seq === after.seq
    )
      this.recordConflict(site, op.subject, self, this.asEntry(after), detectedAt);
  }

  private firstOfGrant(terminalId: string, grantSeq: number): PresenceEventRow {
    return this.q(
      'SELECT * FROM presence_event WHERE terminal_id = ? AND grant_seq = ? ORDER BY at, seq LIMIT 1',
    ).get(terminalId, grantSeq) as PresenceEventRow;
  }

  private asEntry(e: PresenceEventRow): ConflictEntry {
    return { terminalId: e.terminal_id, gateId: e.gate_id, at: e.at, journalSeq: e.grant_seq };
  }

  private recordConflict(
    site: string,
    subject: string,
    earlier: ConflictEntry,
    later: ConflictEntry,
    detectedAt: number,
  ): void {
    this.q(
      `INSERT OR IGNORE INTO entry_conflict (site_id, subject, earlier_terminal_id, earlier_gate_id, earlier_seq,
         earlier_at, later_terminal_id, later_gate_id, later_seq, later_at, detected_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      site,
      subject,
      earlier.terminalId,
      earlier.gateId,
      earlier.journalSeq,
      earlier.at,
      later.terminalId,
      later.gateId,
      later.journalSeq,
      later.at,
      detectedAt,
    );
  }

  conflicts(filter: { siteId?: string; openOnly?: boolean } = {}): EntryConflict[] {
    const rows = this.q(
      `SELECT * FROM entry_conflict WHERE (@site IS NULL OR site_id = @site) AND (@openOnly = 0 OR resolved_at IS NULL)
       ORDER BY later_at DESC, id DESC`,
    ).all({ site: filter.siteId ?? null, openOnly: filter.openOnly ? 1 : 0 }) as ConflictRow[];
    return rows.map(toConflict);
  }

  resolveConflict(id: number, resolution: { note: string; by: string; at: number }): EntryConflict {
    return this.db.transaction((): EntryConflict => {
      const row = this.q('SELECT * FROM entry_conflict WHERE id = ?').get(id) as ConflictRow | undefined;
      if (!row) throw new KioskError('INVALID_REQUEST', `conflict ${id} does not exist`);
      if (row.resolved_at !== null)
        throw new KioskError('INVALID_REQUEST', `conflict ${id} is already resolved`);
      this.q('UPDATE entry_conflict SET resolved_at = ?, resolved_by = ?, note = ? WHERE id = ?').run(
        resolution.at,
        resolution.by,
        resolution.note,
        id,
      );
      return toConflict({
        ...row,
        resolved_at: resolution.at,
        resolved_by: resolution.by,
        note: resolution.note,
      });
    })();
  }
}
