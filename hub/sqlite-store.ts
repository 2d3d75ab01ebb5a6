// The reference hub's storage on SQLite (better-sqlite3, WAL). One file holds terminals, each feed's
// state and signed batches, the journals pushed by terminals and the presence they imply.
import { randomBytes } from 'node:crypto';
import type { Statement } from 'better-sqlite3';
import { KioskError } from '../base/errors.js';
import { Feeds, type FeedName, type PushRecord, type TerminalStatusReport } from '../protocol/sync.js';
import { openDb, migrate, type Db } from '../whitelist/db.js';
import { chainHash } from '../whitelist/journal.js';
import type { PeerEntryOp } from '../protocol/feed-format.js';
import { ZERO_DIGEST, chainDigestFromHash } from '../protocol/checkpoint.js';
import type { CrlIssuerStatus } from '../protocol/crl-status.js';
import type {
  CrlState,
  FeedInfo,
  FeedKey,
  HubStore,
  JournalAcceptance,
  JournalPush,
  PresenceRow,
  Publication,
  StoredBatch,
  EnrolmentCodeRecord,
  FramedStateRead,
  TransferCodeRecord,
  TerminalRecord,
  TerminalRegistration,
  TerminalState,
} from './store.js';
import { peerFeedKey, rootConflict, toFeedInfo, type FeedRow, type SharedRoot } from './store.js';
import { conflictPolicy, presenceRecordFacts, type EntryConflict } from './conflicts.js';
import { ConflictTable } from './sqlite-conflicts.js';
import { hubMigrations } from './sqlite-schema.js';

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
  state?: string;
  state_reason?: string | null;
  state_at?: number | null;
}

interface TransferCodeRow {
  code_sha256: string;
  purchaser_k: string;
  purchaser_scope: string;
  event_id: string;
  seat: string;
  sealed_spki: Buffer;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_by: string | null;
}

interface EnrolmentCodeRow {
  code_sha256: string;
  site_id: string;
  gate_id: string;
  zone: string;
  site_kind: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  used_by: string | null;
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
    state: (r.state ?? 'active') as TerminalState,
    stateReason: r.state_reason ?? null,
    stateAt: r.state_at ?? null,
  };
}

function toEnrolmentCode(r: EnrolmentCodeRow): EnrolmentCodeRecord {
  return {
    codeSha256: r.code_sha256,
    siteId: r.site_id,
    gateId: r.gate_id,
    zone: r.zone,
    siteKind: r.site_kind,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    usedAt: r.used_at,
    usedBy: r.used_by,
  };
}

/** State rows written by one INSERT statement in a publication. */
const PUT_GROUP = 64;
const CACHE_KIB = 131072;
/** The page cache while a streamed publication runs: it passes each page once, in key order. */
const STREAMED_CACHE_KIB = 16384;

export class SqliteHubStore implements HubStore {
  readonly db: Db;

  constructor(readonly file: string) {
    this.db = openDb(file, { durability: 'full' });
    this.db.pragma(`cache_size = -${CACHE_KIB}`); // a server: 128 MiB of page cache for imports and snapshots
    migrate(this.db, hubMigrations, file);
    this.conflictTable = new ConflictTable(this.db, (sql) => this.q(sql));
    const insert = this.db.prepare('INSERT OR IGNORE INTO feed (feed, epoch, head) VALUES (?, ?, 0)');
    for (const f of Feeds) insert.run(f, randomBytes(8).toString('hex'));
    // Every pull reads it: the head and the oldest batch in one statement.
    this.feedStmt = this.db.prepare(
      `SELECT epoch, head, rows, digest, lineage,
         (SELECT from_seq FROM batch b WHERE b.feed = f.feed ORDER BY to_seq LIMIT 1) AS oldest
       FROM feed f WHERE feed = ?`,
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
  private readonly conflictTable: ConflictTable;

  /** Recounts a feed's rows (after a publication or a bulk load). */
  recount(feed: FeedName): void {
    this.db
      .prepare('UPDATE feed SET rows = (SELECT COUNT(*) FROM state WHERE feed = ?) WHERE feed = ?')
      .run(feed, feed);
  }

  close(): void {
    this.nonceDb?.close();
    this.nonceDb = null;
    this.nonceStmts = null;
    this.db.close();
  }

  registerTerminal(t: TerminalRegistration, at: number): void {
    this.db.transaction(() => this.insertTerminal(t, at))();
  }

  /** Inside a transaction: refuses an id or a key already registered (the same registration again is a no-op). */
  private insertTerminal(t: TerminalRegistration, at: number): void {
    const existing = this.terminal(t.terminalId);
    if (existing) {
      const same =
        existing.publicKeyPem === t.publicKeyPem &&
        existing.siteId === t.siteId &&
        existing.gateId === t.gateId &&
        existing.zone === t.zone &&
        existing.siteKind === t.siteKind;
      if (same) return;
      throw new KioskError(
        'HUB_TERMINAL_EXISTS',
        `terminal ${t.terminalId} is already registered; change its key with \`hub terminals rotate-key\``,
      );
    }
    this.refuseKeyElsewhere(t.publicKeyPem, t.terminalId);
    this.q(
      `INSERT INTO terminal (id, public_key, site_id, gate_id, zone, site_kind, registered_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(t.terminalId, t.publicKeyPem, t.siteId, t.gateId, t.zone, t.siteKind, at);
  }

  private refuseKeyElsewhere(publicKeyPem: string, terminalId: string): void {
    const other = this.q('SELECT id FROM terminal WHERE public_key = ? AND id <> ?').get(
      publicKeyPem,
      terminalId,
    ) as { id: string } | undefined;
    if (other)
      throw new KioskError('ENROL_KEY_REGISTERED', `this key is already registered for terminal ${other.id}`);
  }

  replaceTerminalKey(terminalId: string, publicKeyPem: string, at: number): TerminalRecord {
    return this.db.transaction(() => {
      const t = this.terminal(terminalId);
      if (!t) throw new KioskError('HUB_UNKNOWN_TERMINAL', `terminal ${terminalId} is not registered`);
      if (t.state === 'retired')
        throw new KioskError('TERMINAL_RETIRED', `terminal ${terminalId} is retired`);
      this.refuseKeyElsewhere(publicKeyPem, terminalId);
      this.q('UPDATE terminal SET public_key = ?, state_at = ? WHERE id = ?').run(
        publicKeyPem,
        at,
        terminalId,
      );
      return this.terminal(terminalId)!;
    })();
  }

  setTerminalState(
    terminalId: string,
    state: TerminalState,
    reason: string | null,
    at: number,
  ): TerminalRecord {
    return this.db.transaction(() => {
      const t = this.terminal(terminalId);
      if (!t) throw new KioskError('HUB_UNKNOWN_TERMINAL', `terminal ${terminalId} is not registered`);
      if (t.state === 'retired' && state !== 'retired')
        throw new KioskError('TERMINAL_RETIRED', `terminal ${terminalId} is retired; enrol a new one`);
      this.q('UPDATE terminal SET state = ?, state_reason = ?, state_at = ? WHERE id = ?').run(
        state,
        reason,
        at,
        terminalId,
      );
      return this.terminal(terminalId)!;
    })();
  }

  setRemoteConfig(scope: string, layer: Record<string, unknown>, at: number): number {
    return this.db.transaction(() => {
      const top = this.q('SELECT MAX(version) FROM remote_config').pluck().get() as number | null;
      const version = (top ?? 0) + 1;
      this.q(
        `INSERT INTO remote_config (scope, version, layer, at) VALUES (?, ?, ?, ?)
         ON CONFLICT (scope) DO UPDATE SET version = excluded.version, layer = excluded.layer, at = excluded.at`,
      ).run(scope, version, JSON.stringify(layer), at);
      return version;
    })();
  }

  remoteConfigsFor(
    t: TerminalRecord,
  ): Array<{ scope: string; version: number; layer: Record<string, unknown> }> {
    const scopes = [`site:${t.siteId}`, `gate:${t.siteId}/${t.gateId}`, `terminal:${t.terminalId}`];
    const rows = this.q('SELECT scope, version, layer FROM remote_config WHERE scope IN (?, ?, ?)').all(
      ...scopes,
    ) as Array<{ scope: string; version: number; layer: string }>;
    return scopes.flatMap((scope) => {
      const r = rows.find((x) => x.scope === scope);
      return r ? [{ scope, version: r.version, layer: JSON.parse(r.layer) as Record<string, unknown> }] : [];
    });
  }

  createEnrolmentCode(c: Omit<EnrolmentCodeRecord, 'usedAt' | 'usedBy'>): void {
    this.q(
      `INSERT INTO enrolment_code (code_sha256, site_id, gate_id, zone, site_kind, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    ).run(c.codeSha256, c.siteId, c.gateId, c.zone, c.siteKind, c.createdAt, c.expiresAt);
  }

  createTransferCode(c: Omit<TransferCodeRecord, 'usedAt' | 'usedBy'>): void {
    this.q(
      `INSERT INTO transfer_code (code_sha256, purchaser_k, purchaser_scope, event_id, seat, sealed_spki,
       created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      c.codeSha256,
      c.purchaserK,
      c.purchaserScope,
      c.eventId,
      c.seat,
      c.sealedSpki,
      c.createdAt,
      c.expiresAt,
    );
  }

  transferCode(codeSha256: string): TransferCodeRecord | null {
    const r = this.q('SELECT * FROM transfer_code WHERE code_sha256 = ?').get(codeSha256) as
      TransferCodeRow | undefined;
    if (!r) return null;
    return {
      codeSha256: r.code_sha256,
      purchaserK: r.purchaser_k,
      purchaserScope: r.purchaser_scope,
      eventId: r.event_id,
      seat: r.seat,
      sealedSpki: r.sealed_spki,
      createdAt: r.created_at,
      expiresAt: r.expires_at,
      usedAt: r.used_at,
      usedBy: r.used_by,
    };
  }

  /** Inside publish's transaction: spends the code or throws (the whole publication rolls back). */
  private spendTransferCode(s: { codeSha256: string; at: number; usedBy: string }): void {
    const r = this.transferCode(s.codeSha256);
    if (!r) throw new KioskError('TRANSFER_CODE_UNKNOWN', 'this transfer code is not known to the hub');
    if (r.usedAt !== null) throw new KioskError('TRANSFER_CODE_USED', 'this transfer code has been used');
    if (s.at > r.expiresAt) throw new KioskError('TRANSFER_CODE_EXPIRED', 'this transfer code has expired');
    this.q('UPDATE transfer_code SET used_at = ?, used_by = ? WHERE code_sha256 = ? AND used_at IS NULL').run(
      s.at,
      s.usedBy,
      s.codeSha256,
    );
  }

  enrolmentCodes(): EnrolmentCodeRecord[] {
    return (
      this.q('SELECT * FROM enrolment_code ORDER BY created_at, code_sha256').all() as EnrolmentCodeRow[]
    ).map(toEnrolmentCode);
  }

  enrolTerminal(
    codeSha256: string,
    t: { terminalId: string; publicKeyPem: string },
    at: number,
  ): TerminalRecord {
    return this.db.transaction(() => {
      const row = this.q('SELECT * FROM enrolment_code WHERE code_sha256 = ?').get(codeSha256) as
        EnrolmentCodeRow | undefined;
      if (!row) throw new KioskError('ENROL_CODE_UNKNOWN', 'this enrolment code is not known to the hub');
      if (row.used_at !== null)
        throw new KioskError('ENROL_CODE_USED', 'this enrolment code has already enrolled a terminal');
      if (at > row.expires_at)
        throw new KioskError(
          'ENROL_CODE_EXPIRED',
          `this enrolment code expired at ${new Date(row.expires_at).toISOString()}`,
        );
      if (this.terminal(t.terminalId))
        throw new KioskError(
          'HUB_TERMINAL_EXISTS',
          `terminal ${t.terminalId} is already registered; enrol under a new id or rotate its key`,
        );
      this.insertTerminal(
        {
          terminalId: t.terminalId,
          publicKeyPem: t.publicKeyPem,
          siteId: row.site_id,
          gateId: row.gate_id,
          zone: row.zone,
          siteKind: row.site_kind,
        },
        at,
      );
      this.q('UPDATE enrolment_code SET used_at = ?, used_by = ? WHERE code_sha256 = ?').run(
        at,
        t.terminalId,
        codeSha256,
      );
      return this.terminal(t.terminalId)!;
    })();
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
      this.q('UPDATE terminal SET last_seen_at = ?, status = ? WHERE id = ?').run(
        at,
        JSON.stringify(status),
        terminalId,
      );
    else this.q('UPDATE terminal SET last_seen_at = ? WHERE id = ?').run(at, terminalId);
  }

  feedInfo(feed: FeedKey): FeedInfo {
    let f = this.feedStmt.get(feed) as FeedRow | undefined;
    if (!f && feed.startsWith('peer-entries@')) {
      this.q('INSERT OR IGNORE INTO feed (feed, epoch, head) VALUES (?, ?, 0)').run(
        feed,
        randomBytes(8).toString('hex'),
      );
      f = this.feedStmt.get(feed) as FeedRow | undefined;
    }
    if (!f) throw new KioskError('STORE_CORRUPT', `hub: feed ${feed} missing`);
    return toFeedInfo(feed, f);
  }

  startEpoch(feed: FeedName): string {
    const epoch = randomBytes(8).toString('hex');
    this.db.transaction(() => {
      const info = this.feedInfo(feed);
      const lineage = [...info.lineage, info.epoch].slice(-32);
      this.q('DELETE FROM batch WHERE feed = ?').run(feed);
      this.q('UPDATE feed SET epoch = ?, digest = NULL, lineage = ? WHERE feed = ?').run(
        epoch,
        JSON.stringify(lineage),
        feed,
      );
    })();
    return epoch;
  }

  digestAt(feed: FeedKey, seq: number): string | null {
    const info = this.feedInfo(feed);
    if (seq === info.head) return info.digest;
    const r = this.q('SELECT digest FROM batch WHERE feed = ? AND to_seq = ?').get(feed, seq) as
      { digest: string | null } | undefined;
    if (r?.digest) return r.digest;
    // No batch ends there: the epoch's start (before its first batch) has the zero digest.
    return seq === info.oldestFrom && seq === this.epochBase(feed) ? ZERO_DIGEST : null;
  }

  /** Sequence where the current epoch's chain starts: the first batch's fromSeq, or the head if none. */
  private epochBase(feed: FeedKey): number {
    const r = this.q(
      'SELECT from_seq FROM batch WHERE feed = ? AND digest IS NOT NULL ORDER BY to_seq LIMIT 1',
    ).get(feed) as { from_seq: number } | undefined;
    return r?.from_seq ?? this.feedInfo(feed).head;
  }

  /** The chain digest after `b`, following `previous`. */
  private static chained(previous: string, b: { sha256?: Buffer }): string | null {
    return b.sha256 ? chainDigestFromHash(previous, b.sha256) : null;
  }

  batchesAfter(feed: FeedKey, after: number, limit: number): StoredBatch[] {
    return (
      this.q(
        'SELECT from_seq, to_seq, frame_gz, digest FROM batch WHERE feed = ? AND to_seq > ? ORDER BY to_seq LIMIT ?',
      ).all(feed, after, limit) as Array<{
        from_seq: number;
        to_seq: number;
        frame_gz: Buffer;
        digest: string | null;
      }>
    ).map((r) => ({
      fromSeq: r.from_seq,
      toSeq: r.to_seq,
      frameGz: r.frame_gz,
      ...(r.digest ? { digest: r.digest } : {}),
    }));
  }

  resignBatches(resign: (frameGz: Buffer) => Buffer | null): number {
    const read = this.db.prepare('SELECT feed, to_seq, frame_gz FROM batch ORDER BY feed, to_seq');
    const write = this.db.prepare('UPDATE batch SET frame_gz = ? WHERE feed = ? AND to_seq = ?');
    return this.db
      .transaction(() => {
        let n = 0;
        const rows = read.all() as Array<{ feed: string; to_seq: number; frame_gz: Buffer }>;
        for (const r of rows) {
          const next = resign(r.frame_gz);
          if (next === null) continue;
          write.run(next, r.feed, r.to_seq);
          n++;
        }
        return n;
      })
      .immediate();
  }

  opsAfter(feed: FeedKey, after: number): number {
    const r = this.q('SELECT COALESCE(SUM(ops), 0) AS n FROM batch WHERE feed = ? AND to_seq > ?').get(
      feed,
      after,
    ) as {
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

  stateDigestPage(
    feed: FeedName,
    after: Buffer,
    limit: number,
    scope?: { only: string } | { except: string },
  ): Array<{ k: Buffer; h: Buffer }> {
    const base = 'SELECT k, h FROM state WHERE feed = ? AND k > ?';
    if (scope === undefined)
      return this.q(`${base} ORDER BY k LIMIT ?`).all(feed, after, limit) as Array<{ k: Buffer; h: Buffer }>;
    const only = 'only' in scope;
    return this.q(`${base} AND scope ${only ? '=' : '<>'} ? ORDER BY k LIMIT ?`).all(
      feed,
      after,
      only ? scope.only : scope.except,
      limit,
    ) as Array<{ k: Buffer; h: Buffer }>;
  }

  streamedPublication(on: boolean): void {
    this.db.pragma(`cache_size = -${on ? STREAMED_CACHE_KIB : CACHE_KIB}`);
  }

  stateDigestsOf(feed: FeedName, keys: readonly Buffer[], scope: string): Map<string, string> {
    const get = this.q('SELECT h FROM state WHERE feed = ? AND k = ? AND scope = ?').pluck();
    const out = new Map<string, string>();
    for (const k of keys) {
      const h = get.get(feed, k, scope) as Buffer | undefined;
      if (h) out.set(k.toString('hex'), h.toString('hex'));
    }
    return out;
  }

  readState(feed: FeedName): {
    seq: number;
    epoch: string;
    digest: string;
    lineage: string[];
    rows: Iterable<{ k: Buffer; v: Buffer }>;
    issuers: CrlIssuerStatus[];
    close(): void;
  } {
    const { reader, head, close } = this.stateReader(feed);
    try {
      const rows = reader
        .prepare('SELECT k, v FROM state WHERE feed = ? ORDER BY k')
        .iterate(feed) as IterableIterator<{
        k: Buffer;
        v: Buffer;
      }>;
      return {
        ...head,
        rows,
        close: () => {
          rows.return?.();
          close();
        },
      };
    } catch (error) {
      close();
      throw error;
    }
  }

  readStateFramed(feed: FeedName, maxRows: number): FramedStateRead {
    const { reader, head, close } = this.stateReader(feed);
    try {
      // SQLite lays the rows out itself (one string of rows per block instead of two buffers per row in
      // JavaScript, the builder's main cost). Values are at most 65,536 bytes: three varint bytes at most.
      // The caller walks each block (hub/snapshot-build.ts checkRowsBlock): framing, key length and order.
      const len = 'length(v)';
      const varint =
        `CASE WHEN ${len} < 128 THEN unhex(printf('%02x', ${len}))` +
        ` WHEN ${len} < 16384 THEN unhex(printf('%02x%02x', (${len} & 127) | 128, ${len} >> 7))` +
        ` ELSE unhex(printf('%02x%02x%02x', (${len} & 127) | 128, ((${len} >> 7) & 127) | 128, ${len} >> 14)) END`;
      const block = reader.prepare(
        `SELECT CAST(group_concat(unhex(printf('%02x', length(k))) || k || ${varint} || v, x'') AS BLOB) AS bytes,
           count(*) AS rows, max(k) AS lastKey
         FROM (SELECT k, v FROM state WHERE feed = ? AND k > ? ORDER BY k LIMIT ?)`,
      );
      function* blocks(): Generator<{ bytes: Buffer; rows: number; lastKey: Buffer }> {
        let after: Buffer = Buffer.alloc(0);
        for (;;) {
          const r = block.get(feed, after, maxRows) as {
            bytes: Buffer | null;
            rows: number;
            lastKey: Buffer | null;
          };
          if (r.rows === 0 || !r.bytes || !r.lastKey) return;
          yield { bytes: r.bytes, rows: r.rows, lastKey: r.lastKey };
          if (r.rows < maxRows) return;
          after = r.lastKey;
        }
      }
      return { ...head, blocks: blocks(), close };
    } catch (error) {
      close();
      throw error;
    }
  }

  /**
   * A second connection holding a read transaction: the rows and the sequence are one consistent view
   * while imports keep committing on the main connection.
   */
  private stateReader(feed: FeedName): {
    reader: Db;
    head: { seq: number; epoch: string; digest: string; lineage: string[]; issuers: CrlIssuerStatus[] };
    close: () => void;
  } {
    const reader = openDb(this.file, { durability: 'full', readonly: true });
    let open = true;
    const close = () => {
      if (!open) return;
      open = false;
      try {
        if (reader.inTransaction) reader.exec('COMMIT');
      } finally {
        reader.close();
      }
    };
    try {
      reader.exec('BEGIN');
      const head = reader
        .prepare('SELECT head, epoch, digest, lineage FROM feed WHERE feed = ?')
        .get(feed) as {
        head: number;
        epoch: string;
        digest: string | null;
        lineage: string;
      };
      const issuers = feed === 'revocations' ? crlStatusesOf(reader) : [];
      return {
        reader,
        head: {
          seq: head.head,
          epoch: head.epoch,
          digest: head.digest ?? ZERO_DIGEST,
          lineage: JSON.parse(head.lineage) as string[],
          issuers,
        },
        close,
      };
    } catch (error) {
      close();
      throw error;
    }
  }

  publish(p: Publication): void {
    // Insert first, update only a row already there: the row count moves by what changed instead of a
    // COUNT(*) over the whole feed, which a streamed publication of millions of rows pays per chunk.
    const insert = this.q(
      'INSERT INTO state (feed, k, h, v, scope) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
    );
    const update = this.q('UPDATE state SET h = ?, v = ?, scope = ? WHERE feed = ? AND k = ?');
    const del = this.q('DELETE FROM state WHERE feed = ? AND k = ?');
    const batch = this.q(
      'INSERT INTO batch (feed, to_seq, from_seq, ops, published_at, frame_gz, digest) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      if (p.spendTransferCode) this.spendTransferCode(p.spendTransferCode);
      const info = this.feedInfo(p.feed);
      let head = info.head;
      let digest: string | null = info.digest;
      for (const b of p.batches) {
        if (b.fromSeq !== head)
          throw new KioskError('INTERNAL', `hub: batch from ${b.fromSeq} does not follow ${head}`);
        digest = digest === null ? null : SqliteHubStore.chained(digest, b);
        batch.run(p.feed, b.toSeq, b.fromSeq, b.opCount, b.publishedAt, b.frameGz, digest);
        head = b.toSeq;
      }
      this.q('UPDATE feed SET digest = ? WHERE feed = ?').run(digest, p.feed);
      let added = 0;
      // Rows a statement at a time (the per-statement cost is most of a row's); a group where some row
      // was already there is written again row by row as updates (rows just inserted are unchanged).
      const groups = p.puts.length - (p.puts.length % PUT_GROUP);
      if (groups > 0) {
        const values = (row: string) => `${row}, `.repeat(PUT_GROUP - 1) + row;
        // Feed and scope bound once per statement where the group shares them (a CRL's rows all do).
        const shared = this.q(
          `INSERT INTO state (feed, k, h, v, scope) VALUES ${values('(@feed, ?, ?, ?, @scope)')} ON CONFLICT DO NOTHING`,
        );
        const each = this.q(
          `INSERT INTO state (feed, k, h, v, scope) VALUES ${values('(?, ?, ?, ?, ?)')} ON CONFLICT DO NOTHING`,
        );
        const three: unknown[] = new Array<unknown>(PUT_GROUP * 3);
        const five: unknown[] = new Array<unknown>(PUT_GROUP * 5);
        for (let g = 0; g < groups; g += PUT_GROUP) {
          const scope = p.puts[g]!.scope;
          let same = true;
          for (let i = 0; i < PUT_GROUP && same; i++) same = p.puts[g + i]!.scope === scope;
          let changes: number;
          if (same) {
            for (let i = 0; i < PUT_GROUP; i++) {
              const r = p.puts[g + i]!;
              three[i * 3] = r.k;
              three[i * 3 + 1] = r.h;
              three[i * 3 + 2] = r.v;
            }
            changes = shared.run(three, { feed: p.feed, scope }).changes;
          } else {
            for (let i = 0; i < PUT_GROUP; i++) {
              const r = p.puts[g + i]!;
              five[i * 5] = p.feed;
              five[i * 5 + 1] = r.k;
              five[i * 5 + 2] = r.h;
              five[i * 5 + 3] = r.v;
              five[i * 5 + 4] = r.scope;
            }
            changes = each.run(five).changes;
          }
          added += changes;
          if (changes < PUT_GROUP)
            for (let i = g; i < g + PUT_GROUP; i++) {
              const r = p.puts[i]!;
              update.run(r.h, r.v, r.scope, p.feed, r.k);
            }
        }
      }
      for (let i = groups; i < p.puts.length; i++) {
        const r = p.puts[i]!;
        if (insert.run(p.feed, r.k, r.h, r.v, r.scope).changes > 0) added++;
        else update.run(r.h, r.v, r.scope, p.feed, r.k);
      }
      for (const k of p.dels) added -= del.run(p.feed, k).changes;
      this.q('UPDATE feed SET head = ?, rows = rows + ? WHERE feed = ?').run(head, added, p.feed);
      this.db
        .prepare('INSERT INTO publication (feed, at, puts, dels, note) VALUES (?, ?, ?, ?, ?)')
        .run(p.feed, p.batches[0]?.publishedAt ?? Date.now(), p.puts.length, p.dels.length, p.note);
      if (p.crl) this.writeCrlState(p.crl);
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
        const info = this.feedInfo(key);
        const b = makeBatch(info.head, presence);
        const digest = SqliteHubStore.chained(info.digest, b);
        this.q(
          'INSERT INTO batch (feed, to_seq, from_seq, ops, published_at, frame_gz, digest) VALUES (?, ?, ?, ?, ?, ?, ?)',
        ).run(key, b.toSeq, b.fromSeq, presence.length, at, b.frameGz, digest);
        this.q('UPDATE feed SET head = ?, digest = ? WHERE feed = ?').run(b.toSeq, digest, key);
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
            if (facts) this.conflictTable.track(site, op, facts, at);
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

  /** A terminal's stored journal rows after `afterSeq`, in order (a venue hub forwards them upstream). */
  journalSince(terminalId: string, afterSeq: number, limit: number): PushRecord[] {
    return this.q(
      'SELECT seq, body, hash FROM journal WHERE terminal_id = ? AND seq > ? ORDER BY seq LIMIT ?',
    ).all(terminalId, afterSeq, limit) as PushRecord[];
  }

  journalCount(terminalId?: string): number {
    return (
      terminalId === undefined
        ? this.q('SELECT COUNT(*) FROM journal').pluck().get()
        : this.q('SELECT COUNT(*) FROM journal WHERE terminal_id = ?').pluck().get(terminalId)
    ) as number;
  }

  crlState(scope: string): CrlState | null {
    const r = this.q('SELECT * FROM crl_scope WHERE scope = ?').get(scope) as CrlRow | undefined;
    return r ? toCrlState(r) : null;
  }

  crlStatuses(): CrlIssuerStatus[] {
    return crlStatusesOf(this.db);
  }

  private writeCrlState(c: CrlState): void {
    this.q(
      `INSERT INTO crl_scope (scope, key_id, part, crl_number, this_update, next_update) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (scope) DO UPDATE SET key_id = excluded.key_id, part = excluded.part,
         crl_number = excluded.crl_number, this_update = excluded.this_update, next_update = excluded.next_update`,
    ).run(c.scope, c.issuerKeyId, c.partition, c.crlNumber, c.thisUpdate, c.nextUpdate);
  }

  conflicts(filter: { siteId?: string; openOnly?: boolean } = {}): EntryConflict[] {
    return this.conflictTable.conflicts(filter);
  }

  resolveConflict(id: number, resolution: { note: string; by: string; at: number }): EntryConflict {
    return this.conflictTable.resolveConflict(id, resolution);
  }

  /**
   * Nonces are written on their own connection with synchronous=NORMAL: every signed request writes one,
   * and an fsync per request (~2 ms of blocked event loop here) would cost the fleet more than the whole
   * answer. In WAL mode a NORMAL commit survives the process crashing or restarting (the replay window
   * this closes); only a power cut can lose the last ones, and the next FULL commit on the main connection
   * makes them durable too.
   */
  private nonceDb: Db | null = null;
  private nonceStmts: { use: Statement; prune: Statement } | null = null;

  private nonces(): { use: Statement; prune: Statement } {
    if (!this.nonceStmts) {
      this.nonceDb = openDb(this.file, { durability: 'normal' });
      this.nonceStmts = {
        use: this.nonceDb.prepare(
          'INSERT OR IGNORE INTO request_nonce (terminal_id, nonce, expires) VALUES (?, ?, ?)',
        ),
        prune: this.nonceDb.prepare('DELETE FROM request_nonce WHERE expires < ?'),
      };
    }
    return this.nonceStmts;
  }

  useNonce(terminalId: string, nonce: string, expires: number): boolean {
    return this.nonces().use.run(terminalId, nonce, expires).changes === 1;
  }

  putRoot(r: SharedRoot, at: number): void {
    this.db.transaction(() => {
      const held = this.q('SELECT bytes FROM hub_root WHERE version = ?').pluck().get(r.version) as
        Buffer | undefined;
      if (held) {
        if (!held.equals(r.bytes)) throw rootConflict(r.version);
        return;
      }
      this.q('INSERT INTO hub_root (version, bytes, publisher_label, at) VALUES (?, ?, ?, ?)').run(
        r.version,
        r.bytes,
        r.publisherLabel,
        at,
      );
    })();
  }

  rootsAfter(after: number): SharedRoot[] {
    return (
      this.q('SELECT version, bytes, publisher_label FROM hub_root WHERE version > ? ORDER BY version').all(
        after,
      ) as Array<{ version: number; bytes: Buffer; publisher_label: string }>
    ).map((r) => ({ version: r.version, bytes: r.bytes, publisherLabel: r.publisher_label }));
  }

  useNonceFor(
    terminalId: string,
    nonce: string,
    expires: number,
  ): { fresh: boolean; terminal: TerminalRecord | null } {
    return { fresh: this.useNonce(terminalId, nonce, expires), terminal: this.terminal(terminalId) };
  }

  pruneNonces(now: number): number {
    return this.nonces().prune.run(now).changes;
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

interface CrlRow {
  scope: string;
  key_id: string;
  part: string | null;
  crl_number: string | null;
  this_update: number;
  next_update: number | null;
}

function toCrlState(r: CrlRow): CrlState {
  return {
    scope: r.scope,
    issuerKeyId: r.key_id,
    partition: r.part,
    crlNumber: r.crl_number,
    thisUpdate: r.this_update,
    nextUpdate: r.next_update,
  };
}

/** Every scope's CRL status as terminals are told it (a CRL imported without nextUpdate is left out). */
function crlStatusesOf(db: Db): CrlIssuerStatus[] {
  const rows = db
    .prepare('SELECT * FROM crl_scope WHERE next_update IS NOT NULL ORDER BY scope')
    .all() as CrlRow[];
  return rows.map((r) => {
    const c = toCrlState(r);
    return {
      issuerKeyId: c.issuerKeyId,
      ...(c.partition !== null ? { partition: c.partition } : {}),
      crlNumber: c.crlNumber,
      thisUpdate: new Date(c.thisUpdate).toISOString(),
      nextUpdate: new Date(c.nextUpdate!).toISOString(),
    };
  });
}
