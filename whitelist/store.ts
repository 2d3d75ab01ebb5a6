// FeedStore: one snapshot-able feed (whitelist or revocations) in its own SQLite file of
// (k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID rows plus its feed state. Deltas apply in one transaction;
// a snapshot is built into a fresh file in key order and swapped in by rewriting a pointer file
// atomically, so a crash at any point leaves either the old or the new content, never a mix. The build
// itself is snapshot-build.ts; the file's schema and durable file operations are feed-file.ts.
// Slightly over 400 lines on purpose: what is left is one class whose every method reads or replaces
// the same open file, key filter and recent-changes count; splitting it further would expose that state.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { KioskError } from '../base/errors.js';
import { getLogger } from '../base/log.js';
import { integrityCheck, migrate, openDb, type Db } from './db.js';
import { type FeedBatch, type SnapshotFeedName, type SnapshotManifest } from '../protocol/feed-format.js';
import { FeedStateTable, checkSequence, type FeedState, type Freshness } from './feed-state.js';
import { checkManifest, chainDigestFromHash, type Checkpoint } from '../protocol/checkpoint.js';
import {
  collectFeedGarbage,
  createInitialFeedFile,
  decodeBatchOps,
  feedMigrations,
  prewarmFile,
  readFeedPointer,
  removeDbFiles,
  writeFileAtomic,
} from './feed-file.js';
import { KeyFilter } from './key-filter.js';
import { buildSnapshotFile } from './snapshot-build.js';
import { readCrlStatus, writeCrlStatus, type CrlFreshness } from './crl-status.js';

const log = getLogger('whitelist');

/**
 * Deltas land in `recent` (v NULL = deleted), a small table read before `row` and folded into it when it
 * grows past FOLD_AT rows (or replaced whole by the next snapshot). A random put into a 10 M-row `row`
 * dirties a 4 KiB page per op (WAL, then checkpoint): ~29 k ops/s measured here. Into the small `recent`
 * table the same batch writes a few pages, and the fold visits `row` in key order, each page once.
 * `content` is what the feed holds: recent changes over the base rows.
 */
export const FOLD_AT = 1_000_000;

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
    if (!store.readonly)
      collectFeedGarbage(store.dir, store.feed, store.pointer, store.currentFile.slice(dir.length + 1));
    return store;
  }

  private openCurrent(): void {
    let name: string;
    if (existsSync(this.pointer)) name = readFeedPointer(this.pointer, this.dir);
    else {
      if (this.readonly) throw new KioskError('STORE_UNAVAILABLE', `no ${this.feed} store in ${this.dir}`);
      name = createInitialFeedFile(this.dir, this.feed, this.pointer);
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
    return prewarmFile(this.currentFile, options);
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
    const f = this.state.freshness(now);
    return this.feed === 'revocations' ? { ...f, crl: this.crlStatus() } : f;
  }

  /** The hub's signed CRL status stored with the revocation rows (empty for the whitelist). */
  crlStatus(): CrlFreshness {
    return readCrlStatus(this.db);
  }

  /** Check-and-set of a verified checkpoint (FeedStateTable.acceptCheckpoint). */
  acceptCheckpoint(c: Checkpoint, expect: { nonce: string }, receivedAt: number): FeedState {
    return this.state.acceptCheckpoint(c, expect, receivedAt);
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
  apply(batch: FeedBatch, batchSha256?: Buffer): ApplyResult {
    if (batch.feed !== this.feed)
      throw new KioskError('DELTA_MALFORMED', `a ${batch.feed} batch cannot apply to the ${this.feed} feed`);
    const put = this.db.prepare('INSERT OR REPLACE INTO recent (k, v) VALUES (?, ?)');
    const del = this.db.prepare('INSERT OR REPLACE INTO recent (k, v) VALUES (?, NULL)');
    // Decode every op before the transaction: a malformed op refuses the whole batch untouched.
    const decoded = decodeBatchOps(batch);
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
        // The CRL status describes the rows after this batch: stored in the same transaction.
        if (batch.feed === 'revocations' && batch.issuers !== undefined)
          writeCrlStatus(this.db, batch.issuers);
        this.state.set({
          ...s,
          epoch: batch.epoch,
          seq: batch.toSeq,
          publisherKeyId: batch.publisherKeyId,
          asOf: batch.asOf,
          lastSyncAt: new Date().toISOString(),
          // v2: the chain digest the hub's checkpoints state (protocol/checkpoint.ts); unknown without bytes.
          digest: batchSha256 ? chainDigestFromHash(s.digest ?? null, batchSha256) : null,
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
    const held = this.state.get();
    checkManifest(manifest, { ...heldOf(held), asOf: held.asOf });
    const rows = yield* buildSnapshotFile({
      dir: this.dir,
      feed: this.feed,
      name,
      manifest,
      trusted: held.checkpoint ?? null,
      rowsFile,
      ...(onProgress ? { onProgress } : {}),
      isClosed: () => this.closed,
    });
    if (this.closed) {
      removeDbFiles(join(this.dir, name));
      throw new KioskError('STORE_UNAVAILABLE', 'store closed during a snapshot import');
    }
    // v2 check-and-set: against the state as it is now (a delta may have landed during the build), the
    // snapshot must not move the feed backwards or to an epoch that does not succeed the held one.
    try {
      const s = this.state.get();
      checkManifest(manifest, { ...heldOf(s), asOf: s.asOf });
    } catch (error) {
      removeDbFiles(join(this.dir, name));
      throw error;
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
    log.info({ feed: this.feed, epoch: manifest.epoch, seq: manifest.seq, rows }, 'snapshot swapped in');
    return {
      feed: this.feed,
      epoch: manifest.epoch,
      seq: manifest.seq,
      rows,
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

/** A feed state as protocol/checkpoint.ts's checks see it. */
export function heldOf(s: FeedState) {
  return {
    feed: s.feed,
    epoch: s.epoch,
    seq: s.seq,
    digest: s.digest ?? null,
    trusted: s.checkpoint ?? null,
  };
}
