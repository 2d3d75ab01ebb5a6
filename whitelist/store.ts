// FeedStore: one snapshot-able feed (whitelist or revocations) in its own SQLite file of
// (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID rows plus its feed state. Deltas apply in one transaction;
// a snapshot is built into a fresh file in key order and swapped in by rewriting a pointer file
// atomically, so a crash at any point leaves either the old or the new content, never a mix.
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { KioskError } from '../base/errors.js';
import { getLogger } from '../base/log.js';
import { integrityCheck, migrate, openDb, type Db, type Migration } from './db.js';
import {
  decodeRevocationValue,
  encodeRevocationValue,
  type FeedBatch,
  type SnapshotFeedName,
  type SnapshotManifest,
} from '../protocol/feed-format.js';
import { SnapshotReader } from '../protocol/snapshot-rows.js';
import {
  FEED_STATE_SQL,
  FeedStateTable,
  checkSequence,
  type FeedState,
  type Freshness,
} from './feed-state.js';
import { KeyFilter } from './key-filter.js';
import { KEY_BYTES, isWellFormedSeal } from './privacy.js';

const log = getLogger('whitelist');

/**
 * Page size of snapshot-built feed files. 1 KiB pages were tried for less writing per random delta op; at
 * 10 M rows the gain was within noise, and 4 KiB keeps lookups one level shallower.
 */
const FEED_PAGE_SIZE = 4096;

/**
 * Deltas land in `recent` (v NULL = deleted), a small table read before `row` and folded into it when it
 * grows past FOLD_AT rows (or replaced whole by the next snapshot). A random put into a 10 M-row `row`
 * dirties a 4 KiB page per op (WAL, then checkpoint): ~29 k ops/s measured here. Into the small `recent`
 * table the same batch writes a few pages, and the fold visits `row` in key order, each page once.
 * `content` is what the feed holds: recent changes over the base rows.
 */
export const FOLD_AT = 1_000_000;

export const feedMigrations: Migration[] = [
  {
    version: 1,
    sql: `${FEED_STATE_SQL}
      CREATE TABLE row (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID;`,
  },
  {
    version: 2,
    sql: `CREATE TABLE recent (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID;
      CREATE VIEW content AS
        SELECT k, v FROM recent WHERE v IS NOT NULL
        UNION ALL
        SELECT k, v FROM row WHERE NOT EXISTS (SELECT 1 FROM recent WHERE recent.k = row.k);`,
  },
];

export interface ApplyResult {
  feed: SnapshotFeedName;
  fromSeq: number;
  toSeq: number;
  puts: number;
  dels: number;
}

export interface SnapshotResult {
  feed: SnapshotFeedName;
  epoch: string;
  seq: number;
  rows: number;
  file: string;
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `file` with `content` atomically and durably (write temp, fsync, rename, fsync dir). */
export function writeFileAtomic(file: string, content: string, dir: string): void {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeFileSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncPath(dir);
}

function removeDbFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
}

function validateValue(feed: SnapshotFeedName, v: Uint8Array): boolean {
  if (feed === 'whitelist') return isWellFormedSeal(v);
  try {
    decodeRevocationValue(v);
    return true;
  } catch {
    return false;
  }
}

export class FeedStore {
  private db!: Db;
  private state!: FeedStateTable;
  private getStmt!: ReturnType<Db['prepare']>;
  private recentStmt!: ReturnType<Db['prepare']>;
  /** Rows in `recent` (an upper bound between folds): lookups skip the table while it is empty. */
  private recentRows = 0;
  /** A read-only open of a file from before migration 2 has no `recent` table: nothing pending then. */
  private hasRecentTable = false;
  private currentFile!: string;
  private readonly pointer: string;
  private cacheMb: number | null = null;
  /** When enabled: every key with a value in this file, and possibly others (see key-filter.ts). */
  private filter: KeyFilter | null = null;
  private filterEnabled = false;
  private importing = false;
  private closed = false;
  private dataVersionStmt!: Database.Statement<[], number>;
  /** PRAGMA data_version when this process last knew the file's content: it moves on another's commit. */
  private dataVersion = 0;

  private constructor(
    readonly dir: string,
    readonly feed: SnapshotFeedName,
    private readonly readonly: boolean,
  ) {
    this.pointer = join(dir, `${feed}.current`);
  }

  /** Opens (creating if needed) the feed's current file under `dir`. */
  static open(dir: string, feed: SnapshotFeedName, options: { readonly?: boolean } = {}): FeedStore {
    const store = new FeedStore(dir, feed, options.readonly ?? false);
    store.openCurrent();
    if (!store.readonly) store.collectGarbage();
    return store;
  }

  private openCurrent(): void {
    let name: string;
    if (existsSync(this.pointer)) {
      name = readFileSync(this.pointer, 'utf8').trim();
      if (!/^[\w.-]+\.db$/.test(name))
        throw new KioskError('STORE_CORRUPT', `${this.pointer} does not name a database file`);
      if (!existsSync(join(this.dir, name)))
        throw new KioskError('STORE_CORRUPT', `${this.pointer} names ${name}, which is missing`);
    } else {
      if (this.readonly) throw new KioskError('STORE_UNAVAILABLE', `no ${this.feed} store in ${this.dir}`);
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      name = `${this.feed}-initial.db`;
      const db = openDb(join(this.dir, name), { durability: 'normal' });
      migrate(db, feedMigrations, name);
      FeedStateTable.create(db, this.feed);
      db.close();
      writeFileAtomic(this.pointer, name + '\n', this.dir);
    }
    this.currentFile = join(this.dir, name);
    this.attach(openDb(this.currentFile, { durability: 'normal', readonly: this.readonly, create: false }));
  }

  private attach(db: Db): void {
    if (!this.readonly) migrate(db, feedMigrations, this.currentFile);
    this.db = db;
    this.state = new FeedStateTable(db, this.feed);
    this.getStmt = db.prepare('SELECT v FROM row WHERE k = ?').pluck();
    this.hasRecentTable =
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'recent'").get() !== undefined;
    this.recentStmt = db
      .prepare(this.hasRecentTable ? 'SELECT v FROM recent WHERE k = ?' : 'SELECT NULL WHERE 0 AND ?')
      .pluck();
    this.recentRows = this.countRecent();
    if (this.cacheMb !== null) db.pragma(`cache_size = ${-Math.round(this.cacheMb * 1024)}`);
    this.dataVersionStmt = db.prepare<[], number>('PRAGMA data_version').pluck();
    this.dataVersion = this.dataVersionStmt.get() as number;
    this.filter = null;
    if (this.filterEnabled) this.buildFilter();
  }

  /**
   * Keeps a KeyFilter of this feed's keys in memory, so that get() of an absent key skips SQLite. For the
   * revocation list: 4–8 bytes per revocation, built at open from the keys (~1.2 s per million here).
   */
  enableKeyFilter(): void {
    this.filterEnabled = true;
    if (!this.filter) this.buildFilter();
  }

  private countRecent(): number {
    return this.hasRecentTable ? (this.db.prepare('SELECT count(*) FROM recent').pluck().get() as number) : 0;
  }

  private buildFilter(): void {
    const baseRows = this.db.prepare('SELECT count(*) FROM row').pluck().get() as number;
    // Room to double before it is overfull (at 2x capacity): a feed growing by deltas — a million-serial
    // CRL arriving in batches — rebuilds every 4x of growth, not at every batch.
    const filter = new KeyFilter(Math.max(4096, 2 * (baseRows + this.recentRows)));
    for (const k of this.db.prepare('SELECT k FROM row').pluck().iterate()) filter.add(k as Buffer);
    if (this.recentRows > 0)
      for (const k of this.db.prepare('SELECT k FROM recent WHERE v IS NOT NULL').pluck().iterate())
        filter.add(k as Buffer);
    this.filter = filter;
  }

  /**
   * Picks up what another process changed in this feed (a snapshot swapped in, a delta or an import
   * applied): re-reads the pointer and, if the file moved on, the recent-changes count and the key filter.
   * Lookups in between see this process's view. The terminal calls it as each card arrives.
   */
  refresh(): boolean {
    if (this.reopenIfSwapped()) return true;
    const version = this.dataVersionStmt.get() as number;
    if (version === this.dataVersion) return false;
    this.dataVersion = version;
    this.recentRows = this.countRecent();
    if (this.filterEnabled) this.buildFilter();
    log.info({ feed: this.feed, recent: this.recentRows }, 'feed changed by another process: view refreshed');
    return true;
  }

  /**
   * Deletes files of this feed left by a crash mid-snapshot, or replaced by a swap. Another process may be
   * swapping at the same time: the pointer is re-read, and only files untouched for 10 minutes go.
   */
  private collectGarbage(): void {
    const current = existsSync(this.pointer) ? readFileSync(this.pointer, 'utf8').trim() : '';
    const ours = this.currentFile.slice(this.dir.length + 1);
    const cutoff = Date.now() - 10 * 60_000;
    for (const name of readdirSync(this.dir)) {
      if (!name.startsWith(`${this.feed}-`)) continue;
      const base = name.replace(/(-wal|-shm|-journal)$/, '');
      if (base === current || base === ours) continue;
      if (!base.endsWith('.building') && !base.endsWith('.db')) continue;
      const file = join(this.dir, name);
      try {
        if (statSync(file).mtimeMs < cutoff) rmSync(file, { force: true });
      } catch {
        /* removed by another process meanwhile */
      }
    }
  }

  /** Page cache for this file, in MiB; it fills only with pages actually read. */
  setCacheMb(mb: number): void {
    this.cacheMb = mb;
    this.db.pragma(`cache_size = ${-Math.round(mb * 1024)}`);
  }

  /** Path of the database file lookups read now. */
  get currentPath(): string {
    return this.currentFile;
  }

  /**
   * Reads the current file once, front to back, so that its pages are in the OS page cache before the
   * first card: a lookup that finds its leaf page on disk instead takes a disk read (~100 µs here) rather
   * than microseconds. Runs in libuv's thread pool, never on the event loop; the bytes do not stay in this
   * process (no mmap, so no resident memory). Returns the bytes read.
   */
  async prewarm(options: { chunkBytes?: number; signal?: AbortSignal } = {}): Promise<number> {
    const handle = await openFile(this.currentFile, 'r');
    const buffer = Buffer.allocUnsafe(options.chunkBytes ?? 1 << 20);
    let total = 0;
    try {
      for (;;) {
        if (options.signal?.aborted) break;
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, total);
        if (bytesRead === 0) break;
        total += bytesRead;
      }
    } finally {
      await handle.close();
    }
    return total;
  }

  /** The stored value for a row key, or undefined. Synchronous; microseconds. */
  get(k: Uint8Array): Buffer | undefined {
    if (this.filter && !this.filter.mayContain(k)) return undefined;
    if (this.recentRows > 0) {
      // undefined: no recent change for this key; null: deleted since the base rows.
      const recent = this.recentStmt.get(k) as Buffer | null | undefined;
      if (recent !== undefined) return recent ?? undefined;
    }
    return this.getStmt.get(k) as Buffer | undefined;
  }

  feedState(): FeedState {
    return this.state.get();
  }

  freshness(now?: number): Freshness {
    return this.state.freshness(now);
  }

  markSynced(at: Date, asOf?: string): void {
    this.state.markSynced(at, asOf);
  }

  rowCount(): number {
    return this.db.prepare('SELECT count(*) FROM content').pluck().get() as number;
  }

  /** Recent changes not yet folded into the base rows. */
  pendingChanges(): number {
    return this.recentRows;
  }

  /**
   * Folds the recent changes into the base rows, in key order, in one transaction. Runs by itself when
   * `recent` passes FOLD_AT; an operator may run it at a quiet hour.
   */
  fold(): number {
    if (this.readonly) throw new KioskError('STORE_UNAVAILABLE', 'store opened read-only');
    const folded = this.db
      .transaction(() => {
        this.db
          .prepare('INSERT OR REPLACE INTO row (k, v) SELECT k, v FROM recent WHERE v IS NOT NULL ORDER BY k')
          .run();
        this.db.prepare('DELETE FROM row WHERE k IN (SELECT k FROM recent WHERE v IS NULL)').run();
        return this.db.prepare('DELETE FROM recent').run().changes;
      })
      .immediate();
    this.recentRows = 0;
    log.info({ feed: this.feed, folded }, 'recent changes folded into the base rows');
    return folded;
  }

  /** Bytes of the current database file (pages in use, excluding the WAL). */
  fileBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return pageSize * (pages - free);
  }

  integrity(): string {
    return integrityCheck(this.db);
  }

  /**
   * Applies a verified batch (from openBatch) in one IMMEDIATE transaction: all ops and the new sequence,
   * or nothing. Sequence errors (DELTA_GAP, DELTA_DUPLICATE) are raised before anything is written.
   */
  apply(batch: FeedBatch): ApplyResult {
    if (batch.feed !== this.feed)
      throw new KioskError('DELTA_MALFORMED', `a ${batch.feed} batch cannot apply to the ${this.feed} feed`);
    const put = this.db.prepare('INSERT OR REPLACE INTO recent (k, v) VALUES (?, ?)');
    const del = this.db.prepare('INSERT OR REPLACE INTO recent (k, v) VALUES (?, NULL)');
    // Decode every op before the transaction: a malformed op refuses the whole batch untouched.
    const decoded: Array<[Buffer, Buffer | null]> = batch.ops.map((op, i) => {
      const k = Buffer.from(op.k, 'hex');
      if (k.length !== KEY_BYTES) throw new KioskError('DELTA_MALFORMED', `ops.${i}.k is not a row key`);
      if (op.op === 'del') return [k, null];
      const v =
        batch.feed === 'whitelist'
          ? Buffer.from((op as { v: string }).v, 'base64')
          : encodeRevocationValue((op as { at: number }).at, (op as { reason: 'unspecified' }).reason);
      if (!validateValue(this.feed, v))
        throw new KioskError('DELTA_MALFORMED', `ops.${i} has a malformed value`);
      return [k, v];
    });
    let puts = 0;
    let dels = 0;
    // Before the write, so that no lookup can see a stored key the filter lacks; a refused batch leaves
    // extra keys, which only cost a query.
    if (this.filter) for (const [k, v] of decoded) if (v !== null) this.filter.add(k);
    this.db
      .transaction(() => {
        const s = this.state.get();
        checkSequence(s, batch);
        for (const [k, v] of decoded) {
          if (v === null) {
            del.run(k);
            dels++;
          } else {
            put.run(k, v);
            puts++;
          }
        }
        this.state.set({
          ...s,
          epoch: batch.epoch,
          seq: batch.toSeq,
          publisherKeyId: batch.publisherKeyId,
          asOf: batch.asOf,
          lastSyncAt: new Date().toISOString(),
        });
      })
      .immediate();
    this.recentRows += decoded.length;
    log.info({ feed: this.feed, fromSeq: batch.fromSeq, toSeq: batch.toSeq, puts, dels }, 'delta applied');
    if (this.recentRows > FOLD_AT) {
      this.recentRows = this.countRecent();
      if (this.recentRows > FOLD_AT) this.fold();
    }
    if (this.filter?.overfull) this.buildFilter();
    return { feed: this.feed, fromSeq: batch.fromSeq, toSeq: batch.toSeq, puts, dels };
  }

  /**
   * Builds a fresh database from a snapshot rows file whose manifest was verified (openManifest), checking
   * key order, framing, values, row count and SHA-256, then swaps it in atomically. Any failure leaves the
   * live store untouched → SNAPSHOT_INVALID. Holds the thread for the whole build (~15 s at 10 M rows):
   * for tools; a running terminal uses importSnapshotAsync.
   */
  importSnapshot(
    manifest: SnapshotManifest,
    rowsFile: string,
    onProgress?: (rows: number) => void,
  ): SnapshotResult {
    const steps = this.snapshotSteps(manifest, rowsFile, onProgress);
    for (;;) {
      const step = steps.next();
      if (step.done) return step.value;
    }
  }

  /**
   * importSnapshot that lets the event loop run between chunks of 50,000 rows (~0.1 s each here), so a
   * terminal keeps deciding on the old content while the new file is built. The swap itself is one step.
   */
  async importSnapshotAsync(
    manifest: SnapshotManifest,
    rowsFile: string,
    onProgress?: (rows: number) => void,
  ): Promise<SnapshotResult> {
    const steps = this.snapshotSteps(manifest, rowsFile, onProgress);
    try {
      for (;;) {
        const step = steps.next();
        if (step.done) return step.value;
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      steps.return(undefined as never); // runs the cleanup if a step threw or we stop early
    }
  }

  private *snapshotSteps(
    manifest: SnapshotManifest,
    rowsFile: string,
    onProgress?: (rows: number) => void,
  ): Generator<void, SnapshotResult, void> {
    if (this.readonly) throw new KioskError('STORE_UNAVAILABLE', 'store opened read-only');
    if (manifest.feed !== this.feed)
      throw new KioskError(
        'SNAPSHOT_INVALID',
        `a ${manifest.feed} snapshot cannot replace the ${this.feed} feed`,
      );
    if (this.importing)
      throw new KioskError('STORE_UNAVAILABLE', `a ${this.feed} snapshot is already being imported`);
    this.importing = true;
    try {
      return yield* this.buildAndSwap(manifest, rowsFile, onProgress);
    } finally {
      this.importing = false;
    }
  }

  private *buildAndSwap(
    manifest: SnapshotManifest,
    rowsFile: string,
    onProgress?: (rows: number) => void,
  ): Generator<void, SnapshotResult, void> {
    const safeEpoch = manifest.epoch.replace(/[^\w.-]/g, '_').slice(0, 40);
    const name = `${this.feed}-${safeEpoch}-${manifest.seq}-${randomBytes(4).toString('hex')}.db`;
    const building = join(this.dir, `${name}.building`);
    const reader = new SnapshotReader(rowsFile);
    let fresh: Db | undefined;
    let built = false;
    try {
      // Not openDb: the file must never be in WAL mode while it is built (that writes every page twice).
      fresh = new Database(building);
      fresh.pragma(`page_size = ${FEED_PAGE_SIZE}`);
      fresh.pragma('journal_mode = OFF');
      fresh.pragma('synchronous = OFF');
      fresh.pragma('cache_size = -65536');
      migrate(fresh, feedMigrations, building);
      const insert = fresh.prepare('INSERT INTO row (k, v) VALUES (?, ?)');
      let last: Buffer | null = null;
      const chunk = fresh.transaction(() => {
        for (let i = 0; i < 50_000; i++) {
          const row = reader.next();
          if (!row) return false;
          if (last && Buffer.compare(last, row.k) >= 0)
            throw new KioskError('SNAPSHOT_INVALID', `row ${reader.rows}: keys are not strictly increasing`);
          if (!validateValue(this.feed, row.v))
            throw new KioskError('SNAPSHOT_INVALID', `row ${reader.rows}: malformed value`);
          insert.run(row.k, row.v);
          last = row.k; // a view: the reader never writes into a buffer it handed out
        }
        return true;
      });
      while (chunk()) {
        onProgress?.(reader.rows);
        yield;
        if (this.closed) throw new KioskError('STORE_UNAVAILABLE', 'store closed during a snapshot import');
      }
      onProgress?.(reader.rows);
      const digest = reader.digest();
      if (reader.rows !== manifest.rowCount)
        throw new KioskError(
          'SNAPSHOT_INVALID',
          `snapshot has ${reader.rows} rows, its manifest says ${manifest.rowCount}`,
        );
      if (digest !== manifest.rowsSha256)
        throw new KioskError(
          'SNAPSHOT_INVALID',
          'snapshot rows do not match the SHA-256 in the signed manifest',
        );
      const now = new Date().toISOString();
      FeedStateTable.create(fresh, this.feed).set({
        feed: this.feed,
        epoch: manifest.epoch,
        seq: manifest.seq,
        publisherKeyId: manifest.publisherKeyId,
        asOf: manifest.asOf,
        lastSyncAt: now,
        snapshotId: manifest.epoch,
      });
      fresh.pragma('journal_mode = DELETE');
      fresh.close();
      fresh = undefined;
      fsyncPath(building);
      renameSync(building, join(this.dir, name));
      fsyncPath(this.dir);
      built = true;
    } catch (error) {
      if (error instanceof KioskError) throw error;
      throw new KioskError(
        'SNAPSHOT_INVALID',
        `snapshot import failed: ${(error as Error).message}`,
        undefined,
        {
          cause: error,
        },
      );
    } finally {
      if (!built) {
        reader.close();
        fresh?.close();
        removeDbFiles(building);
      }
    }
    if (this.closed) {
      removeDbFiles(join(this.dir, name));
      throw new KioskError('STORE_UNAVAILABLE', 'store closed during a snapshot import');
    }
    // The swap: from here the pointer names the new file; the old one is removed after reopening.
    const old = this.currentFile;
    try {
      writeFileAtomic(this.pointer, name + '\n', this.dir);
    } catch (error) {
      removeDbFiles(join(this.dir, name));
      throw new KioskError(
        'STORE_UNAVAILABLE',
        `cannot swap the ${this.feed} snapshot in: ${(error as Error).message}`,
        undefined,
        {
          cause: error,
        },
      );
    }
    this.db.close();
    this.currentFile = join(this.dir, name);
    this.attach(openDb(this.currentFile, { durability: 'normal', create: false }));
    removeDbFiles(old);
    log.info(
      { feed: this.feed, epoch: manifest.epoch, seq: manifest.seq, rows: reader.rows },
      'snapshot swapped in',
    );
    return {
      feed: this.feed,
      epoch: manifest.epoch,
      seq: manifest.seq,
      rows: reader.rows,
      file: this.currentFile,
    };
  }

  /** Re-reads the pointer (another process swapped a snapshot in). */
  reopenIfSwapped(): boolean {
    const name = readFileSync(this.pointer, 'utf8').trim();
    if (join(this.dir, name) === this.currentFile) return false;
    this.db.close();
    this.openCurrent();
    return true;
  }

  close(): void {
    this.closed = true;
    this.db.close();
  }
}
