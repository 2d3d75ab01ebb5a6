// What a feed file is, apart from the FeedStore that reads it: its schema, its page size, how its values
// are checked, and the durable file operations (atomic replace, fsync, removal with WAL/SHM side files)
// that the store's pointer swap and the snapshot build both rely on.
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
import { KioskError } from '../base/errors.js';
import { migrate, openDb, type Migration } from './db.js';
import {
  decodeRevocationValue,
  encodeRevocationValue,
  type FeedBatch,
  type SnapshotFeedName,
} from '../protocol/feed-format.js';
import { FEED_STATE_SQL, FEED_STATE_V2_SQL, FeedStateTable } from './feed-state.js';
import { CRL_STATUS_SQL } from './crl-status.js';
import { KEY_BYTES, isWellFormedSeal } from './privacy.js';

/**
 * Page size of snapshot-built feed files. 1 KiB pages were tried for less writing per random delta op; at
 * 10 M rows the gain was within noise, and 4 KiB keeps lookups one level shallower.
 */
export const FEED_PAGE_SIZE = 4096;

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
  { version: 3, sql: FEED_STATE_V2_SQL },
  // The hub's signed CRL status beside the revocation rows (crl-status.ts); empty in whitelist files.
  { version: 4, sql: CRL_STATUS_SQL },
];

export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `file` with `content` atomically and durably (write temp, fsync, rename, fsync dir). */
export function writeFileAtomic(file: string, content: string | Uint8Array, dir: string): void {
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

export function removeDbFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
}

/** A stored value's shape: a sealed card record, or a revocation (date and reason). */
export function isValidFeedValue(feed: SnapshotFeedName, v: Uint8Array): boolean {
  if (feed === 'whitelist') return isWellFormedSeal(v);
  try {
    decodeRevocationValue(v);
    return true;
  } catch {
    return false;
  }
}

/** The database file a feed's pointer file names; STORE_CORRUPT if it names none or a missing one. */
export function readFeedPointer(pointer: string, dir: string): string {
  const name = readFileSync(pointer, 'utf8').trim();
  if (!/^[\w.-]+\.db$/.test(name))
    throw new KioskError('STORE_CORRUPT', `${pointer} does not name a database file`);
  if (!existsSync(join(dir, name)))
    throw new KioskError('STORE_CORRUPT', `${pointer} names ${name}, which is missing`);
  return name;
}

/** Creates an empty feed file and a pointer naming it (a feed's first open); returns the file name. */
export function createInitialFeedFile(dir: string, feed: SnapshotFeedName, pointer: string): string {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const name = `${feed}-initial.db`;
  const db = openDb(join(dir, name), { durability: 'normal' });
  migrate(db, feedMigrations, name);
  FeedStateTable.create(db, feed);
  db.close();
  writeFileAtomic(pointer, name + '\n', dir);
  return name;
}

/**
 * Deletes files of this feed left by a crash mid-snapshot, or replaced by a swap. Another process may be
 * swapping at the same time: the pointer is re-read, and only files untouched for 10 minutes go. `ours`
 * is the file this process has open.
 */
export function collectFeedGarbage(dir: string, feed: SnapshotFeedName, pointer: string, ours: string): void {
  const current = existsSync(pointer) ? readFileSync(pointer, 'utf8').trim() : '';
  const cutoff = Date.now() - 10 * 60_000;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(`${feed}-`)) continue;
    const base = name.replace(/(-wal|-shm|-journal)$/, '');
    if (base === current || base === ours) continue;
    if (!base.endsWith('.building') && !base.endsWith('.db')) continue;
    const file = join(dir, name);
    try {
      if (statSync(file).mtimeMs < cutoff) rmSync(file, { force: true });
    } catch {
      /* removed by another process meanwhile */
    }
  }
}

/** Reads `file` front to back in libuv's thread pool (see FeedStore.prewarm); returns the bytes read. */
export async function prewarmFile(
  file: string,
  options: { chunkBytes?: number; signal?: AbortSignal } = {},
): Promise<number> {
  const handle = await openFile(file, 'r');
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

/**
 * A verified batch's ops as stored rows: [key, value], or [key, null] for a delete; a CRL-status op
 * stores no row (its status is the batch's `issuers`). Throws DELTA_MALFORMED on the first key or value
 * that could not be stored.
 */
export function decodeBatchOps(
  batch: Extract<FeedBatch, { feed: SnapshotFeedName }>,
): Array<[Buffer, Buffer | null]> {
  const rows: Array<[Buffer, Buffer | null]> = [];
  batch.ops.forEach((op, i) => {
    if (!('k' in op)) return;
    const k = Buffer.from(op.k, 'hex');
    if (k.length !== KEY_BYTES) throw new KioskError('DELTA_MALFORMED', `ops.${i}.k is not a row key`);
    if (op.op === 'del') return void rows.push([k, null]);
    const v =
      batch.feed === 'whitelist'
        ? Buffer.from((op as { v: string }).v, 'base64')
        : encodeRevocationValue((op as { at: number }).at, (op as { reason: 'unspecified' }).reason);
    if (!isValidFeedValue(batch.feed, v))
      throw new KioskError('DELTA_MALFORMED', `ops.${i} has a malformed value`);
    rows.push([k, v]);
  });
  return rows;
}
