// A snapshot's rows file, streamed on both sides: the publisher writes it (and signs its manifest,
// feed-format.ts), the terminal reads it back row by row. Kept apart from the signed JSON formats
// because it is a binary stream with its own framing and buffering.
//
// Layout: SNAPSHOT_MAGIC, then per row: u8 key length, key, varint value length, value; keys strictly
// increasing. The manifest carries the row count and the SHA-256 of the whole file.
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { KioskError } from '../base/errors.js';
import type { CrlIssuerStatus } from './crl-status.js';
import {
  KEY_BYTES,
  SNAPSHOT_FORMAT,
  asFeedSigner,
  signManifest,
  type PublisherKey,
  type SnapshotFeedName,
  type SnapshotManifest,
  type SnapshotRow,
} from './feed-format.js';

export const SNAPSHOT_MAGIC = Buffer.from('JPKI-SNAPSHOT-ROWS-1\n', 'utf8');

function varintBytes(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/**
 * Writes one row in the layout above into `out` at `at` and returns the offset after it, or -1 when it does
 * not fit (nothing is written then). For builders that frame rows into their own buffers.
 */
export function encodeRowInto(out: Buffer, at: number, k: Uint8Array, v: Uint8Array): number {
  let n = v.length;
  const varint = n < 0x80 ? 1 : n < 0x4000 ? 2 : 3;
  const end = at + 1 + k.length + varint + n;
  if (end > out.length) return -1;
  let p = at;
  out[p++] = k.length;
  out.set(k, p);
  p += k.length;
  while (n >= 0x80) {
    out[p++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[p++] = n;
  out.set(v, p);
  return end;
}

/** Publisher side: writes rows (keys strictly increasing) and signs the manifest when finished. */
export class SnapshotWriter {
  private readonly fd: number;
  private readonly hash = createHash('sha256');
  private chunks: Buffer[] = [];
  private pending = 0;
  private count = 0;
  private bytes = 0;
  private last: Buffer | null = null;

  constructor(
    readonly file: string,
    private readonly feed: SnapshotFeedName,
  ) {
    this.fd = openSync(file, 'w', 0o600);
    this.push(SNAPSHOT_MAGIC);
  }

  private push(b: Buffer): void {
    this.chunks.push(b);
    this.pending += b.length;
    if (this.pending >= 1 << 20) this.flush();
  }

  private flush(): void {
    if (this.pending === 0) return;
    const data = Buffer.concat(this.chunks);
    this.hash.update(data);
    this.bytes += data.length;
    writeSync(this.fd, data);
    this.chunks = [];
    this.pending = 0;
  }

  add(k: Uint8Array, v: Uint8Array): void {
    const key = Buffer.from(k);
    if (key.length !== KEY_BYTES)
      throw new KioskError('SNAPSHOT_INVALID', 'snapshot row key must be 16 bytes');
    if (this.last && Buffer.compare(this.last, key) >= 0)
      throw new KioskError(
        'SNAPSHOT_INVALID',
        'snapshot rows must be added in strictly increasing key order',
      );
    this.last = key;
    this.push(Buffer.of(key.length));
    this.push(key);
    this.push(varintBytes(v.length));
    this.push(Buffer.from(v));
    this.count++;
  }

  /** Closes the rows file and returns the signed manifest bytes. */
  finish(meta: SnapshotMeta, key: PublisherKey): { manifest: SnapshotManifest; signed: Buffer } {
    this.flush();
    closeSync(this.fd);
    return signSnapshotManifest(
      this.feed,
      meta,
      { rowCount: this.count, rowsSha256: this.hash.digest('hex'), rowsBytes: this.bytes },
      key,
    );
  }
}

/** What a snapshot manifest says besides the rows themselves. */
export interface SnapshotMeta {
  epoch: string;
  seq: number;
  asOf: string;
  digest?: string;
  lineage?: string[];
  issuers?: CrlIssuerStatus[];
}

/** The signed manifest of a rows file of `rows.rowCount` rows whose whole bytes hash to `rows.rowsSha256`. */
export function signSnapshotManifest(
  feed: SnapshotFeedName,
  meta: SnapshotMeta,
  rows: { rowCount: number; rowsSha256: string; rowsBytes: number },
  key: PublisherKey,
): { manifest: SnapshotManifest; signed: Buffer } {
  const manifest: SnapshotManifest = {
    format: SNAPSHOT_FORMAT,
    feed,
    publisherKeyId: asFeedSigner(key).keyId,
    epoch: meta.epoch,
    seq: meta.seq,
    asOf: meta.asOf,
    rowCount: rows.rowCount,
    rowsSha256: rows.rowsSha256,
    rowsBytes: rows.rowsBytes,
    // The chain digest at `seq` (protocol/checkpoint.ts); an epoch's start has the zero digest.
    digest: meta.digest ?? '0'.repeat(64),
    lineage: meta.lineage ?? [],
    ...(meta.issuers !== undefined ? { issuers: meta.issuers } : {}),
  };
  return { manifest, signed: signManifest(manifest, key) };
}

/**
 * Terminal side: streams rows from a rows file, checking the magic, framing and key order, and hashing as
 * it goes; `digest()` after the last row gives the SHA-256 to compare with the manifest.
 */
export class SnapshotReader {
  private readonly fd: number;
  private readonly hash = createHash('sha256');
  private buf = Buffer.alloc(0);
  private pos = 0;
  private eof = false;
  rows = 0;

  constructor(file: string) {
    try {
      this.fd = openSync(file, 'r');
    } catch (error) {
      throw new KioskError('SNAPSHOT_INVALID', `snapshot rows file ${file} cannot be read`, undefined, {
        cause: error,
      });
    }
    const magic = this.take(SNAPSHOT_MAGIC.length);
    if (!magic || !magic.equals(SNAPSHOT_MAGIC))
      throw new KioskError('SNAPSHOT_INVALID', 'not a snapshot rows file');
  }

  private fill(need: number): boolean {
    while (this.buf.length - this.pos < need && !this.eof) {
      const chunk = Buffer.allocUnsafe(1 << 20);
      const n = readSync(this.fd, chunk, 0, chunk.length, null);
      if (n === 0) {
        this.eof = true;
        break;
      }
      const got = chunk.subarray(0, n);
      this.hash.update(got);
      this.buf = Buffer.concat([this.buf.subarray(this.pos), got]);
      this.pos = 0;
    }
    return this.buf.length - this.pos >= need;
  }

  private take(n: number): Buffer | null {
    if (!this.fill(n)) return null;
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** The next row, or null at a clean end of file. Throws SNAPSHOT_INVALID on bad framing. */
  next(): SnapshotRow | null {
    // A row is at most 1 + 16 + 3 + 65536 bytes; ask for the worst case only when near the end.
    if (!this.fill(1 + KEY_BYTES + 3)) {
      if (this.buf.length - this.pos === 0) return null;
    }
    const buf = this.buf;
    let p = this.pos;
    const avail = buf.length - p;
    if (buf[p] !== KEY_BYTES || avail < 1 + KEY_BYTES + 1)
      throw new KioskError('SNAPSHOT_INVALID', `row ${this.rows + 1}: bad key length or truncated`);
    const k = buf.subarray(p + 1, p + 1 + KEY_BYTES);
    p += 1 + KEY_BYTES;
    let vlen = 0;
    let shift = 0;
    for (;;) {
      if (p >= buf.length || shift > 14)
        throw new KioskError('SNAPSHOT_INVALID', `row ${this.rows + 1}: bad value length`);
      const b = buf[p++]!;
      vlen |= (b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7;
    }
    if (vlen > 65536) throw new KioskError('SNAPSHOT_INVALID', `row ${this.rows + 1}: value too long`);
    if (p + vlen > buf.length) {
      // The value straddles the buffer end: refill keeping this row, then re-slice.
      const start = this.pos;
      const need = p - start + vlen;
      if (!this.fill(need)) throw new KioskError('SNAPSHOT_INVALID', `row ${this.rows + 1}: truncated`);
      const b2 = this.buf;
      const k2 = b2.subarray(this.pos + 1, this.pos + 1 + KEY_BYTES);
      const v2 = b2.subarray(this.pos + need - vlen, this.pos + need);
      this.pos += need;
      this.rows++;
      return { k: k2, v: v2 };
    }
    const v = buf.subarray(p, p + vlen);
    this.pos = p + vlen;
    this.rows++;
    return { k, v };
  }

  digest(): string {
    while (!this.eof) this.fill(Number.MAX_SAFE_INTEGER);
    closeSync(this.fd);
    return this.hash.digest('hex');
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
  }
}
