// Double entries across terminals on the PostgreSQL tables `presence_event` and `entry_conflict`: the
// same policy and queries as sqlite-conflicts.ts (read that file for the why), in PostgreSQL's dialect;
// an entry's check runs as one server-side function (pg-schema.ts, migration 90).
// The store calls `track` inside the transaction that accepts a journal; that transaction holds the
// journal lock (pg-store.ts), so two instances never compare against each other's uncommitted entries.
import { KioskError } from '../base/errors.js';
import type { PeerEntryOp } from '../protocol/feed-format.js';
import type { EntryConflict, PresenceRecordFacts } from './conflicts.js';
import type { PgBridge, PgRow } from './pg-bridge.js';

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

  /**
   * A push's presence events in their order. Each run of entries is recorded and checked against the
   * neighbouring events by the server, in one statement (hub_track_entry, migration 90, called per row in
   * order; each call sees the ones before it); an exit or annulment is handled here between the runs.
   */
  trackAll(
    site: string,
    events: Array<{ op: PeerEntryOp; facts: PresenceRecordFacts }>,
    detectedAt: number,
  ): void {
    let run: Array<{ op: PeerEntryOp; facts: PresenceRecordFacts }> = [];
    const flush = () => {
      if (run.length === 0) return;
      this.db.query(
        `SELECT hub_track_entry($1, u.terminal_id, u.seq, u.subject, u.state, u.gate_id, u.at, u.grant_seq, $2)
         FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[])
           WITH ORDINALITY AS u(terminal_id, seq, subject, state, gate_id, at, grant_seq, n)
         ORDER BY u.n`,
        [
          site,
          detectedAt,
          run.map((e) => e.op.terminalId),
          run.map((e) => e.op.journalSeq ?? null),
          run.map((e) => e.op.subject),
          run.map((e) => e.op.state),
          run.map((e) => e.op.gateId),
          run.map((e) => e.op.at),
          run.map((e) => e.facts.grantSeq),
        ],
      );
      run = [];
    };
    for (const e of events) {
      if (e.facts.kind !== 'annulment' && e.op.state !== 'outside') run.push(e);
      else {
        flush();
        this.track(site, e.op, e.facts, detectedAt);
      }
    }
    flush();
  }

  /** An exit or an annulment (entries go through trackAll). */
  private track(site: string, op: PeerEntryOp, facts: PresenceRecordFacts, detectedAt: number): void {
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
