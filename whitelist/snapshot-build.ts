// Builds a feed file from a verified snapshot: rows streamed from the rows file into a fresh database
// in key order, every row and the whole file checked against the signed manifest, then renamed into
// place. Separate from FeedStore because it never touches the live file: the store decides when to
// swap the result in.
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { KioskError } from '../base/errors.js';
import { migrate, type Db } from './db.js';
import type { SnapshotFeedName, SnapshotManifest } from '../protocol/feed-format.js';
import { SnapshotReader } from '../protocol/snapshot-rows.js';
import { FeedStateTable } from './feed-state.js';
import type { TrustedCheckpoint } from '../protocol/checkpoint.js';
import { writeCrlStatus } from './crl-status.js';
import { FEED_PAGE_SIZE, feedMigrations, fsyncPath, isValidFeedValue, removeDbFiles } from './feed-file.js';

export interface SnapshotBuild {
  dir: string;
  feed: SnapshotFeedName;
  /** File name the built database gets in `dir` once complete (it is built as `<name>.building`). */
  name: string;
  /** Verified with openManifest before the build starts. */
  manifest: SnapshotManifest;
  rowsFile: string;
  /** The checkpoint trusted before the swap: carried into the new file (the next one must not go back). */
  trusted?: TrustedCheckpoint | null;
  onProgress?: (rows: number) => void;
  /** Checked between chunks: the store was closed, so the build stops (STORE_UNAVAILABLE). */
  isClosed: () => boolean;
}

/**
 * Yields between chunks of 50,000 rows so that a caller can let the event loop run; returns the row
 * count once `<dir>/<name>` is complete and durable. Any failure removes the partial file and throws
 * (SNAPSHOT_INVALID, or STORE_UNAVAILABLE if the store closed meanwhile).
 */
export function* buildSnapshotFile(o: SnapshotBuild): Generator<void, number, void> {
  const building = join(o.dir, `${o.name}.building`);
  const reader = new SnapshotReader(o.rowsFile);
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
        if (!isValidFeedValue(o.feed, row.v))
          throw new KioskError('SNAPSHOT_INVALID', `row ${reader.rows}: malformed value`);
        insert.run(row.k, row.v);
        last = row.k; // a view: the reader never writes into a buffer it handed out
      }
      return true;
    });
    while (chunk()) {
      o.onProgress?.(reader.rows);
      yield;
      if (o.isClosed()) throw new KioskError('STORE_UNAVAILABLE', 'store closed during a snapshot import');
    }
    o.onProgress?.(reader.rows);
    const digest = reader.digest();
    if (reader.rows !== o.manifest.rowCount)
      throw new KioskError(
        'SNAPSHOT_INVALID',
        `snapshot has ${reader.rows} rows, its manifest says ${o.manifest.rowCount}`,
      );
    if (digest !== o.manifest.rowsSha256)
      throw new KioskError(
        'SNAPSHOT_INVALID',
        'snapshot rows do not match the SHA-256 in the signed manifest',
      );
    const now = new Date().toISOString();
    FeedStateTable.create(fresh, o.feed).set({
      feed: o.feed,
      epoch: o.manifest.epoch,
      seq: o.manifest.seq,
      publisherKeyId: o.manifest.publisherKeyId,
      asOf: o.manifest.asOf,
      lastSyncAt: now,
      snapshotId: o.manifest.epoch,
      digest: o.manifest.digest,
      checkpoint: o.trusted ?? null,
    });
    // The CRL status the rows were published with; a snapshot without one leaves the table empty.
    if (o.manifest.issuers !== undefined) writeCrlStatus(fresh, o.manifest.issuers);
    fresh.pragma('journal_mode = DELETE');
    fresh.close();
    fresh = undefined;
    fsyncPath(building);
    renameSync(building, join(o.dir, o.name));
    fsyncPath(o.dir);
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
  return reader.rows;
}
