// Builds the signed snapshot of a feed (what Publisher.snapshotFile serves): a file of gzip members, the
// manifest frame, the rows frames (the rows file of protocol/snapshot-rows.ts cut into ROWS_CHUNK_BYTES
// chunks) and the end frame. The format is the one terminals verify; only how it is made is here:
//  - the state is read once, as blocks of rows already laid out by the store when it can
//    (HubStore.readStateFramed) or framed here from readState's rows into reused buffers;
//  - each 1 MiB chunk is compressed as soon as it is full, several at once on the libuv pool (both cores),
//    while the next rows are read, and written in order to a temporary file;
//  - the manifest (row count, SHA-256 of the rows) is known only at the end, so the final file is the
//    manifest member followed by a copy of the compressed rows: a pass over the compressed bytes, not a
//    second pass of reading, framing and compressing the rows.
// Memory: a few chunks in flight, never the state.
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { closeSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { setImmediate as yieldNow } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gzip as gzipCb, gzipSync, constants as zc } from 'node:zlib';
import { KioskError } from '../base/errors.js';
import { KEY_BYTES, type FeedSigner, type SnapshotFeedName } from '../protocol/feed-format.js';
import { SNAPSHOT_MAGIC, encodeRowInto, signSnapshotManifest } from '../protocol/snapshot-rows.js';
import { FRAME_HEADER_BYTES, FrameType, ROWS_CHUNK_BYTES, frame } from '../protocol/sync.js';
import { writeFileHash } from './content.js';
import type { FramedStateRead, HubStore } from './store.js';

const gzip = promisify(gzipCb);
/**
 * Keys are keyed hashes and values sealed records: LZ77 finds nothing to match in them, so only Huffman
 * coding runs (about three times faster than level 1 here, the same size). Terminals just gunzip.
 */
const GZIP = { level: zc.Z_BEST_SPEED, strategy: zc.Z_HUFFMAN_ONLY };

/** Rows per block read from the store: large enough to amortise a query, small enough to stay in cache. */
const BLOCK_ROWS = 4_096;

export interface SnapshotBuildOptions {
  store: HubStore;
  feed: SnapshotFeedName;
  /** The epoch the caller named the file after: a build that finds another one stops (STORE_UNAVAILABLE). */
  epoch: string;
  /** Where the finished snapshot goes (written as `<file>.tmp` first, then renamed). */
  file: string;
  signer: FeedSigner;
  now: () => number;
  /** Chunks compressed at once (default: the cores, at least 2). */
  concurrency?: number;
}

export interface SnapshotBuilt {
  seq: number;
  rows: number;
  /** Bytes of the rows file the manifest signs (magic included). */
  rowsBytes: number;
}

export async function buildSnapshotFile(o: SnapshotBuildOptions): Promise<SnapshotBuilt> {
  const rowsGz = `${o.file}.rows.gz.tmp`;
  const out = `${o.file}.tmp`;
  const state = o.store.readStateFramed?.(o.feed, BLOCK_ROWS) ?? framedFromRows(o.store, o.feed);
  let signed: Buffer;
  let rows = 0;
  let rowsBytes = 0;
  try {
    if (state.epoch !== o.epoch) throw new KioskError('STORE_UNAVAILABLE', `${o.feed}: a new epoch started`);
    const chunks = new ChunkCompressor(rowsGz, o.concurrency ?? Math.max(2, availableParallelism()));
    try {
      const hash = createHash('sha256');
      const add = async (b: Buffer) => {
        hash.update(b);
        rowsBytes += b.length;
        await chunks.add(b);
      };
      await add(SNAPSHOT_MAGIC);
      let blocks = 0;
      let last: Buffer | null = null;
      for (const block of state.blocks) {
        last = checkRowsBlock(block.bytes, block.rows, last);
        rows += block.rows;
        await add(block.bytes);
        if (++blocks % 8 === 0) await yieldNow(); // keep serving other terminals while building
      }
      await chunks.finish();
      signed = signSnapshotManifest(
        o.feed,
        {
          epoch: state.epoch,
          seq: state.seq,
          asOf: new Date(o.now()).toISOString(),
          digest: state.digest,
          lineage: state.lineage,
          ...(o.feed === 'revocations' ? { issuers: state.issuers } : {}),
        },
        { rowCount: rows, rowsSha256: hash.digest('hex'), rowsBytes },
        o.signer,
      ).signed;
    } catch (error) {
      await chunks.abandon();
      rmSync(rowsGz, { force: true });
      throw error;
    }
  } finally {
    state.close();
  }
  try {
    const fd = openSync(out, 'w', 0o600);
    // The file's own SHA-256 (its content address) is taken as it is written and kept beside it, so that
    // a hub that starts on a built snapshot does not read gigabytes before its first answer.
    const fileHash = createHash('sha256');
    let fileBytes = 0;
    const write = (b: Buffer, n = b.length) => {
      fileHash.update(b.subarray(0, n));
      fileBytes += n;
      let off = 0;
      while (off < n) off += writeSync(fd, b, off, n - off);
    };
    try {
      write(gzipSync(frame(FrameType.manifest, signed)));
      appendFile(rowsGz, write);
      write(gzipSync(frame(FrameType.rowsEnd, Buffer.alloc(0))));
    } finally {
      closeSync(fd);
    }
    writeFileHash(o.file, { sha256: fileHash.digest('hex'), bytes: fileBytes });
    renameSync(out, o.file);
  } catch (error) {
    rmSync(out, { force: true });
    throw error;
  } finally {
    rmSync(rowsGz, { force: true });
  }
  return { seq: state.seq, rows, rowsBytes };
}

function appendFile(from: string, write: (b: Buffer, n: number) => void): void {
  const src = openSync(from, 'r');
  try {
    const buf = Buffer.allocUnsafe(8 << 20);
    for (;;) {
      const n = readSync(src, buf, 0, buf.length, null);
      if (n === 0) break;
      write(buf, n);
    }
  } finally {
    closeSync(src);
  }
}

/**
 * Cuts a byte stream into rows frames of ROWS_CHUNK_BYTES (the last one shorter), gzips each as its own
 * member with up to `concurrency` in flight, and writes the members to `file` in order.
 */
class ChunkCompressor {
  private readonly fd: number;
  private chunk = ChunkCompressor.fresh();
  private fill = FRAME_HEADER_BYTES;
  private readonly inFlight: Array<Promise<Buffer>> = [];

  constructor(
    file: string,
    private readonly concurrency: number,
  ) {
    this.fd = openSync(file, 'w', 0o600);
  }

  private static fresh(): Buffer {
    return Buffer.allocUnsafe(FRAME_HEADER_BYTES + ROWS_CHUNK_BYTES);
  }

  async add(bytes: Buffer): Promise<void> {
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(bytes.length - at, this.chunk.length - this.fill);
      bytes.copy(this.chunk, this.fill, at, at + n);
      this.fill += n;
      at += n;
      if (this.fill === this.chunk.length) await this.seal();
    }
  }

  private async seal(): Promise<void> {
    const c = this.chunk.subarray(0, this.fill);
    c[0] = FrameType.rows;
    c.writeUInt32BE(this.fill - FRAME_HEADER_BYTES, 1);
    this.chunk = ChunkCompressor.fresh();
    this.fill = FRAME_HEADER_BYTES;
    this.inFlight.push(gzip(c, GZIP));
    while (this.inFlight.length >= this.concurrency) this.write(await this.inFlight.shift()!);
  }

  private write(member: Buffer): void {
    let off = 0;
    while (off < member.length) off += writeSync(this.fd, member, off, member.length - off);
  }

  async finish(): Promise<void> {
    try {
      if (this.fill > FRAME_HEADER_BYTES) await this.seal();
      while (this.inFlight.length) this.write(await this.inFlight.shift()!);
    } finally {
      closeSync(this.fd);
    }
  }

  async abandon(): Promise<void> {
    await Promise.allSettled(this.inFlight.splice(0));
    try {
      closeSync(this.fd);
    } catch {
      /* already closed by finish */
    }
  }
}

/**
 * Walks a block of laid-out rows: each has a 16-byte key, a value length that stays inside the block, keys
 * strictly increasing from `prev`, and exactly `rows` of them. Returns the block's last key (a copy).
 * What a terminal refuses is refused here, before it is signed.
 */
export function checkRowsBlock(bytes: Buffer, rows: number, prev: Buffer | null): Buffer {
  let p = 0;
  let n = 0;
  let prevAt = -1;
  while (p < bytes.length) {
    if (bytes[p] !== KEY_BYTES || p + 1 + KEY_BYTES >= bytes.length)
      throw new KioskError('SNAPSHOT_INVALID', 'snapshot row key must be 16 bytes');
    const k = p + 1;
    const inOrder =
      prevAt >= 0
        ? bytes.compare(bytes, prevAt, prevAt + KEY_BYTES, k, k + KEY_BYTES) > 0
        : !prev || bytes.compare(prev, 0, prev.length, k, k + KEY_BYTES) > 0;
    if (!inOrder)
      throw new KioskError('SNAPSHOT_INVALID', 'snapshot rows must be in strictly increasing key order');
    prevAt = k;
    p = k + KEY_BYTES;
    let vlen = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[p++];
      if (b === undefined || shift > 14)
        throw new KioskError('SNAPSHOT_INVALID', 'bad snapshot value length');
      vlen |= (b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7;
    }
    p += vlen;
    n++;
  }
  if (p !== bytes.length || n !== rows)
    throw new KioskError('SNAPSHOT_INVALID', 'a block of snapshot rows is truncated or miscounted');
  if (prevAt < 0) throw new KioskError('SNAPSHOT_INVALID', 'an empty block of snapshot rows');
  return Buffer.from(bytes.subarray(prevAt, prevAt + KEY_BYTES));
}

/** readState's rows framed into blocks here (stores without readStateFramed, e.g. PostgreSQL). */
function framedFromRows(store: HubStore, feed: SnapshotFeedName): FramedStateRead {
  const state = store.readState(feed);
  function* blocks(): Generator<{ bytes: Buffer; rows: number; lastKey: Buffer }> {
    let buf = Buffer.allocUnsafe(1 << 20);
    let fill = 0;
    let n = 0;
    let lastKey: Buffer = Buffer.alloc(0);
    for (const r of state.rows) {
      if (r.k.length > 255) throw new KioskError('SNAPSHOT_INVALID', 'snapshot row key must be 16 bytes');
      let end = encodeRowInto(buf, fill, r.k, r.v);
      if (end < 0) {
        if (n > 0) {
          // The consumer copies each block before it asks for the next: the buffer is reused.
          yield { bytes: buf.subarray(0, fill), rows: n, lastKey };
          fill = 0;
          n = 0;
        }
        if (1 + KEY_BYTES + 3 + r.v.length > buf.length)
          buf = Buffer.allocUnsafe(2 * (1 + KEY_BYTES + 3 + r.v.length));
        end = encodeRowInto(buf, fill, r.k, r.v);
      }
      fill = end;
      n++;
      lastKey = r.k;
    }
    if (n > 0) yield { bytes: buf.subarray(0, fill), rows: n, lastKey };
  }
  return {
    seq: state.seq,
    epoch: state.epoch,
    digest: state.digest,
    lineage: state.lineage,
    issuers: state.issuers,
    blocks: blocks(),
    close: () => state.close(),
  };
}
