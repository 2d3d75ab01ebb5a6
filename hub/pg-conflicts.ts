// Double entries across terminals on the PostgreSQL tables `presence_event` and `entry_conflict`: the
// same policy and queries as sqlite-conflicts.ts (read that file for the why), in PostgreSQL's dialect.
// The store calls `track` inside the transaction that accepts a journal; that transaction holds the
// journal lock (pg-store.ts), so two instances never compare against each other's uncommitted entries.
import { KioskError } from '../base/errors.js';
import type { PeerEntryOp } from '../protocol/feed-format.js';
import type { ConflictEntry, EntryConflict, PresenceRecordFacts } from './conflicts.js';
import type { PgBridge, PgRow } from './pg-bridge.js';

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

const HUB_RESOLVER = 'hub';

export class PgConflictTable {
  constructor(
    private readonly db: PgBridge,
    /** The store's transaction helper (a savepoint when already inside one). */
    private readonly tx: <T>(fn: () => T) => T,
  ) {}

  private rows<T>(sql: string, params: Array<string | number | null>): T[] {
    return this.db.query(sql, params).rows as PgRow[] as T[];
  }

  track(site: string, op: PeerEntryOp, facts: PresenceRecordFacts, detectedAt: number): void {
    this.db.query(
      `INSERT INTO presence_event (terminal_id, seq, site_id, subject, state, gate_id, at, grant_seq, annulled)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING`,
      [
        op.terminalId,
        op.journalSeq ?? null,
        site,
        op.subject,
        op.state,
        op.gateId,
        op.at,
        facts.grantSeq,
        facts.kind === 'annulment' ? 1 : 0,
      ],
    );
    if (facts.kind === 'annulment') {
      this.db.query('UPDATE presence_event SET annulled = 1 WHERE terminal_id = $1 AND grant_seq = $2', [
        op.terminalId,
        facts.grantSeq,
      ]);
      this.db.query(
        `UPDATE entry_conflict SET resolved_at = $1, resolved_by = $2, note = $3
         WHERE resolved_at IS NULL AND ((earlier_terminal_id = $4 AND earlier_seq = $5) OR (later_terminal_id = $4 AND later_seq = $5))`,
        [
          detectedAt,
          HUB_RESOLVER,
          'the gate annulled one of the entries (the person did not go through)',
          op.terminalId,
          facts.grantSeq,
        ],
      );
      return;
    }
    if (op.state === 'outside') {
      this.db.query(
        `UPDATE entry_conflict SET resolved_at = $1, resolved_by = $2, note = $3
         WHERE resolved_at IS NULL AND site_id = $4 AND subject = $5 AND earlier_at < $6 AND later_at > $6`,
        [detectedAt, HUB_RESOLVER, 'an exit between the two entries arrived later', site, op.subject, op.at],
      );
      return;
    }
    if (this.firstOfGrant(op.terminalId, facts.grantSeq).seq !== op.journalSeq) return;
    const self: ConflictEntry = {
      terminalId: op.terminalId,
      gateId: op.gateId,
      at: op.at,
      journalSeq: facts.grantSeq,
    };
    const [before] = this.rows<PresenceEventRow>(
      `SELECT * FROM presence_event WHERE site_id = $1 AND subject = $2 AND annulled = 0 AND at <= $3
         AND NOT (terminal_id = $4 AND grant_seq = $5) ORDER BY at DESC, seq DESC LIMIT 1`,
      [site, op.subject, op.at, op.terminalId, facts.grantSeq],
    );
    if (before && before.state === 'inside' && before.terminal_id !== op.terminalId) {
      const earlier = this.firstOfGrant(before.terminal_id, before.grant_seq);
      this.recordConflict(site, op.subject, this.asEntry(earlier), self, detectedAt);
    }
    const [after] = this.rows<PresenceEventRow>(
      `SELECT * FROM presence_event WHERE site_id = $1 AND subject = $2 AND annulled = 0 AND at > $3
         AND NOT (terminal_id = $4 AND grant_seq = $5) ORDER BY at, seq LIMIT 1`,
      [site, op.subject, op.at, op.terminalId, facts.grantSeq],
    );
    if (
      after &&
      after.state === 'inside' &&
      after.terminal_id !== op.terminalId &&
      this.firstOfGrant(after.terminal_id, after.grant_seq).seq === after.seq
    )
      this.recordConflict(site, op.subject, self, this.asEntry(after), detectedAt);
  }

  private firstOfGrant(terminalId: string, grantSeq: number): PresenceEventRow {
    return this.rows<PresenceEventRow>(
      'SELECT * FROM presence_event WHERE terminal_id = $1 AND grant_seq = $2 ORDER BY at, seq LIMIT 1',
      [terminalId, grantSeq],
    )[0]!;
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
    this.db.query(
      `INSERT INTO entry_conflict (site_id, subject, earlier_terminal_id, earlier_gate_id, earlier_seq,
         earlier_at, later_terminal_id, later_gate_id, later_seq, later_at, detected_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT DO NOTHING`,
      [
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
      ],
    );
  }

  conflicts(filter: { siteId?: string; openOnly?: boolean } = {}): EntryConflict[] {
    return this.rows<ConflictRow>(
      `SELECT * FROM entry_conflict WHERE ($1::text IS NULL OR site_id = $1) AND ($2::int = 0 OR resolved_at IS NULL)
       ORDER BY later_at DESC, id DESC`,
      [filter.siteId ?? null, filter.openOnly ? 1 : 0],
    ).map(toConflict);
  }

  resolveConflict(id: number, resolution: { note: string; by: string; at: number }): EntryConflict {
    return this.tx((): EntryConflict => {
      const [row] = this.rows<ConflictRow>('SELECT * FROM entry_conflict WHERE id = $1 FOR UPDATE', [id]);
      if (!row) throw new KioskError('INVALID_REQUEST', `conflict ${id} does not exist`);
      if (row.resolved_at !== null)
        throw new KioskError('INVALID_REQUEST', `conflict ${id} is already resolved`);
      this.db.query('UPDATE entry_conflict SET resolved_at = $1, resolved_by = $2, note = $3 WHERE id = $4', [
        resolution.at,
        resolution.by,
        resolution.note,
        id,
      ]);
      return toConflict({
        ...row,
        resolved_at: resolution.at,
        resolved_by: resolution.by,
        note: resolution.note,
      });
    });
  }
}
