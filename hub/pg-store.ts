// The hub's storage on PostgreSQL, for sites that outgrow one machine: the same `HubStore` as
// sqlite-store.ts (method for method, same tables), so that several hub instances can serve one fleet
// from one database. Queries go through PgBridge (synchronous, see pg-bridge.ts). What differs from
// SQLite, and why:
// - every write transaction commits before its method returns: a journal push is acknowledged only
//   after COMMIT (synchronous_commit is the server's, `on` by default);
// - journal acceptance takes one transaction-level advisory lock, so that instances accept pushes one
//   group at a time: the hash chain, the gap-free watermark, the peer-entries feed's head and the
//   double-entry comparison see every committed entry, whichever instance took it;
// - a publication or a journal that moves a feed's head sends NOTIFY `jpki_hub_feed` (delivered at
//   COMMIT), which every instance LISTENs to for its long polls (`subscribe`);
// - enrolment locks the code's row (FOR UPDATE) until COMMIT, so that one code enrols one terminal
//   whichever instances take it; registering a terminal or changing its key holds the registry advisory
//   lock, because "no other terminal has this key" is a read-then-write that no unique index covers;
// - a publication that spends a seat transfer code locks the code's row (FOR UPDATE) first, so that one
//   code moves one seat whichever instances take it; a refusal rolls the whole publication back;
// - a snapshot is built once per state across instances (`snapshotOnce`: an advisory lock per snapshot,
//   the file kept in the database for the instances that did not build it).
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { KioskError } from '../base/errors.js';
import { getLogger } from '../base/log.js';
import { Feeds, type FeedName, type PushRecord, type TerminalStatusReport } from '../protocol/sync.js';
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
import { PgBridge, PgError, type PgRow, type PgValue } from './pg-bridge.js';
import { PgConflictTable } from './pg-conflicts.js';
import { migratePg } from './pg-schema.js';

const log = getLogger('hub');
const ZERO_HASH = Buffer.alloc(32);
/** The channel on which a committed feed change is announced (payload: the feed key). */
export const FEED_CHANNEL = 'jpki_hub_feed';
/** Advisory lock (transaction level) held while journals are accepted. */
const JOURNAL_LOCK = 0x6a6e6c; // 'jnl'
/** Rows per statement when state rows are written or read in bulk. */
const BULK = 5_000;
/** Bytes per stored snapshot chunk. */
const SNAPSHOT_CHUNK = 1 << 20;
/**
 * Advisory lock (transaction level) held while a terminal is registered or its key changes: "no other
 * terminal has this key" is a read-then-write no unique constraint covers, so two instances registering
 * the same key under two ids must take turns.
 */
export const REGISTRY_LOCK = 0x747265; // 'tre'
/** Advisory lock (transaction level) held while a remote configuration version is taken. */
const REMOTE_CONFIG_LOCK = 0x726366; // 'rcf'

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
  state: string;
  state_reason: string | null;
  state_at: number | null;
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

function toTransferCode(r: TransferCodeRow): TransferCodeRecord {
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
    state: r.state as TerminalState,
    stateReason: r.state_reason,
    stateAt: r.state_at,
  };
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

/** Retried whole: a deadlock or a serialization failure between instances says nothing about the data. */
const RETRYABLE = new Set(['40P01', '40001']);

let readers = 0;

export function isPostgresUrl(s: string): boolean {
  return /^postgres(ql)?:\/\//.test(s);
}

export class PgHubStore implements HubStore {
  readonly db: PgBridge;
  /** Names this process in the snapshot build log. */
  readonly instance = `${process.pid}-${randomBytes(3).toString('hex')}`;
  private readonly conflictTable: PgConflictTable;
  private depth = 0;

  constructor(readonly url: string) {
    this.db = new PgBridge(url);
    try {
      migratePg(this.db);
      this.q(
        `INSERT INTO feed (feed, epoch, head) SELECT f, md5(random()::text || f)::char(16), 0
         FROM unnest($1::text[]) AS f ON CONFLICT DO NOTHING`,
        [[...Feeds]],
      );
    } catch (error) {
      this.db.close();
      throw error;
    }
    this.conflictTable = new PgConflictTable(this.db, (fn) => this.tx(fn));
  }

  private q<T = PgRow>(sql: string, params: readonly PgValue[] = []): T[] {
    return this.db.query(sql, params).rows as T[];
  }

  /**
   * One transaction (a savepoint when already inside one). A top-level transaction that loses a deadlock
   * or a serialization race against another instance is run again from the start.
   */
  private tx<T>(fn: () => T, begin = 'BEGIN'): T {
    if (this.depth > 0) {
      const sp = `sp${this.depth}`;
      this.db.query(`SAVEPOINT ${sp}`);
      this.depth++;
      try {
        const r = fn();
        this.db.query(`RELEASE SAVEPOINT ${sp}`);
        return r;
      } catch (error) {
        this.db.query(`ROLLBACK TO SAVEPOINT ${sp}`);
        this.db.query(`RELEASE SAVEPOINT ${sp}`);
        throw error;
      } finally {
        this.depth--;
      }
    }
    for (let attempt = 1; ; attempt++) {
      this.db.query(begin);
      this.depth = 1;
      try {
        const r = fn();
        this.db.query('COMMIT');
        return r;
      } catch (error) {
        try {
          this.db.query('ROLLBACK');
        } catch {
          // the connection is gone: its transaction went with it
        }
        if (!(error instanceof PgError && RETRYABLE.has(error.sqlState ?? '') && attempt < 5)) throw error;
        log.warn({ sqlState: error.sqlState, attempt }, 'hub database transaction retried');
      } finally {
        this.depth = 0;
      }
    }
  }

  close(): void {
    for (const stop of this.listeners) stop();
    this.db.close();
  }

  // ---- terminals -------------------------------------------------------------------------------

  registerTerminal(t: TerminalRegistration, at: number): void {
    this.tx(() => this.insertTerminal(t, at));
  }

  /**
   * Inside a transaction: refuses an id or a key already registered (the same registration again is a
   * no-op). Under the registry lock, so that the checks see every registration committed before it.
   */
  private insertTerminal(t: TerminalRegistration, at: number): void {
    this.q(`SELECT pg_advisory_xact_lock(${REGISTRY_LOCK})`);
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
      `INSERT INTO terminal (id, public_key, site_id, gate_id, zone, site_kind, registered_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [t.terminalId, t.publicKeyPem, t.siteId, t.gateId, t.zone, t.siteKind, at],
    );
  }

  /** Under the registry lock (insertTerminal, replaceTerminalKey). */
  private refuseKeyElsewhere(publicKeyPem: string, terminalId: string): void {
    const [other] = this.q<{ id: string }>(
      'SELECT id FROM terminal WHERE public_key = $1 AND id <> $2 LIMIT 1',
      [publicKeyPem, terminalId],
    );
    if (other)
      throw new KioskError('ENROL_KEY_REGISTERED', `this key is already registered for terminal ${other.id}`);
  }

  /** Inside a transaction: the terminal's row, locked until the transaction ends. */
  private lockTerminal(terminalId: string): TerminalRecord {
    const [row] = this.q<TerminalRow>('SELECT * FROM terminal WHERE id = $1 FOR UPDATE', [terminalId]);
    if (!row) throw new KioskError('HUB_UNKNOWN_TERMINAL', `terminal ${terminalId} is not registered`);
    return toTerminal(row);
  }

  replaceTerminalKey(terminalId: string, publicKeyPem: string, at: number): TerminalRecord {
    return this.tx(() => {
      this.q(`SELECT pg_advisory_xact_lock(${REGISTRY_LOCK})`);
      const t = this.lockTerminal(terminalId);
      if (t.state === 'retired')
        throw new KioskError('TERMINAL_RETIRED', `terminal ${terminalId} is retired`);
      this.refuseKeyElsewhere(publicKeyPem, terminalId);
      const [row] = this.q<TerminalRow>(
        'UPDATE terminal SET public_key = $1, state_at = $2 WHERE id = $3 RETURNING *',
        [publicKeyPem, at, terminalId],
      );
      return toTerminal(row!);
    });
  }

  setTerminalState(
    terminalId: string,
    state: TerminalState,
    reason: string | null,
    at: number,
  ): TerminalRecord {
    return this.tx(() => {
      const t = this.lockTerminal(terminalId);
      if (t.state === 'retired' && state !== 'retired')
        throw new KioskError('TERMINAL_RETIRED', `terminal ${terminalId} is retired; enrol a new one`);
      const [row] = this.q<TerminalRow>(
        'UPDATE terminal SET state = $1, state_reason = $2, state_at = $3 WHERE id = $4 RETURNING *',
        [state, reason, at, terminalId],
      );
      return toTerminal(row!);
    });
  }

  setRemoteConfig(scope: string, layer: Record<string, unknown>, at: number): number {
    return this.tx(() => {
      // Two instances must not take the same version: the next one is read and written under one lock.
      this.q(`SELECT pg_advisory_xact_lock(${REMOTE_CONFIG_LOCK})`);
      const [top] = this.q<{ v: number | null }>('SELECT MAX(version) AS v FROM remote_config');
      const version = (top?.v ?? 0) + 1;
      this.q(
        `INSERT INTO remote_config (scope, version, layer, at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (scope) DO UPDATE SET version = excluded.version, layer = excluded.layer, at = excluded.at`,
        [scope, version, JSON.stringify(layer), at],
      );
      return version;
    });
  }

  remoteConfigsFor(
    t: TerminalRecord,
  ): Array<{ scope: string; version: number; layer: Record<string, unknown> }> {
    const scopes = [`site:${t.siteId}`, `gate:${t.siteId}/${t.gateId}`, `terminal:${t.terminalId}`];
    const rows = this.q<{ scope: string; version: number; layer: string }>(
      'SELECT scope, version, layer FROM remote_config WHERE scope = ANY($1::text[])',
      [scopes],
    );
    return scopes.flatMap((scope) => {
      const r = rows.find((x) => x.scope === scope);
      return r ? [{ scope, version: r.version, layer: JSON.parse(r.layer) as Record<string, unknown> }] : [];
    });
  }

  createEnrolmentCode(c: Omit<EnrolmentCodeRecord, 'usedAt' | 'usedBy'>): void {
    this.q(
      `INSERT INTO enrolment_code (code_sha256, site_id, gate_id, zone, site_kind, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [c.codeSha256, c.siteId, c.gateId, c.zone, c.siteKind, c.createdAt, c.expiresAt],
    );
  }

  enrolmentCodes(): EnrolmentCodeRecord[] {
    return this.q<EnrolmentCodeRow>('SELECT * FROM enrolment_code ORDER BY created_at, code_sha256').map(
      toEnrolmentCode,
    );
  }

  createTransferCode(c: Omit<TransferCodeRecord, 'usedAt' | 'usedBy'>): void {
    this.q(
      `INSERT INTO transfer_code (code_sha256, purchaser_k, purchaser_scope, event_id, seat, sealed_spki,
       created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
      [
        c.codeSha256,
        c.purchaserK,
        c.purchaserScope,
        c.eventId,
        c.seat,
        c.sealedSpki,
        c.createdAt,
        c.expiresAt,
      ],
    );
  }

  transferCode(codeSha256: string): TransferCodeRecord | null {
    const [row] = this.q<TransferCodeRow>('SELECT * FROM transfer_code WHERE code_sha256 = $1', [codeSha256]);
    return row ? toTransferCode(row) : null;
  }

  /**
   * Inside publish's transaction: spends the code or throws (the whole publication rolls back). The code's
   * row stays locked until COMMIT, so a second instance spending the same code waits and then reads it
   * spent.
   */
  private spendTransferCode(s: { codeSha256: string; at: number; usedBy: string }): void {
    const [row] = this.q<TransferCodeRow>('SELECT * FROM transfer_code WHERE code_sha256 = $1 FOR UPDATE', [
      s.codeSha256,
    ]);
    if (!row) throw new KioskError('TRANSFER_CODE_UNKNOWN', 'this transfer code is not known to the hub');
    if (row.used_at !== null) throw new KioskError('TRANSFER_CODE_USED', 'this transfer code has been used');
    if (s.at > row.expires_at)
      throw new KioskError('TRANSFER_CODE_EXPIRED', 'this transfer code has expired');
    const spent = this.db.query(
      'UPDATE transfer_code SET used_at = $1, used_by = $2 WHERE code_sha256 = $3 AND used_at IS NULL',
      [s.at, s.usedBy, s.codeSha256],
    ).rowCount;
    if (spent !== 1) throw new KioskError('TRANSFER_CODE_USED', 'this transfer code has been used');
  }

  enrolTerminal(
    codeSha256: string,
    t: { terminalId: string; publicKeyPem: string },
    at: number,
  ): TerminalRecord {
    return this.tx(() => {
      // The code's row stays locked until COMMIT: a second instance using the same code waits here and
      // then reads it spent. A refusal below rolls back, so it never spends the code.
      const [row] = this.q<EnrolmentCodeRow>(
        'SELECT * FROM enrolment_code WHERE code_sha256 = $1 FOR UPDATE',
        [codeSha256],
      );
      if (!row) throw new KioskError('ENROL_CODE_UNKNOWN', 'this enrolment code is not known to the hub');
      if (row.used_at !== null)
        throw new KioskError('ENROL_CODE_USED', 'this enrolment code has already enrolled a terminal');
      if (at > row.expires_at)
        throw new KioskError(
          'ENROL_CODE_EXPIRED',
          `this enrolment code expired at ${new Date(row.expires_at).toISOString()}`,
        );
      this.q(`SELECT pg_advisory_xact_lock(${REGISTRY_LOCK})`);
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
      const spent = this.db.query(
        'UPDATE enrolment_code SET used_at = $1, used_by = $2 WHERE code_sha256 = $3 AND used_at IS NULL',
        [at, t.terminalId, codeSha256],
      ).rowCount;
      if (spent !== 1)
        throw new KioskError('ENROL_CODE_USED', 'this enrolment code has already enrolled a terminal');
      return this.terminal(t.terminalId)!;
    });
  }

  terminal(terminalId: string): TerminalRecord | null {
    const [row] = this.q<TerminalRow>('SELECT * FROM terminal WHERE id = $1', [terminalId]);
    return row ? toTerminal(row) : null;
  }

  terminals(): TerminalRecord[] {
    return this.q<TerminalRow>('SELECT * FROM terminal ORDER BY site_id, id').map(toTerminal);
  }

  noteSeen(terminalId: string, at: number, status: TerminalStatusReport | null): void {
    this.noteSeenMany([{ terminalId, at, status }]);
  }

  noteSeenMany(seen: Array<{ terminalId: string; at: number; status: TerminalStatusReport | null }>): void {
    if (seen.length === 0) return;
    // One statement; rows locked in id order so that two instances' sightings never deadlock. A later
    // entry for the same terminal wins, as the loop on SQLite does.
    const last = new Map(seen.map((s) => [s.terminalId, s]));
    const list = [...last.values()].sort((a, b) => (a.terminalId < b.terminalId ? -1 : 1));
    // Under the journal lock: a journal transaction locks its terminal's row, so sightings taken in
    // another order by another instance would otherwise deadlock with it.
    this.journalTx(() =>
      this.q(
        `WITH v AS (SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[]) AS v(id, at, status)),
              l AS (SELECT t.id FROM terminal t JOIN v ON v.id = t.id ORDER BY t.id FOR UPDATE OF t)
         UPDATE terminal t SET last_seen_at = v.at, status = COALESCE(v.status, t.status)
         FROM v, l WHERE t.id = v.id AND l.id = v.id`,
        [
          list.map((s) => s.terminalId),
          list.map((s) => s.at),
          list.map((s) => (s.status ? JSON.stringify(s.status) : null)),
        ],
      ),
    );
  }

  // ---- feeds -----------------------------------------------------------------------------------

  feedInfo(feed: FeedKey): FeedInfo {
    return this.readFeed(feed, false);
  }

  /**
   * A feed's row, locked until the transaction ends when `lock` (one round trip either way). A locked
   * read that waited returns the row as the other transaction left it; only `oldestFrom` comes from the
   * statement's start, and no caller that locks reads it.
   */
  private readFeed(feed: FeedKey, lock: boolean): FeedInfo {
    const read = () =>
      this.q<FeedRow>(
        `SELECT epoch, head, rows, digest, lineage,
           (SELECT from_seq FROM batch b WHERE b.feed = f.feed ORDER BY to_seq LIMIT 1) AS oldest
         FROM feed f WHERE feed = $1${lock ? ' FOR UPDATE OF f' : ''}`,
        [feed],
      )[0];
    let f = read();
    if (!f && feed.startsWith('peer-entries@')) {
      this.q('INSERT INTO feed (feed, epoch, head) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING', [
        feed,
        randomBytes(8).toString('hex'),
      ]);
      f = read();
    }
    if (!f) throw new KioskError('STORE_CORRUPT', `hub: feed ${feed} missing`);
    return toFeedInfo(feed, f);
  }

  /** Locks a feed's row until the transaction ends (creating a site's peer feed on first use). */
  private lockFeed(feed: FeedKey): FeedInfo {
    return this.readFeed(feed, true);
  }

  startEpoch(feed: FeedName): string {
    const epoch = randomBytes(8).toString('hex');
    this.tx(() => {
      const info = this.lockFeed(feed);
      const lineage = [...info.lineage, info.epoch].slice(-32);
      this.q('DELETE FROM batch WHERE feed = $1', [feed]);
      this.q('UPDATE feed SET epoch = $1, digest = NULL, lineage = $2 WHERE feed = $3', [
        epoch,
        JSON.stringify(lineage),
        feed,
      ]);
      this.q('SELECT pg_notify($1, $2)', [FEED_CHANNEL, feed]);
    });
    return epoch;
  }

  digestAt(feed: FeedKey, seq: number): string | null {
    const info = this.feedInfo(feed);
    if (seq === info.head) return info.digest;
    const [r] = this.q<{ digest: string | null }>(
      'SELECT digest FROM batch WHERE feed = $1 AND to_seq = $2',
      [feed, seq],
    );
    if (r?.digest) return r.digest;
    return seq === info.oldestFrom && seq === this.epochBase(feed, info.head) ? ZERO_DIGEST : null;
  }

  private epochBase(feed: FeedKey, head: number): number {
    const [r] = this.q<{ from_seq: number }>(
      'SELECT from_seq FROM batch WHERE feed = $1 AND digest IS NOT NULL ORDER BY to_seq LIMIT 1',
      [feed],
    );
    return r?.from_seq ?? head;
  }

  private static chained(previous: string, b: { sha256?: Buffer }): string | null {
    return b.sha256 ? chainDigestFromHash(previous, b.sha256) : null;
  }

  batchesAfter(feed: FeedKey, after: number, limit: number): StoredBatch[] {
    return this.q<{ from_seq: number; to_seq: number; frame_gz: Buffer; digest: string | null }>(
      'SELECT from_seq, to_seq, frame_gz, digest FROM batch WHERE feed = $1 AND to_seq > $2 ORDER BY to_seq LIMIT $3',
      [feed, after, limit],
    ).map((r) => ({
      fromSeq: r.from_seq,
      toSeq: r.to_seq,
      frameGz: r.frame_gz,
      ...(r.digest ? { digest: r.digest } : {}),
    }));
  }

  resignBatches(resign: (frameGz: Buffer) => Buffer | null): number {
    return this.tx(() => {
      let n = 0;
      let cursor: { feed: string; toSeq: number } = { feed: '', toSeq: -1 };
      for (;;) {
        const page = this.q<{ feed: string; to_seq: number; frame_gz: Buffer }>(
          `SELECT feed, to_seq, frame_gz FROM batch WHERE (feed, to_seq) > ($1, $2)
           ORDER BY feed, to_seq LIMIT 500 FOR UPDATE`,
          [cursor.feed, cursor.toSeq],
        );
        if (page.length === 0) return n;
        for (const r of page) {
          const next = resign(r.frame_gz);
          if (next === null) continue;
          this.q('UPDATE batch SET frame_gz = $1 WHERE feed = $2 AND to_seq = $3', [next, r.feed, r.to_seq]);
          n++;
        }
        const last = page[page.length - 1]!;
        cursor = { feed: last.feed, toSeq: last.to_seq };
      }
    });
  }

  opsAfter(feed: FeedKey, after: number): number {
    return this.q<{ n: number }>(
      'SELECT COALESCE(SUM(ops), 0)::bigint AS n FROM batch WHERE feed = $1 AND to_seq > $2',
      [feed, after],
    )[0]!.n;
  }

  stateDigests(feed: FeedName, scope?: string): Map<string, string> {
    const out = new Map<string, string>();
    let after: Buffer = Buffer.alloc(0);
    for (;;) {
      const page = this.q<{ k: Buffer; h: Buffer }>(
        scope === undefined
          ? 'SELECT k, h FROM state WHERE feed = $1 AND k > $2 ORDER BY k LIMIT $3'
          : 'SELECT k, h FROM state WHERE feed = $1 AND k > $2 AND scope = $4 ORDER BY k LIMIT $3',
        scope === undefined ? [feed, after, BULK * 10] : [feed, after, BULK * 10, scope],
      );
      for (const r of page) out.set(r.k.toString('hex'), r.h.toString('hex'));
      if (page.length < BULK * 10) return out;
      after = page[page.length - 1]!.k;
    }
  }

  stateDigestPage(
    feed: FeedName,
    after: Buffer,
    limit: number,
    scope?: { only: string } | { except: string },
  ): Array<{ k: Buffer; h: Buffer }> {
    const base = 'SELECT k, h FROM state WHERE feed = $1 AND k > $2';
    if (scope === undefined)
      return this.q<{ k: Buffer; h: Buffer }>(`${base} ORDER BY k LIMIT $3`, [feed, after, limit]);
    const only = 'only' in scope;
    return this.q<{ k: Buffer; h: Buffer }>(`${base} AND scope ${only ? '=' : '<>'} $4 ORDER BY k LIMIT $3`, [
      feed,
      after,
      limit,
      only ? scope.only : scope.except,
    ]);
  }

  stateDigestsOf(feed: FeedName, keys: readonly Buffer[], scope: string): Map<string, string> {
    const out = new Map<string, string>();
    for (let i = 0; i < keys.length; i += BULK)
      for (const r of this.q<{ k: Buffer; h: Buffer }>(
        'SELECT k, h FROM state WHERE feed = $1 AND k = ANY($2::bytea[]) AND scope = $3',
        [feed, keys.slice(i, i + BULK), scope],
      ))
        out.set(r.k.toString('hex'), r.h.toString('hex'));
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
    const { conn, head, open, close } = this.stateReader(feed);
    const db = this.db;
    try {
      db.query(
        `DECLARE state_rows NO SCROLL CURSOR FOR SELECT k, v FROM state WHERE feed = '${feed}' ORDER BY k`,
        [],
        conn,
      );
      function* rows(): Generator<{ k: Buffer; v: Buffer }> {
        for (;;) {
          if (!open()) return;
          const page = db.query(`FETCH ${BULK} FROM state_rows`, [], conn).rows as Array<{
            k: Buffer;
            v: Buffer;
          }>;
          yield* page;
          if (page.length < BULK) return;
        }
      }
      return { ...head, rows: rows(), close };
    } catch (error) {
      close();
      throw error;
    }
  }

  readStateFramed(feed: FeedName, maxRows: number): FramedStateRead {
    const { conn, head, open, close } = this.stateReader(feed);
    const db = this.db;
    // PostgreSQL lays the rows out itself (key length, key, varint value length, value; values are at most
    // 65,536 bytes, so three varint bytes at most): one bytea per block crosses the bridge, not two
    // buffers per row. The builder walks each block (framing, key length and order).
    const len = 'length(v)';
    const b = (e: string) => `set_byte('\\x00'::bytea, 0, ${e})`;
    const varint =
      `CASE WHEN ${len} < 128 THEN ${b(len)}` +
      ` WHEN ${len} < 16384 THEN ${b(`(${len} & 127) | 128`)} || ${b(`${len} >> 7`)}` +
      ` ELSE ${b(`(${len} & 127) | 128`)} || ${b(`((${len} >> 7) & 127) | 128`)} || ${b(`${len} >> 14`)} END`;
    const sql =
      `WITH s AS (SELECT k, v FROM state WHERE feed = $1 AND k > $2 ORDER BY k LIMIT $3)` +
      ` SELECT string_agg(${b('length(k)')} || k || ${varint} || v, ''::bytea ORDER BY k) AS bytes,` +
      ` count(*)::int AS rows, (SELECT k FROM s ORDER BY k DESC LIMIT 1) AS "lastKey" FROM s`;
    function* blocks(): Generator<{ bytes: Buffer; rows: number; lastKey: Buffer }> {
      let after: Buffer = Buffer.alloc(0);
      for (;;) {
        if (!open()) return;
        const [r] = db.query(sql, [feed, after, maxRows], conn).rows as Array<{
          bytes: Buffer | null;
          rows: number;
          lastKey: Buffer | null;
        }>;
        if (!r || r.rows === 0 || !r.bytes || !r.lastKey) return;
        yield { bytes: r.bytes, rows: r.rows, lastKey: r.lastKey };
        if (r.rows < maxRows) return;
        after = r.lastKey;
      }
    }
    return { ...head, blocks: blocks(), close };
  }

  /**
   * Its own connection in a repeatable-read transaction: the rows and the sequence are one snapshot of
   * the database while imports and journals keep committing; the rows come a page or a block at a time,
   * so a 100-million-row state never sits in memory.
   */
  private stateReader(feed: FeedName): {
    conn: string;
    head: { seq: number; epoch: string; digest: string; lineage: string[]; issuers: CrlIssuerStatus[] };
    open: () => boolean;
    close: () => void;
  } {
    if (!(Feeds as readonly string[]).includes(feed))
      throw new KioskError('INTERNAL', `unknown feed ${feed}`);
    const conn = `reader-${++readers}`;
    const db = this.db;
    db.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', [], conn);
    let open = true;
    const close = () => {
      if (!open) return;
      open = false;
      try {
        db.query('COMMIT', [], conn);
      } finally {
        db.drop(conn);
      }
    };
    try {
      const [head] = db.query('SELECT head, epoch, digest, lineage FROM feed WHERE feed = $1', [feed], conn)
        .rows as Array<{ head: number; epoch: string; digest: string | null; lineage: string }>;
      const issuers =
        feed === 'revocations'
          ? crlStatusesOf(db.query(CRL_STATUS_SQL, [], conn).rows as unknown as CrlRow[])
          : [];
      return {
        conn,
        head: {
          seq: head!.head,
          epoch: head!.epoch,
          digest: head!.digest ?? ZERO_DIGEST,
          lineage: JSON.parse(head!.lineage) as string[],
          issuers,
        },
        open: () => open,
        close,
      };
    } catch (error) {
      close();
      throw error;
    }
  }

  publish(p: Publication): void {
    this.tx(() => {
      if (p.spendTransferCode) this.spendTransferCode(p.spendTransferCode);
      const info = this.lockFeed(p.feed);
      let head = info.head;
      let digest: string | null = info.digest;
      for (const b of p.batches) {
        if (b.fromSeq !== head)
          throw new KioskError('INTERNAL', `hub: batch from ${b.fromSeq} does not follow ${head}`);
        digest = digest === null ? null : PgHubStore.chained(digest, b);
        this.q(
          'INSERT INTO batch (feed, to_seq, from_seq, ops, published_at, frame_gz, digest) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          [p.feed, b.toSeq, b.fromSeq, b.opCount, b.publishedAt, b.frameGz, digest],
        );
        head = b.toSeq;
      }
      let added = 0;
      for (let i = 0; i < p.puts.length; i += BULK) {
        const chunk = p.puts.slice(i, i + BULK);
        added += this.q<{ n: number }>(
          `WITH ins AS (
             INSERT INTO state (feed, k, h, v, scope)
               SELECT $1, * FROM unnest($2::bytea[], $3::bytea[], $4::bytea[], $5::text[])
             ON CONFLICT (feed, k) DO UPDATE SET h = excluded.h, v = excluded.v, scope = excluded.scope
             RETURNING (xmax = 0) AS fresh)
           SELECT count(*) FILTER (WHERE fresh) AS n FROM ins`,
          [
            p.feed,
            chunk.map((r) => r.k),
            chunk.map((r) => r.h),
            chunk.map((r) => r.v),
            chunk.map((r) => r.scope),
          ],
        )[0]!.n;
      }
      let removed = 0;
      for (let i = 0; i < p.dels.length; i += BULK)
        removed += this.db.query('DELETE FROM state WHERE feed = $1 AND k = ANY($2::bytea[])', [
          p.feed,
          p.dels.slice(i, i + BULK),
        ]).rowCount;
      this.q('UPDATE feed SET head = $1, digest = $2, rows = rows + $3 WHERE feed = $4', [
        head,
        digest,
        added - removed,
        p.feed,
      ]);
      this.q('INSERT INTO publication (feed, at, puts, dels, note) VALUES ($1, $2, $3, $4, $5)', [
        p.feed,
        p.batches[0]?.publishedAt ?? Date.now(),
        p.puts.length,
        p.dels.length,
        p.note,
      ]);
      if (p.crl) this.writeCrlState(p.crl);
      if (p.batches.length > 0) this.q('SELECT pg_notify($1, $2)', [FEED_CHANNEL, p.feed]);
    });
  }

  // ---- journals --------------------------------------------------------------------------------

  /** A transaction holding the journal lock (taken once, at the top level). */
  private journalTx<T>(fn: () => T): T {
    if (this.depth > 0) return this.tx(fn);
    // One round trip: the lock is taken with BEGIN.
    return this.tx(fn, `BEGIN; SELECT pg_advisory_xact_lock(${JOURNAL_LOCK})`);
  }

  acceptJournal(
    terminalId: string,
    rows: PushRecord[],
    at: number,
    toPresence: (row: PushRecord, lookup: (seq: number) => PushRecord | null) => PeerEntryOp | null,
    makeBatch: (fromSeq: number, ops: PeerEntryOp[]) => StoredBatch,
  ): JournalAcceptance {
    return this.journalTx((): JournalAcceptance => {
      const sorted = [...rows].sort((a, b) => a.seq - b.seq);
      // The terminal's row (locked) and the rows already held around this push, in one round trip;
      // anything else a presence rule asks for (a grant named by a later passage) is read when asked.
      // One statement sees the journal as it was when it started, which is current: every journal
      // transaction holds the journal lock (journalTx) from before its first statement.
      const [t, ...around] = this.q<{
        acked: number | null;
        site_id: string | null;
        site_kind: string | null;
        seq: number | null;
        body: string | null;
        hash: string | null;
      }>(
        `WITH t AS (SELECT acked, site_id, site_kind FROM terminal WHERE id = $1 FOR UPDATE)
         SELECT acked, site_id, site_kind, NULL::bigint AS seq, NULL AS body, NULL AS hash FROM t
         UNION ALL
         SELECT NULL, NULL, NULL, seq, body, hash FROM journal
         WHERE terminal_id = $1 AND seq BETWEEN $2 AND $3 AND EXISTS (SELECT 1 FROM t)
         ORDER BY seq NULLS FIRST`,
        [
          terminalId,
          sorted.length > 0 ? sorted[0]!.seq - 1 : 0,
          sorted.length > 0 ? sorted[sorted.length - 1]!.seq : -1,
        ],
      );
      if (!t || t.acked === null || t.site_id === null || t.site_kind === null)
        throw new KioskError('HUB_UNKNOWN_TERMINAL', `terminal ${terminalId} is not registered`);
      const known = new Map<number, PushRecord>();
      for (const r of around) known.set(r.seq!, { seq: r.seq!, body: r.body!, hash: r.hash! });
      // The range read above is complete (the terminal's row is locked, so no other push of it runs
      // meanwhile): a seq inside it that is not there is not held, without asking again.
      const lo = sorted.length > 0 ? sorted[0]!.seq - 1 : 0;
      const hi = sorted.length > 0 ? sorted[sorted.length - 1]!.seq : -1;
      const lookup = (seq: number): PushRecord | null => {
        const hit = known.get(seq);
        if (hit) return hit;
        if (seq >= lo && seq <= hi) return null;
        const [r] = this.q<PushRecord>(
          'SELECT seq, body, hash FROM journal WHERE terminal_id = $1 AND seq = $2',
          [terminalId, seq],
        );
        if (r) known.set(seq, r);
        return r ?? null;
      };
      let accepted = 0;
      let duplicates = 0;
      const fresh: PushRecord[] = [];
      const presence: PeerEntryOp[] = [];
      const presenceRows: Array<{ op: PeerEntryOp; row: PushRecord }> = [];
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
        const rec = { seq: row.seq, body: row.body, hash: row.hash };
        known.set(row.seq, rec);
        fresh.push(rec);
        accepted++;
        const op = toPresence(row, lookup);
        if (op) {
          presence.push(op);
          presenceRows.push({ op, row });
        }
      }
      // The new rows, and the gap-free watermark advanced over them, in one statement: the rows above it
      // whose seq equals acked + their rank follow it without a gap. The statement does not see its own
      // inserts in the table, so those come from the insert's RETURNING (they were not held before: the
      // insert would have failed). Nothing to do when no row came in.
      let acked = t.acked;
      if (fresh.length > 0)
        acked = this.q<{ acked: number }>(
          `WITH ins AS (
             INSERT INTO journal (terminal_id, seq, body, hash, received_at)
             SELECT $1, u.seq, u.body, u.hash, $5
             FROM unnest($2::bigint[], $3::text[], $4::text[]) AS u(seq, body, hash)
             RETURNING seq)
           UPDATE terminal SET acked = acked + (
             SELECT count(*) FROM (
               SELECT seq - row_number() OVER (ORDER BY seq) AS d FROM (
                 SELECT seq FROM journal WHERE terminal_id = $1 AND seq > $6
                 UNION ALL SELECT seq FROM ins WHERE seq > $6) AS above) AS run
             WHERE d = $6)
           WHERE id = $1 RETURNING acked`,
          [
            terminalId,
            fresh.map((r) => r.seq),
            fresh.map((r) => r.body),
            fresh.map((r) => r.hash),
            at,
            t.acked,
          ],
        )[0]!.acked;
      if (presence.length > 0) {
        const site = t.site_id;
        const key = peerFeedKey(site);
        const info = this.lockFeed(key);
        const b = makeBatch(info.head, presence);
        const digest = PgHubStore.chained(info.digest, b);
        // The batch, the feed's head, the presence and the wake-up of other instances' long polls
        // (delivered at commit) in one statement. Presence: per subject the op that applying them in order
        // would leave (the latest, a later one winning a tie), since one INSERT may not touch a row twice.
        const last = new Map<string, PeerEntryOp>();
        for (const op of presence) {
          const prior = last.get(op.subject);
          if (!prior || op.at >= prior.at) last.set(op.subject, op);
        }
        const ops = [...last.values()];
        this.q(
          `WITH b AS (INSERT INTO batch (feed, to_seq, from_seq, ops, published_at, frame_gz, digest)
                      VALUES ($1, $2, $3, $4, $5, $6, $7)),
                f AS (UPDATE feed SET head = $2, digest = $7 WHERE feed = $1),
                p AS (INSERT INTO presence (site_id, subject, state, gate_id, terminal_id, at)
                      SELECT $8, u.subject, u.state, u.gate_id, u.terminal_id, u.at
                      FROM unnest($9::text[], $10::text[], $11::text[], $12::text[], $13::bigint[])
                        AS u(subject, state, gate_id, terminal_id, at)
                      ON CONFLICT (site_id, subject) DO UPDATE SET state = excluded.state,
                        gate_id = excluded.gate_id, terminal_id = excluded.terminal_id, at = excluded.at
                      WHERE excluded.at >= presence.at)
           SELECT pg_notify($14, $1)`,
          [
            key,
            b.toSeq,
            b.fromSeq,
            presence.length,
            at,
            b.frameGz,
            digest,
            site,
            ops.map((op) => op.subject),
            ops.map((op) => op.state),
            ops.map((op) => op.gateId),
            ops.map((op) => op.terminalId),
            ops.map((op) => op.at),
            FEED_CHANNEL,
          ],
        );
        if (conflictPolicy(t.site_kind) === 'record')
          this.conflictTable.trackAll(
            site,
            presenceRows.flatMap(({ op, row }) => {
              const facts = presenceRecordFacts(row);
              return facts ? [{ op, facts }] : [];
            }),
            at,
          );
      }
      return { accepted, duplicates, acked, presence };
    });
  }

  acceptJournalMany(items: JournalPush[]): Array<JournalAcceptance | Error> {
    return this.journalTx(() =>
      items.map((i) => {
        try {
          return this.acceptJournal(i.terminalId, i.rows, i.at, i.toPresence, i.makeBatch);
        } catch (error) {
          if (error instanceof PgError && RETRYABLE.has(error.sqlState ?? '')) throw error;
          return error instanceof Error ? error : new Error(String(error));
        }
      }),
    );
  }

  journalCount(terminalId?: string): number {
    return (
      terminalId === undefined
        ? this.q<{ n: number }>('SELECT count(*) AS n FROM journal')
        : this.q<{ n: number }>('SELECT count(*) AS n FROM journal WHERE terminal_id = $1', [terminalId])
    )[0]!.n;
  }

  // ---- CRLs, presence, conflicts ---------------------------------------------------------------

  crlState(scope: string): CrlState | null {
    const [r] = this.q<CrlRow>('SELECT * FROM crl_scope WHERE scope = $1', [scope]);
    return r ? toCrlState(r) : null;
  }

  crlStatuses(): CrlIssuerStatus[] {
    return crlStatusesOf(this.q<CrlRow>(CRL_STATUS_SQL));
  }

  private writeCrlState(c: CrlState): void {
    this.q(
      `INSERT INTO crl_scope (scope, key_id, part, crl_number, this_update, next_update) VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (scope) DO UPDATE SET key_id = excluded.key_id, part = excluded.part,
         crl_number = excluded.crl_number, this_update = excluded.this_update, next_update = excluded.next_update`,
      [c.scope, c.issuerKeyId, c.partition, c.crlNumber, c.thisUpdate, c.nextUpdate],
    );
  }

  presence(siteId?: string): PresenceRow[] {
    const rows =
      siteId === undefined
        ? this.q('SELECT * FROM presence ORDER BY site_id, at DESC')
        : this.q('SELECT * FROM presence WHERE site_id = $1 ORDER BY at DESC', [siteId]);
    return (
      rows as Array<{
        site_id: string;
        subject: string;
        state: 'inside' | 'outside';
        gate_id: string;
        terminal_id: string;
        at: number;
      }>
    ).map((r) => ({
      siteId: r.site_id,
      subject: r.subject,
      state: r.state,
      gateId: r.gate_id,
      terminalId: r.terminal_id,
      at: r.at,
    }));
  }

  conflicts(filter: { siteId?: string; openOnly?: boolean } = {}): EntryConflict[] {
    return this.conflictTable.conflicts(filter);
  }

  resolveConflict(id: number, resolution: { note: string; by: string; at: number }): EntryConflict {
    return this.conflictTable.resolveConflict(id, resolution);
  }

  // ---- request nonces --------------------------------------------------------------------------

  private nonceReady = false;

  /**
   * On their own autocommit connection, shared by every instance (a nonce used at one is refused at the
   * others). Like the SQLite store's nonce connection, without waiting for the WAL flush: a committed
   * nonce survives a hub instance crashing or restarting (what this closes); only a database server crash
   * can lose the last few, and the next synchronous commit flushes them too.
   */
  private nonceQuery(sql: string, params: PgValue[]): number {
    if (!this.nonceReady) {
      this.db.query('SET synchronous_commit = off', [], 'nonce');
      this.nonceReady = true;
    }
    return this.db.query(sql, params, 'nonce').rowCount;
  }

  useNonce(terminalId: string, nonce: string, expires: number): boolean {
    return (
      this.nonceQuery(
        'INSERT INTO request_nonce (terminal_id, nonce, expires) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
        [terminalId, nonce, expires],
      ) === 1
    );
  }

  putRoot(r: SharedRoot, at: number): void {
    this.q(
      `INSERT INTO hub_root (version, bytes, publisher_label, at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (version) DO NOTHING`,
      [r.version, r.bytes, r.publisherLabel, at],
    );
    const [held] = this.q<{ bytes: Buffer }>('SELECT bytes FROM hub_root WHERE version = $1', [r.version]);
    if (!held || !Buffer.from(held.bytes).equals(r.bytes)) throw rootConflict(r.version);
  }

  rootsAfter(after: number): SharedRoot[] {
    return this.q<{ version: number; bytes: Buffer; publisher_label: string }>(
      'SELECT version, bytes, publisher_label FROM hub_root WHERE version > $1 ORDER BY version',
      [after],
    ).map((r) => ({
      version: Number(r.version),
      bytes: Buffer.from(r.bytes),
      publisherLabel: r.publisher_label,
    }));
  }

  useNonceFor(
    terminalId: string,
    nonce: string,
    expires: number,
    feed?: FeedKey,
  ): { fresh: boolean; terminal: TerminalRecord | null; feed?: FeedInfo } {
    if (!this.nonceReady) {
      this.db.query('SET synchronous_commit = off', [], 'nonce');
      this.nonceReady = true;
    }
    // The nonce row is inserted whether or not the terminal exists (as useNonce does); the terminal's
    // row, and a pull's feed row, are read in the same statement, on the nonce connection (autocommit:
    // their committed state, as feedInfo reads it).
    const feedColumns =
      feed === undefined
        ? ''
        : `, f.epoch AS feed_epoch, f.head AS feed_head, f.rows AS feed_rows, f.digest AS feed_digest,
             f.lineage AS feed_lineage,
             (SELECT from_seq FROM batch b WHERE b.feed = $4 ORDER BY to_seq LIMIT 1) AS feed_oldest`;
    const [row] = this.db.query(
      `WITH n AS (INSERT INTO request_nonce (terminal_id, nonce, expires) VALUES ($1, $2, $3)
                  ON CONFLICT DO NOTHING RETURNING 1)
       SELECT (SELECT count(*) FROM n)::int AS fresh, t.*${feedColumns} FROM (SELECT 1) AS one
         LEFT JOIN terminal t ON t.id = $1${feed === undefined ? '' : ' LEFT JOIN feed f ON f.feed = $4'}`,
      feed === undefined ? [terminalId, nonce, expires] : [terminalId, nonce, expires, feed],
      'nonce',
    ).rows as unknown as Array<
      TerminalRow & {
        fresh: number;
        feed_epoch?: string | null;
        feed_head: number;
        feed_rows: number;
        feed_digest: string | null;
        feed_lineage: string;
        feed_oldest: number | null;
      }
    >;
    const r = row!;
    const out = { fresh: r.fresh === 1, terminal: r.id ? toTerminal(r) : null };
    // A feed not there yet (a site's first peer entries) is left to feedInfo, which creates it.
    if (feed === undefined || r.feed_epoch == null) return out;
    return {
      ...out,
      feed: toFeedInfo(feed, {
        epoch: r.feed_epoch,
        head: r.feed_head,
        rows: r.feed_rows,
        digest: r.feed_digest,
        lineage: r.feed_lineage,
        oldest: r.feed_oldest,
      }),
    };
  }

  pruneNonces(now: number): number {
    return this.nonceQuery('DELETE FROM request_nonce WHERE expires < $1', [now]);
  }

  // ---- several instances -----------------------------------------------------------------------

  private readonly listeners = new Set<() => void>();

  /**
   * Calls `onFeed` with a feed key whenever any instance commits a change to it (LISTEN on its own
   * asynchronous connection, reconnected with a back-off if it drops; a long poll also re-reads the
   * head now and then, so a wake-up lost while reconnecting only delays an answer).
   */
  subscribe(onFeed: (feed: FeedKey) => void): () => void {
    let stopped = false;
    let client: pg.Client | null = null;
    const connect = async (): Promise<void> => {
      let delay = 200;
      while (!stopped) {
        const c = new pg.Client({ connectionString: this.url, application_name: 'jpki-hub-listen' });
        try {
          c.on('notification', (n) => {
            if (n.channel === FEED_CHANNEL && n.payload) onFeed(n.payload as FeedKey);
          });
          c.on('error', () => undefined);
          await c.connect();
          await c.query(`LISTEN ${FEED_CHANNEL}`);
          if (stopped) {
            await c.end();
            return;
          }
          client = c;
          await once(c, 'end');
          client = null;
          delay = 200;
        } catch (error) {
          log.warn({ err: error }, 'hub database: LISTEN connection lost; reconnecting');
          await c.end().catch(() => undefined);
        }
        if (!stopped) await sleep(delay);
        delay = Math.min(delay * 2, 5_000);
      }
    };
    void connect();
    const stop = () => {
      stopped = true;
      this.listeners.delete(stop);
      void client?.end().catch(() => undefined);
    };
    this.listeners.add(stop);
    return stop;
  }

  /**
   * A snapshot named `name` (feed, epoch and sequence are in the name) built by one instance only: the
   * instance holding the snapshot's advisory lock builds it and stores it here; the others wait for it
   * and copy it to their `file`. A builder that dies releases the lock with its connection, and the next
   * instance to ask builds it.
   */
  async snapshotOnce(
    name: string,
    file: string,
    build: () => Promise<{ file: string; seq: number }>,
  ): Promise<{ file: string; seq: number }> {
    const conn = `snapshot-${name}`;
    const key = `jpki-snapshot:${name}`;
    try {
      for (;;) {
        const stored = this.fetchSnapshot(name, file);
        if (stored) return stored;
        const [got] = this.db.query('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [key], conn)
          .rows as Array<{
          ok: boolean;
        }>;
        if (got?.ok) {
          try {
            // It may have been stored between the look and the lock.
            const again = this.fetchSnapshot(name, file);
            if (again) return again;
            const built = await build();
            this.storeSnapshot(name, built);
            return built;
          } finally {
            this.db.query('SELECT pg_advisory_unlock(hashtext($1))', [key], conn);
          }
        }
        await sleep(100);
      }
    } finally {
      this.db.drop(conn);
    }
  }

  /** Copies a stored snapshot to `file`, a chunk at a time; null if none is stored under that name. */
  private fetchSnapshot(name: string, file: string): { file: string; seq: number } | null {
    const [s] = this.q<{ seq: number }>('SELECT seq FROM snapshot WHERE name = $1', [name]);
    if (!s) return null;
    const tmp = `${file}.${this.instance}.tmp`;
    const out = openSync(tmp, 'w', 0o600);
    try {
      for (let n = 0; ; n++) {
        const [c] = this.q<{ data: Buffer }>('SELECT data FROM snapshot_chunk WHERE name = $1 AND n = $2', [
          name,
          n,
        ]);
        if (!c) break;
        writeSync(out, c.data);
      }
    } finally {
      closeSync(out);
    }
    renameSync(tmp, file);
    return { file, seq: s.seq };
  }

  private storeSnapshot(name: string, built: { file: string; seq: number }): void {
    const feed = name.split('-')[0] ?? '';
    // One transaction, so the others see all of it or none; read a chunk at a time (bounded memory).
    const fd = openSync(built.file, 'r');
    try {
      this.tx(() => {
        this.q('DELETE FROM snapshot WHERE feed = $1 AND name <> $2', [feed, name]);
        this.q('INSERT INTO snapshot (name, feed, seq, bytes, built_at) VALUES ($1, $2, $3, 0, $4)', [
          name,
          feed,
          built.seq,
          Date.now(),
        ]);
        const buf = Buffer.alloc(SNAPSHOT_CHUNK);
        let bytes = 0;
        for (let n = 0; ; n++) {
          const got = readSync(fd, buf, 0, SNAPSHOT_CHUNK, null);
          if (got === 0) break;
          this.q('INSERT INTO snapshot_chunk (name, n, data) VALUES ($1, $2, $3)', [
            name,
            n,
            buf.subarray(0, got),
          ]);
          bytes += got;
        }
        this.q('UPDATE snapshot SET bytes = $1 WHERE name = $2', [bytes, name]);
        this.q('INSERT INTO snapshot_build (name, instance, at) VALUES ($1, $2, $3)', [
          name,
          this.instance,
          Date.now(),
        ]);
      });
    } finally {
      closeSync(fd);
    }
  }
}

const CRL_STATUS_SQL = 'SELECT * FROM crl_scope WHERE next_update IS NOT NULL ORDER BY scope';

function crlStatusesOf(rows: CrlRow[]): CrlIssuerStatus[] {
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
