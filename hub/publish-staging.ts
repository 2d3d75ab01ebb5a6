// The rows of one import (a complete CRL, a whitelist file), staged on disk next to the hub's data so that
// the publisher can read them back in row-key order, duplicates found, without holding them in memory.
// Row keys are HMAC outputs, uniform over the key space: rows are appended to one of 256 bucket files by
// their first byte, and read back a bucket at a time, sorted in memory (a bucket holds 1/256 of the
// import: 40,000 rows of a 10-million-row CRL). Appends keep the import's order within a bucket and the
// sort is stable, so rows of one key come back in the order they were staged. The files are scratch (no
// fsync) and removed when the publication ends or fails.
import * as nodeCrypto from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { KioskError } from '../base/errors.js';

/** One staged row: its key, and what the publisher needs to diff and publish it. */
export interface StagedRow {
  k: Buffer;
  /** Digest of the import input (whitelist rows); null when the publisher derives it from `v`. */
  h: Buffer | null;
  /** Revocations: the row value; whitelist: the encoded card record, sealed only if the row changed. */
  v: Buffer;
  scope: string | null;
  /** What the operator calls the row (`issuer/serial`), or a revocation's reason. */
  label: string | null;
  spki: Buffer | null;
  at: number | null;
}

const BUCKETS = 256;
/** Digests and SPKI hashes. */
const KEY_BYTES = 32;
/** Bytes held per bucket before they are appended to its file. */
const BUCKET_BUFFER = 64 * 1024;

const F_H = 1;
const F_SPKI = 2;
const F_AT = 4;
const F_SCOPE = 8;
const F_LABEL = 16;

export class Staging {
  private readonly dir: string;
  private readonly fds: Array<number | null> = new Array<number | null>(BUCKETS).fill(null);
  private readonly buffers: Array<Buffer | null> = new Array<Buffer | null>(BUCKETS).fill(null);
  private readonly fill = new Uint32Array(BUCKETS);
  private loaded = false;
  /** Rows staged (duplicates included). */
  count = 0;

  /** `into`: a staging folder another Staging made and handed over (detach), appended to here. */
  constructor(parent: string, into?: string) {
    this.dir = into ?? join(parent, `staging-${process.pid}-${nodeCrypto.randomBytes(6).toString('hex')}`);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  get folder(): string {
    return this.dir;
  }

  /**
   * Writes out and closes what is staged so far, so that another writer (the publish worker thread) can
   * append to the same bucket files; `attach` takes them back for reading. The folder stays this one's.
   */
  detach(): void {
    this.closeFiles();
  }

  /** After `detach`: the bucket files are complete, `added` more rows were staged by the other writer. */
  attach(added: number): void {
    this.loaded = true;
    this.count += added;
    for (let b = 0; b < BUCKETS; b++) this.fds[b] = existsSync(join(this.dir, `b${b}`)) ? -1 : null;
  }

  /** Writes out and closes the bucket files without removing them (a writer that does not own them). */
  closeFiles(): void {
    for (let b = 0; b < BUCKETS; b++) {
      if (this.buffers[b]) this.flush(b);
      this.buffers[b] = null;
      const fd = this.fds[b];
      if (fd !== null && fd !== undefined && fd >= 0) closeSync(fd);
      this.fds[b] = null;
    }
  }

  add(r: StagedRow): void {
    if (r.k.length < 7 || r.k.length > 255) throw new KioskError('INTERNAL', 'staging: row key size');
    const scope = r.scope === null ? null : Buffer.from(r.scope, 'utf8');
    const label = r.label === null ? null : Buffer.from(r.label, 'utf8');
    const size =
      4 +
      1 +
      r.k.length +
      1 +
      (r.h ? KEY_BYTES : 0) +
      (r.spki ? KEY_BYTES : 0) +
      (r.at !== null ? 8 : 0) +
      4 +
      r.v.length +
      (scope ? 2 + scope.length : 0) +
      (label ? 2 + label.length : 0);
    const b = r.k[0]!;
    let buf = this.buffers[b];
    if (!buf) buf = this.buffers[b] = Buffer.allocUnsafe(BUCKET_BUFFER);
    if (this.fill[b]! + size > buf.length) {
      this.flush(b);
      if (size > buf.length) buf = this.buffers[b] = Buffer.allocUnsafe(size);
    }
    let o = this.fill[b]!;
    o = buf.writeUInt32LE(size, o);
    buf[o++] = r.k.length;
    buf.set(r.k, o);
    o += r.k.length;
    const flags =
      (r.h ? F_H : 0) |
      (r.spki ? F_SPKI : 0) |
      (r.at !== null ? F_AT : 0) |
      (scope ? F_SCOPE : 0) |
      (label ? F_LABEL : 0);
    buf[o++] = flags;
    if (r.h) {
      buf.set(r.h, o);
      o += r.h.length;
    }
    if (r.spki) {
      buf.set(r.spki, o);
      o += r.spki.length;
    }
    if (r.at !== null) o = buf.writeDoubleLE(r.at, o);
    o = buf.writeUInt32LE(r.v.length, o);
    buf.set(r.v, o);
    o += r.v.length;
    if (scope) {
      o = buf.writeUInt16LE(scope.length, o);
      o += scope.copy(buf, o);
    }
    if (label) {
      o = buf.writeUInt16LE(label.length, o);
      o += label.copy(buf, o);
    }
    this.fill[b] = o;
    this.count++;
  }

  private flush(b: number): void {
    const n = this.fill[b]!;
    if (n === 0) return;
    let fd = this.fds[b];
    if (fd === null || fd === undefined) fd = this.fds[b] = openSync(join(this.dir, `b${b}`), 'a', 0o600);
    writeSync(fd, this.buffers[b]!, 0, n);
    this.fill[b] = 0;
  }

  private endLoading(): void {
    if (this.loaded) return;
    this.loaded = true;
    for (let b = 0; b < BUCKETS; b++) {
      this.flush(b);
      this.buffers[b] = null;
      const fd = this.fds[b];
      if (fd !== null && fd !== undefined) {
        closeSync(fd);
        this.fds[b] = -1; // written, closed
      }
    }
  }

  /** One bucket's rows in key order (stable: rows of one key in the order they were staged). */
  private bucket(b: number): Generator<StagedRow> {
    if (this.fds[b] !== -1) return [][Symbol.iterator]() as unknown as Generator<StagedRow>;
    const data = readFileSync(join(this.dir, `b${b}`));
    // Offsets and sort keys in typed arrays, rows decoded only as they are taken: a bucket of 40,000 rows
    // makes no long-lived objects for the garbage collector to promote.
    let n = 0;
    for (let o = 0; o < data.length; o += data.readUInt32LE(o)) n++;
    const offsets = new Uint32Array(n);
    for (let o = 0, i = 0; o < data.length; o += data.readUInt32LE(o), i++) offsets[i] = o;
    const keyOf = (i: number) => {
      const o = offsets[i]!;
      return data.subarray(o + 5, o + 5 + data[o + 4]!);
    };
    // Sorted without a comparator: each row is one double, the leading bits of its key (bytes 1.. of
    // the key: byte 0 is the bucket) above its index, so the typed array's own numeric sort orders rows
    // by key prefix, then in staging order. Rows whose prefixes are equal (the same key staged twice, or
    // rarely two keys sharing the prefix) are then ordered by their whole key, stably.
    const indexBits = Math.max(1, Math.ceil(Math.log2(n + 1)));
    const prefixBits = 53 - indexBits;
    const order = new Uint32Array(n);
    if (prefixBits >= 16) {
      const scale = 2 ** indexBits;
      const drop = 2 ** (48 - Math.min(48, prefixBits));
      const packed = new Float64Array(n);
      for (let i = 0; i < n; i++)
        packed[i] = Math.floor(data.readUIntBE(offsets[i]! + 6, 6) / drop) * scale + i;
      packed.sort();
      for (let i = 0; i < n; i++) order[i] = packed[i]! % scale;
      for (let i = 0; i < n;) {
        const prefix = Math.floor(packed[i]! / scale);
        let j = i + 1;
        while (j < n && Math.floor(packed[j]! / scale) === prefix) j++;
        if (j - i > 1) {
          const run = order.subarray(i, j);
          run.sort((x, y) => Buffer.compare(keyOf(x), keyOf(y)) || x - y);
        }
        i = j;
      }
    } else {
      const lead = new Float64Array(n);
      for (let i = 0; i < n; i++) lead[i] = data.readUIntBE(offsets[i]! + 6, 6);
      for (let i = 0; i < n; i++) order[i] = i;
      order.sort((x, y) => lead[x]! - lead[y]! || Buffer.compare(keyOf(x), keyOf(y)) || x - y);
    }
    return (function* () {
      for (const i of order) yield decodeRow(data, offsets[i]!);
    })();
  }

  /** The label of the second row of the first key staged twice (what the operator listed twice), or null. */
  firstDuplicate(): string | null {
    this.endLoading();
    for (let b = 0; b < BUCKETS; b++) {
      let previous: Buffer | null = null;
      for (const r of this.bucket(b)) {
        if (previous?.equals(r.k)) return r.label ?? '(unnamed row)';
        previous = r.k;
      }
    }
    return null;
  }

  /** The staged rows in key order; rows of one key in the order they were staged. */
  *sorted(): Generator<StagedRow> {
    this.endLoading();
    for (let b = 0; b < BUCKETS; b++) yield* this.bucket(b);
  }

  close(): void {
    for (let b = 0; b < BUCKETS; b++) {
      const fd = this.fds[b];
      if (fd !== null && fd !== undefined && fd >= 0) closeSync(fd);
      this.fds[b] = null;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function decodeRow(data: Buffer, o: number): StagedRow {
  let p = o + 5;
  const k = data.subarray(p, (p += data[o + 4]!));
  const flags = data[p++]!;
  const h = flags & F_H ? data.subarray(p, (p += KEY_BYTES)) : null;
  const spki = flags & F_SPKI ? data.subarray(p, (p += KEY_BYTES)) : null;
  let at: number | null = null;
  if (flags & F_AT) {
    at = data.readDoubleLE(p);
    p += 8;
  }
  const vLen = data.readUInt32LE(p);
  p += 4;
  const v = data.subarray(p, (p += vLen));
  let scope: string | null = null;
  if (flags & F_SCOPE) {
    const n = data.readUInt16LE(p);
    scope = data.toString('utf8', p + 2, p + 2 + n);
    p += 2 + n;
  }
  let label: string | null = null;
  if (flags & F_LABEL) {
    const n = data.readUInt16LE(p);
    label = data.toString('utf8', p + 2, p + 2 + n);
  }
  return { k, h, v, scope, label, spki, at };
}

/**
 * SHA-256 of revocation values (5 bytes: date, reason) with the last ones seen kept, one slot per
 * value's low bits: a CRL repeats dates and reasons, and a map's bookkeeping costs more than the hash
 * for values that do not repeat.
 */
export function revocationDigests(): (v: Buffer) => Buffer {
  const SLOTS = 4096;
  const keys = new Float64Array(SLOTS).fill(-1);
  const digests = new Array<Buffer | undefined>(SLOTS);
  return (v) => {
    if (v.length !== 5) return sha256(v);
    const key = v.readUInt32BE(0) * 256 + v[4]!;
    const slot = key % SLOTS;
    if (keys[slot] === key) return digests[slot]!;
    const h = sha256(v);
    keys[slot] = key;
    digests[slot] = h;
    return h;
  };
}

/** One SHA-256 (the one-shot hash where Node has it: no hash object per call). */
export const sha256 = (data: Buffer): Buffer =>
  typeof (nodeCrypto as { hash?: unknown }).hash === 'function'
    ? (nodeCrypto as unknown as { hash: (a: string, d: Buffer, e: 'buffer') => Buffer }).hash(
        'sha256',
        data,
        'buffer',
      )
    : nodeCrypto.createHash('sha256').update(data).digest();
