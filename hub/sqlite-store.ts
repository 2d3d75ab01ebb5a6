// The reference hub's storage on SQLite (better-sqlite3, WAL). One file holds terminals, each feed's
// state and signed batches, the journals pushed by terminals and the presence they imply.
import { randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { KioskError } from '../base/errors.js';
import { Feeds, type FeedName, type PushRecord, type TerminalStatusReport } from '../protocol/sync.js';
import { openDb, migrate, type Db, type Migration } from '../whitelist/db.js';
import { chainHash } from '../whitelist/journal.js';
import type { PeerEntryOp } from '../protocol/feed-format.js';
import type {
  FeedInfo,
  FeedKey,
  HubStore,
  JournalAcceptance,
  JournalPush,
  PresenceRow,
  Publication,
  StoredBatch,
  TerminalRecord,
  TerminalRegistration,
} from './store.js';
import { peerFeedKey } from './store.js';
import {
  conflictPolicy,
  presenceRecordFacts,
  type ConflictEntry,
  type EntryConflict,
  type PresenceRecordFacts,
} from './conflicts.js';

const migrations: Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE terminal (id TEXT PRIMARY KEY, public_key TEXT NOT NULL, site_id TEXT NOT NULL,
        gate_id TEXT NOT NULL, zone TEXT NOT NULL, site_kind TEXT NOT NULL, registered_at INTEGER NOT NULL,
        last_seen_at INTEGER, status TEXT, acked INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
      CREATE TABLE feed (feed TEXT PRIMARY KEY, epoch TEXT NOT NULL, head INTEGER NOT NULL,
        rows INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;
      CREATE TABLE batch (feed TEXT NOT NULL, to_seq INTEGER NOT NULL, from_seq INTEGER NOT NULL,
        ops INTEGER NOT NULL, published_at INTEGER NOT NULL, frame_gz BLOB NOT NULL,
        PRIMARY KEY (feed, to_seq)) WITHOUT ROWID;
      CREATE TABLE state (feed TEXT NOT NULL, k BLOB NOT NULL, h BLOB NOT NULL, v BLOB NOT NULL,
        scope TEXT NOT NULL, PRIMARY KEY (feed, k)) WITHOUT ROWID;
      CREATE TABLE publication (id INTEGER PRIMARY KEY, feed TEXT NOT NULL, at INTEGER NOT NULL,
        puts INTEGER NOT NULL, dels INTEGER NOT NULL, note TEXT NOT NULL);
      CREATE TABLE journal (terminal_id TEXT NOT NULL, seq INTEGER NOT NULL, body TEXT NOT NULL,
        hash TEXT NOT NULL, received_at INTEGER NOT NULL, PRIMARY KEY (terminal_id, seq)) WITHOUT ROWID;
      CREATE TABLE presence (site_id TEXT NOT NULL, subject TEXT NOT NULL, state TEXT NOT NULL,
        gate_id TEXT NOT NULL, terminal_id TEXT NOT NULL, at INTEGER NOT NULL,
        PRIMARY KEY (site_id, subject)) WITHOUT ROWID;
      CREATE TABLE crl (issuer TEXT PRIMARY KEY, crl_number TEXT, this_update INTEGER NOT NULL) WITHOUT ROWID;
    `,
  },
  {
    // presence keeps only the latest state; telling whether an entry overlapped another one when journals
    // arrive late and out of order needs each site's presence changes in record-time order.
    version: 2,
    sql: `
      CREATE TABLE presence_event (terminal_id TEXT NOT NULL, seq INTEGER NOT NULL, site_id TEXT NOT NULL,
        subject TEXT NOT NULL, state TEXT NOT NULL, gate_id TEXT NOT NULL, at INTEGER NOT NULL,
        grant_seq INTEGER NOT NULL, annulled INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (terminal_id, seq)) WITHOUT ROWID;
      CREATE INDEX presence_event_by_subject ON presence_event (site_id, subject, at);
      CREATE INDEX presence_event_by_grant ON presence_event (terminal_id, grant_seq);
      CREATE TABLE entry_conflict (id INTEGER PRIMARY KEY, site_id TEXT NOT NULL, subject TEXT NOT NULL,
        earlier_terminal_id TEXT NOT NULL, earlier_gate_id TEXT NOT NULL, earlier_seq INTEGER NOT NULL,
        earlier_at INTEGER NOT NULL, later_terminal_id TEXT NOT NULL, later_gate_id TEXT NOT NULL,
        later_seq INTEGER NOT NULL, later_at INTEGER NOT NULL, detected_at INTEGER NOT NULL,
        resolved_at INTEGER, resolved_by TEXT, note TEXT,
        UNIQUE (earlier_terminal_id, earlier_seq, later_terminal_id, later_seq));
      CREATE INDEX entry_conflict_by_site ON entry_conflict (site_id, resolved_at);
    `,
  },
];

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

const ZERO_HASH = Buffer.alloc(32);

interface TerminalRow {
  id: string;
  public_key: string;
  site_id: string;
  gate_id: string;
  zone: string;
  site_kind: string;
  registered_at: number;
  last_seen_at: number | null;
  status: string | null;
  acked: number;
}

function toTerminal(r: TerminalRow): TerminalRecord {
  return {
    terminalId: r.id,
    publicKeyPem: r.public_key,
    siteId: r.site_id,
    gateId: r.gate_id,
    zone: r.zone,
    siteKind: r.site_kind,
    registeredAt: r.registered_at,
    lastSeenAt: r.last_seen_at,
    status: r.status ? (JSON.parse(r.status) as TerminalStatusReport) : null,
    acked: r.acked,
  };
}

export class SqliteHubStore implements HubStore {
  readonly db: Db;

  constructor(readonly file: string) {
    this.db = openDb(file, { durability: 'full' });
    this.db.pragma('cache_size = -131072'); // a server: 128 MiB of page cache for imports and snapshots
    migrate(this.db, migrations, file);
    const insert = this.db.prepare('INSERT OR IGNORE INTO feed (feed, epoch, head) VALUES (?, ?, 0)');
    for (const f of Feeds) insert.run(f, randomBytes(8).toString('hex'));
    this.feedStmt = this.db.prepare('SELECT epoch, head, rows FROM feed WHERE feed = ?');
    this.oldestStmt = this.db.prepare(
      'SELECT from_seq AS m FROM batch WHERE feed = ? ORDER BY to_seq LIMIT 1',
    );
  }

  private readonly stmts = new Map<string, Statement>();
  /** Prepared statements, prepared once per connection. */
  private q(sql: string): Statement {
    let st = this.stmts.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.stmts.set(sql, st);
    }
    return st;
  }

  private readonly feedStmt: Statement;
  private readonly oldestStmt: Statement;

  /** Recounts a feed's rows (after a publication or a bulk load). */
  recount(feed: FeedName): void {
    this.db
      .prepare('UPDATE feed SET rows = (SELECT COUNT(*) FROM state WHERE feed = ?) WHERE feed = ?')
      .run(feed, feed);
  }

  close(): void {
    this.db.close();
  }

  registerTerminal(t: TerminalRegistration, at: number): void {
    this.db
      .prepare(
        `INSERT INTO terminal (id, public_key, site_id, gate_id, zone, site_kind, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET public_key = excluded.public_key, site_id = excluded.site_id,
           gate_id = excluded.gate_id, zone = excluded.zone, site_kind = excluded.site_kind`,
      )
      .run(t.terminalId, t.publicKeyPem, t.siteId, t.gateId, t.zone, t.siteKind, at);
  }

  terminal(terminalId: string): TerminalRecord | null {
    const row = this.q('SELECT * FROM terminal WHERE id = ?').get(terminalId) as TerminalRow | undefined;
    return row ? toTerminal(row) : null;
  }

  terminals(): TerminalRecord[] {
    return (this.q('SELECT * FROM terminal ORDER BY site_id, id').all() as TerminalRow[]).map(toTerminal);
  }

  noteSeen(terminalId: string, at: number, status: TerminalStatusReport | null): void {
    this.noteSeenMany([{ terminalId, at, status }]);
  }

  noteSeenMany(seen: Array<{ terminalId: string; at: number; status: TerminalStatusReport | null }>): void {
    this.db.transaction(() => {
      for (const s of seen) this.noteOne(s.terminalId, s.at, s.status);
    })();
  }

  private noteOne(terminalId: string, at: number, status: TerminalStatusReport | null): void {
    if (status)
      this.db
        .prepare('UPDATE terminal SET last_seen_at = ?, status = ? WHERE id = ?')
        .run(at, JSON.stringify(status), terminalId);
    else this.q('UPDATE terminal SET last_seen_at = ? WHERE id = ?').run(at, terminalId);
  }

  feedInfo(feed: FeedKey): FeedInfo {
    let f = this.feedStmt.get(feed) as { epoch: string; head: number; rows: number } | undefined;
    if (!f && feed.startsWith('peer-entries@')) {
      this.q('INSERT OR IGNORE INTO feed (feed, epoch, head) VALUES (?, ?, 0)').run(
        feed,
        randomBytes(8).toString('hex'),
      );
      f = this.feedStmt.get(feed) as { epoch: string; head: number; rows: number } | undefined;
    }
    if (!f) throw new KioskError('STORE_CORRUPT', `hub: feed ${feed} missing`);
    const oldest = this.oldestStmt.get(feed) as { m: number } | undefined;
    return { feed, epoch: f.epoch, head: f.head, oldestFrom: oldest?.m ?? f.head, rows: f.rows };
  }

  batchesAfter(feed: FeedKey, after: number, limit: number): StoredBatch[] {
    return (
      this.db
        .prepare(
          'SELECT from_seq, to_seq, frame_gz FROM batch WHERE feed = ? AND to_seq > ? ORDER BY to_seq LIMIT ?',
        )
        .all(feed, after, limit) as Array<{ from_seq: number; to_seq: number; frame_gz: Buffer }>
    ).map((r) => ({ fromSeq: r.from_seq, toSeq: r.to_seq, frameGz: r.frame_gz }));
  }

  opsAfter(feed: FeedKey, after: number): number {
    const r = this.db
      .prepare('SELECT COALESCE(SUM(ops), 0) AS n FROM batch WHERE feed = ? AND to_seq > ?')
      .get(feed, after) as {
      n: number;
    };
    return r.n;
  }

  stateDigests(feed: FeedName, scope?: string): Map<string, string> {
    const stmt =
      scope === undefined
        ? this.db.prepare('SELECT k, h FROM state WHERE feed = ?').bind(feed)
        : this.db.prepare('SELECT k, h FROM state WHERE feed = ? AND scope = ?').bind(feed, scope);
    const out = new Map<string, string>();
    for (const r of stmt.iterate() as IterableIterator<{ k: Buffer; h: Buffer }>)
      out.set(r.k.toString('hex'), r.h.toString('hex'));
    return out;
  }

  readState(feed: FeedName): { seq: number; rows: Iterable<{ k: Buffer; v: Buffer }>; close(): void } {
    // A second connection holding a read transaction: the rows and the sequence are one consistent view
    // while imports keep committing on the main connection.
    const reader = openDb(this.file, { durability: 'full', readonly: true });
    reader.exec('BEGIN');
    const head = reader.prepare('SELECT head FROM feed WHERE feed = ?').get(feed) as { head: number };
    const rows = reader
      .prepare('SELECT k, v FROM state WHERE feed = ? ORDER BY k')
      .iterate(feed) as IterableIterator<{
      k: Buffer;
      v: Buffer;
    }>;
    return {
      seq: head.head,
      rows,
      close: () => {
        try {
          rows.return?.();
          reader.exec('COMMIT');
        } finally {
          reader.close();
        }
      },
    };
  }

  publish(p: Publication): void {
    const put = this.q(
      'INSERT INTO state (feed, k, h, v, scope) VALUES (?, ?, ?, ?, ?) ON CONFLICT (feed, k) DO UPDATE SET h = excluded.h, v = excluded.v, scope = excluded.scope',
    );
    const del = this.q('DELETE FROM state WHERE feed = ? AND k = ?');
    const batch = this.q(
      'INSERT INTO batch (feed, to_seq, from_seq, ops, published_at, frame_gz) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      let head = this.feedInfo(p.feed).head;
      for (const b of p.batches) {
        if (b.fromSeq !== head)
          throw new KioskError('INTERNAL', `hub: batch from ${b.fromSeq} does not follow ${head}`);
        batch.run(p.feed, b.toSeq, b.fromSeq, b.opCount, b.publishedAt, b.frameGz);
        head = b.toSeq;
      }
      for (const r of p.puts) put.run(p.feed, r.k, r.h, r.v, r.scope);
      for (const k of p.dels) del.run(p.feed, k);
      this.q('UPDATE feed SET head = ? WHERE feed = ?').run(head, p.feed);
      this.recount(p.feed);
      this.db
        .prepare('INSERT INTO publication (feed, at, puts, dels, note) VALUES (?, ?, ?, ?, ?)')
        .run(p.feed, p.batches[0]?.publishedAt ?? Date.now(), p.puts.length, p.dels.length, p.note);
    })();
  }

  acceptJournal(
    terminalId: string,
    rows: PushRecord[],
    at: number,
    toPresence: (row: PushRecord, lookup: (seq: number) => PushRecord | null) => PeerEntryOp | null,
    makeBatch: (fromSeq: number, ops: PeerEntryOp[]) => StoredBatch,
  ): JournalAcceptance {
    const get = this.q('SELECT seq, body, hash FROM journal WHERE terminal_id = ? AND seq = ?');
    const insert = this.q(
      'INSERT INTO journal (terminal_id, seq, body, hash, received_at) VALUES (?, ?, ?, ?, ?)',
    );
    const lookup = (seq: number): PushRecord | null =>
      (get.get(terminalId, seq) as PushRecord | undefined) ?? null;
    return this.db.transaction((): JournalAcceptance => {
      let accepted = 0;
      let duplicates = 0;
      const presence: PeerEntryOp[] = [];
      const presenceRows: Array<{ op: PeerEntryOp; row: PushRecord }> = [];
      const sorted = [...rows].sort((a, b) => a.seq - b.seq);
      for (const row of sorted) {
        const held = lookup(row.seq);
        if (held) {
          if (held.hash !== row.hash || held.body !== row.body)
            throw new KioskError(
              'JOURNAL_BROKEN',
              `${terminalId}: record ${row.seq} differs from the one already held`,
            );
          duplicates++;
          continue;
        }
        const prev = row.seq === 1 ? { hash: ZERO_HASH.toString('hex') } : lookup(row.seq - 1);
        if (prev && chainHash(Buffer.from(prev.hash, 'hex'), row.body).toString('hex') !== row.hash)
          throw new KioskError(
            'JOURNAL_BROKEN',
            `${terminalId}: record ${row.seq} does not chain to ${row.seq - 1}`,
          );
        insert.run(terminalId, row.seq, row.body, row.hash, at);
        accepted++;
        const op = toPresence(row, lookup);
        if (op) {
          presence.push(op);
          presenceRows.push({ op, row });
        }
      }
      // Advance the gap-free watermark.
      const t = this.q('SELECT acked FROM terminal WHERE id = ?').get(terminalId) as
        { acked: number } | undefined;
      if (!t) throw new KioskError('HUB_UNKNOWN_TERMINAL', `terminal ${terminalId} is not registered`);
      let acked = t.acked;
      const has = this.q('SELECT 1 FROM journal WHERE terminal_id = ? AND seq = ?').pluck();
      while (has.get(terminalId, acked + 1)) acked++;
      this.q('UPDATE terminal SET acked = ? WHERE id = ?').run(acked, terminalId);
      if (presence.length > 0) {
        const siteRow = this.q('SELECT site_id, site_kind FROM terminal WHERE id = ?').get(terminalId) as
          { site_id: string; site_kind: string } | undefined;
        const site = siteRow?.site_id ?? '';
        const key = peerFeedKey(site);
        const head = this.feedInfo(key).head;
        const b = makeBatch(head, presence);
        this.db
          .prepare(
            'INSERT INTO batch (feed, to_seq, from_seq, ops, published_at, frame_gz) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(key, b.toSeq, b.fromSeq, presence.length, at, b.frameGz);
        this.q('UPDATE feed SET head = ? WHERE feed = ?').run(b.toSeq, key);
        const setPresence = this.q(
          `INSERT INTO presence (site_id, subject, state, gate_id, terminal_id, at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (site_id, subject) DO UPDATE SET state = excluded.state, gate_id = excluded.gate_id,
             terminal_id = excluded.terminal_id, at = excluded.at WHERE excluded.at >= presence.at`,
        );
        for (const op of presence)
          setPresence.run(site, op.subject, op.state, op.gateId, op.terminalId, op.at);
        if (siteRow && conflictPolicy(siteRow.site_kind) === 'record')
          for (const { op, row } of presenceRows) {
            const facts = presenceRecordFacts(row);
            if (facts) this.trackEntry(site, op, facts, at);
          }
      }
      return { accepted, duplicates, acked, presence };
    })();
  }

  acceptJournalMany(items: JournalPush[]): Array<JournalAcceptance | Error> {
    return this.db.transaction(() =>
      items.map((i) => {
        try {
          return this.acceptJournal(i.terminalId, i.rows, i.at, i.toPresence, i.makeBatch);
        } catch (error) {
          return error instanceof Error ? error : new Error(String(error));
        }
      }),
    )();
  }

  journalCount(terminalId?: string): number {
    return (
      terminalId === undefined
        ? this.q('SELECT COUNT(*) FROM journal').pluck().get()
        : this.q('SELECT COUNT(*) FROM journal WHERE terminal_id = ?').pluck().get(terminalId)
    ) as number;
  }

  crlState(issuerKeyId: string): { crlNumber: string | null; thisUpdate: number } | null {
    const r = this.q('SELECT crl_number, this_update FROM crl WHERE issuer = ?').get(issuerKeyId) as
      { crl_number: string | null; this_update: number } | undefined;
    return r ? { crlNumber: r.crl_number, thisUpdate: r.this_update } : null;
  }

  setCrlState(issuerKeyId: string, crlNumber: string | null, thisUpdate: number): void {
    this.db
      .prepare(
        'INSERT INTO crl (issuer, crl_number, this_update) VALUES (?, ?, ?) ON CONFLICT (issuer) DO UPDATE SET crl_number = excluded.crl_number, this_update = excluded.this_update',
      )
      .run(issuerKeyId, crlNumber, thisUpdate);
  }

  /**
   * Records one presence change in record-time order and compares an admission with its neighbours at
   * the site: the change just before it (someone already inside through another terminal makes this
   * entry the later, conflicting one) and the change just after it (a journal that arrives late can be
   * the earlier entry of one already held). Annulled grants do not count as inside, like in presence.ts.
   */
  private trackEntry(site: string, op: PeerEntryOp, facts: PresenceRecordFacts, detectedAt: number): void {
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

  presence(siteId?: string): PresenceRow[] {
    const rows = (
      siteId === undefined
        ? this.q('SELECT * FROM presence ORDER BY site_id, at DESC').all()
        : this.q('SELECT * FROM presence WHERE site_id = ? ORDER BY at DESC').all(siteId)
    ) as Array<{
      site_id: string;
      subject: string;
      state: 'inside' | 'outside';
      gate_id: string;
      terminal_id: string;
      at: number;
    }>;
    return rows.map((r) => ({
      siteId: r.site_id,
      subject: r.subject,
      state: r.state,
      gateId: r.gate_id,
      terminalId: r.terminal_id,
      at: r.at,
    }));
  }
}
