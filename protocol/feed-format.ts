// The wire formats shared by the hub and the terminal: signed delta batches and signed
// snapshots, for the feeds `whitelist`, `revocations` and `peer-entries`. Names here are stable.
//
// Signed blob (batch or snapshot manifest) = one header line of JSON `{"kid":…,"sig":…}` + "\n" + the
// payload JSON bytes. `sig` is Ed25519 over DOMAIN ‖ payload bytes, by the publisher key `kid`
// (publisherKeyId(): first 16 bytes of SHA-256 of its SPKI DER, hex). The payload is verified before it
// is parsed; it also names its publisher, which must equal `kid`.
//
// Sequences: every operation of a feed has a sequence number; a batch carries ops (fromSeq, toSeq], so
// `ops.length === toSeq - fromSeq`. `epoch` names the snapshot lineage: after the hub rebuilds a feed,
// terminals on another epoch are asked for a snapshot.
//
// Snapshot = a rows file (MAGIC, then per row: u8 key length, key, varint value length, value; keys
// strictly increasing) + a signed manifest naming its feed, epoch, seq, row count and SHA-256.
import { createHash, createPublicKey, sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import { closeSync, openSync, readSync, writeSync } from 'node:fs';
import { z } from 'zod';
import { KioskError, type ErrorCode } from '../base/errors.js';

export const Feeds = ['whitelist', 'revocations', 'peer-entries'] as const;
export type FeedName = (typeof Feeds)[number];
/** Feeds that have snapshots (peer entries are only ever deltas). */
export const SnapshotFeeds = ['whitelist', 'revocations'] as const;
export type SnapshotFeedName = (typeof SnapshotFeeds)[number];

export const BATCH_FORMAT = 'jpki-kiosk/delta/v1';
export const SNAPSHOT_FORMAT = 'jpki-kiosk/snapshot/v1';
const BATCH_DOMAIN = Buffer.from('jpki-kiosk/delta/v1\n', 'utf8');
const MANIFEST_DOMAIN = Buffer.from('jpki-kiosk/snapshot/v1\n', 'utf8');
export const SNAPSHOT_MAGIC = Buffer.from('JPKI-SNAPSHOT-ROWS-1\n', 'utf8');
export const MAX_BATCH_OPS = 1_000_000;
/** Length of a row key: the keyed card index (whitelist/privacy.ts). */
export const KEY_BYTES = 16;

/** RFC 5280 CRLReason names; the index is the CRL code (7 is unused). */
export const RevocationReasons = [
  'unspecified',
  'keyCompromise',
  'cACompromise',
  'affiliationChanged',
  'superseded',
  'cessationOfOperation',
  'certificateHold',
  'unused',
  'removeFromCRL',
  'privilegeWithdrawn',
  'aACompromise',
] as const;
export type RevocationReason = (typeof RevocationReasons)[number];

const RowKeyHex = z.string().regex(/^[0-9a-f]{32}$/, '16-byte row key in lower-case hex');
const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');
const Seq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

export const WhitelistOp = z.discriminatedUnion('op', [
  /** v: a sealed card record (privacy.ts), base64. */
  z.object({ op: z.literal('put'), k: RowKeyHex, v: Base64 }).strict(),
  z.object({ op: z.literal('del'), k: RowKeyHex }).strict(),
]);
export type WhitelistOp = z.output<typeof WhitelistOp>;

export const RevocationOp = z.discriminatedUnion('op', [
  /** at: revocation date, seconds since 1970. */
  z
    .object({
      op: z.literal('put'),
      k: RowKeyHex,
      at: z.number().int().nonnegative().max(0xffffffff),
      reason: z.enum(RevocationReasons),
    })
    .strict(),
  z.object({ op: z.literal('del'), k: RowKeyHex }).strict(),
]);
export type RevocationOp = z.output<typeof RevocationOp>;

/** Another terminal's passage (or exit), for global anti-passback. */
export const PeerEntryOp = z
  .object({
    op: z.literal('presence'),
    subject: z.string().min(1).max(64),
    state: z.enum(['inside', 'outside']),
    terminalId: z.string().min(1).max(64),
    gateId: z.string().min(1).max(64),
    zone: z.string().min(1).max(64),
    /** Event time, ms since 1970. Newer wins; see docs/data.md. */
    at: z.number().int().nonnegative(),
    journalSeq: Seq.optional(),
  })
  .strict();
export type PeerEntryOp = z.output<typeof PeerEntryOp>;

const BatchHeader = {
  format: z.literal(BATCH_FORMAT),
  publisherKeyId: z.string().regex(/^[0-9a-f]{32}$/),
  epoch: z.string().min(1).max(64),
  fromSeq: Seq,
  toSeq: Seq,
  /** Publisher's time the data is current as of (ISO 8601). */
  asOf: z.iso.datetime({ offset: true }),
};

const ROW_KEY_RE = /^[0-9a-f]{32}$/;
const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const REASONS = new Set<string>(RevocationReasons);

/**
 * The same rules as WhitelistOp/RevocationOp, hand-written for the hot path (10^5 ops per second):
 * returns the first problem as "ops.N: …", or null.
 */
function checkRowOps(feed: 'whitelist' | 'revocations', ops: unknown): string | null {
  if (!Array.isArray(ops)) return 'ops: expected an array';
  if (ops.length > MAX_BATCH_OPS) return `ops: more than ${MAX_BATCH_OPS} operations`;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i] as Record<string, unknown> | null;
    if (typeof op !== 'object' || op === null || Array.isArray(op)) return `ops.${i}: expected an object`;
    if (typeof op.k !== 'string' || !ROW_KEY_RE.test(op.k))
      return `ops.${i}.k: 16-byte row key in lower-case hex`;
    const keys = Object.keys(op).length;
    if (op.op === 'del') {
      if (keys !== 2) return `ops.${i}: unknown keys in a del`;
    } else if (op.op !== 'put') {
      return `ops.${i}.op: expected put or del`;
    } else if (feed === 'whitelist') {
      if (keys !== 3 || typeof op.v !== 'string' || op.v.length > 8192 || !BASE64_RE.test(op.v))
        return `ops.${i}: a whitelist put is {op, k, v: base64}`;
    } else if (
      keys !== 4 ||
      typeof op.at !== 'number' ||
      !Number.isInteger(op.at) ||
      op.at < 0 ||
      op.at > 0xffffffff ||
      typeof op.reason !== 'string' ||
      !REASONS.has(op.reason)
    ) {
      return `ops.${i}: a revocation put is {op, k, at: seconds, reason: CRLReason name}`;
    }
  }
  return null;
}

const BatchHeaderSchema = z.object({ ...BatchHeader, feed: z.enum(Feeds), ops: z.unknown() }).strict();

function parseBatch(payload: unknown): FeedBatch {
  const header = BatchHeaderSchema.safeParse(payload);
  if (!header.success) throw new KioskError('DELTA_MALFORMED', `delta: ${firstIssue(header.error)}`);
  if (header.data.feed === 'peer-entries') {
    const full = FeedBatch.safeParse(payload);
    if (!full.success) throw new KioskError('DELTA_MALFORMED', `delta: ${firstIssue(full.error)}`);
    return full.data;
  }
  const problem = checkRowOps(header.data.feed, header.data.ops);
  if (problem) throw new KioskError('DELTA_MALFORMED', `delta: ${problem}`);
  return header.data as FeedBatch;
}

export const FeedBatch = z.discriminatedUnion('feed', [
  z
    .object({ ...BatchHeader, feed: z.literal('whitelist'), ops: z.array(WhitelistOp).max(MAX_BATCH_OPS) })
    .strict(),
  z
    .object({ ...BatchHeader, feed: z.literal('revocations'), ops: z.array(RevocationOp).max(MAX_BATCH_OPS) })
    .strict(),
  z
    .object({ ...BatchHeader, feed: z.literal('peer-entries'), ops: z.array(PeerEntryOp).max(MAX_BATCH_OPS) })
    .strict(),
]);
export type FeedBatch = z.output<typeof FeedBatch>;

export const SnapshotManifest = z
  .object({
    format: z.literal(SNAPSHOT_FORMAT),
    feed: z.enum(SnapshotFeeds),
    publisherKeyId: z.string().regex(/^[0-9a-f]{32}$/),
    /** The snapshot id; deltas that follow carry it as their epoch. */
    epoch: z.string().min(1).max(64),
    /** The feed sequence the snapshot's content corresponds to. */
    seq: Seq,
    asOf: z.iso.datetime({ offset: true }),
    rowCount: z.number().int().nonnegative(),
    /** SHA-256 of the whole rows file, hex. */
    rowsSha256: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();
export type SnapshotManifest = z.output<typeof SnapshotManifest>;

// ---- publisher keys -------------------------------------------------------------------------------

export function publisherKeyId(publicKey: KeyObject): string {
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 32);
}

/** Pinned publishers: which key may publish which feeds. */
export interface PublisherTrust {
  publishers: ReadonlyArray<{ publicKey: KeyObject; feeds: readonly FeedName[] }>;
}

export function trustFromPem(pem: string | Buffer, feeds: readonly FeedName[] = Feeds): PublisherTrust {
  return { publishers: [{ publicKey: createPublicKey(pem), feeds }] };
}

function findPublisher(
  trust: PublisherTrust,
  kid: string,
): { publicKey: KeyObject; feeds: readonly FeedName[] } | undefined {
  return trust.publishers.find((p) => publisherKeyId(p.publicKey) === kid);
}

// ---- signed blobs ---------------------------------------------------------------------------------

function signBlob(domain: Buffer, payload: Buffer, privateKey: KeyObject): Buffer {
  const kid = publisherKeyId(createPublicKey(privateKey));
  const sig = edSign(null, Buffer.concat([domain, payload]), privateKey).toString('base64');
  return Buffer.concat([Buffer.from(JSON.stringify({ kid, sig }) + '\n', 'utf8'), payload]);
}

interface Opened {
  kid: string;
  feeds: readonly FeedName[];
  payload: unknown;
}

function openBlob(
  bytes: Uint8Array,
  domain: Buffer,
  trust: PublisherTrust,
  codes: { malformed: ErrorCode; signature: ErrorCode; publisher: ErrorCode },
): Opened {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const nl = buf.indexOf(0x0a);
  if (nl <= 0 || nl > 1024) throw new KioskError(codes.malformed, 'signed blob: no header line');
  let header: { kid?: unknown; sig?: unknown };
  try {
    header = JSON.parse(buf.subarray(0, nl).toString('utf8')) as typeof header;
  } catch {
    throw new KioskError(codes.malformed, 'signed blob: header is not JSON');
  }
  if (typeof header.kid !== 'string' || typeof header.sig !== 'string')
    throw new KioskError(codes.malformed, 'signed blob: header lacks kid or sig');
  const publisher = findPublisher(trust, header.kid);
  if (!publisher)
    throw new KioskError(codes.publisher, `signed by key ${header.kid}, which is not a pinned publisher`, {
      kid: header.kid,
    });
  const payload = buf.subarray(nl + 1);
  const sig = Buffer.from(header.sig, 'base64');
  let ok = false;
  try {
    ok = sig.length === 64 && edVerify(null, Buffer.concat([domain, payload]), publisher.publicKey, sig);
  } catch {
    ok = false;
  }
  if (!ok) throw new KioskError(codes.signature, 'signature does not verify with the pinned publisher key');
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new KioskError(codes.malformed, 'signed payload is not JSON');
  }
  return { kid: header.kid, feeds: publisher.feeds, payload: parsed };
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return `${issue.path.join('.') || '(top level)'}: ${issue.message}`;
}

/** Publisher side: serializes and signs a batch (the hub, tests, tools). */
export function signBatch(batch: FeedBatch, privateKey: KeyObject): Buffer {
  return signBlob(BATCH_DOMAIN, Buffer.from(JSON.stringify(batch), 'utf8'), privateKey);
}

/**
 * Terminal side: verifies the signature against the pinned publishers, then parses and validates.
 * Errors: DELTA_MALFORMED, DELTA_BAD_SIGNATURE, DELTA_WRONG_PUBLISHER. Sequence checks happen at apply.
 */
export function openBatch(bytes: Uint8Array, trust: PublisherTrust): FeedBatch {
  const opened = openBlob(bytes, BATCH_DOMAIN, trust, {
    malformed: 'DELTA_MALFORMED',
    signature: 'DELTA_BAD_SIGNATURE',
    publisher: 'DELTA_WRONG_PUBLISHER',
  });
  const batch = parseBatch(opened.payload);
  if (batch.publisherKeyId !== opened.kid)
    throw new KioskError('DELTA_WRONG_PUBLISHER', 'delta names a publisher other than its signer');
  if (!opened.feeds.includes(batch.feed))
    throw new KioskError(
      'DELTA_WRONG_PUBLISHER',
      `publisher ${opened.kid} may not publish feed ${batch.feed}`,
    );
  if (batch.toSeq - batch.fromSeq !== batch.ops.length || batch.ops.length === 0)
    throw new KioskError(
      'DELTA_MALFORMED',
      `delta (${batch.fromSeq}, ${batch.toSeq}] must carry exactly ${batch.toSeq - batch.fromSeq} operations, has ${batch.ops.length}`,
    );
  return batch;
}

export function signManifest(manifest: SnapshotManifest, privateKey: KeyObject): Buffer {
  return signBlob(MANIFEST_DOMAIN, Buffer.from(JSON.stringify(manifest), 'utf8'), privateKey);
}

/** Verifies a snapshot manifest. Any failure → SNAPSHOT_INVALID (wrong publisher → DELTA_WRONG_PUBLISHER). */
export function openManifest(bytes: Uint8Array, trust: PublisherTrust): SnapshotManifest {
  const opened = openBlob(bytes, MANIFEST_DOMAIN, trust, {
    malformed: 'SNAPSHOT_INVALID',
    signature: 'SNAPSHOT_INVALID',
    publisher: 'DELTA_WRONG_PUBLISHER',
  });
  const result = SnapshotManifest.safeParse(opened.payload);
  if (!result.success)
    throw new KioskError('SNAPSHOT_INVALID', `snapshot manifest: ${firstIssue(result.error)}`);
  if (result.data.publisherKeyId !== opened.kid || !opened.feeds.includes(result.data.feed))
    throw new KioskError('DELTA_WRONG_PUBLISHER', 'snapshot manifest: publisher may not publish this feed');
  return result.data;
}

// ---- rows -------------------------------------------------------------------------------------------

export interface SnapshotRow {
  k: Buffer;
  v: Buffer;
}

/** Revocation value on disk and in snapshots: u32 BE seconds ‖ u8 reason code. */
export function encodeRevocationValue(at: number, reason: RevocationReason): Buffer {
  const v = Buffer.alloc(5);
  v.writeUInt32BE(at, 0);
  v[4] = RevocationReasons.indexOf(reason);
  return v;
}

export function decodeRevocationValue(v: Uint8Array): { at: number; reason: RevocationReason } {
  const reason = RevocationReasons[v[4] ?? 255];
  if (v.length !== 5 || reason === undefined)
    throw new KioskError('SNAPSHOT_INVALID', 'revocation row is malformed');
  return { at: Buffer.from(v.buffer, v.byteOffset, 5).readUInt32BE(0), reason };
}

// ---- snapshot rows file -------------------------------------------------------------------------

function varintBytes(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** Publisher side: writes rows (keys strictly increasing) and signs the manifest when finished. */
export class SnapshotWriter {
  private readonly fd: number;
  private readonly hash = createHash('sha256');
  private chunks: Buffer[] = [];
  private pending = 0;
  private count = 0;
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
  finish(
    meta: { epoch: string; seq: number; asOf: string },
    privateKey: KeyObject,
  ): { manifest: SnapshotManifest; signed: Buffer } {
    this.flush();
    closeSync(this.fd);
    const manifest: SnapshotManifest = {
      format: SNAPSHOT_FORMAT,
      feed: this.feed,
      publisherKeyId: publisherKeyId(createPublicKey(privateKey)),
      epoch: meta.epoch,
      seq: meta.seq,
      asOf: meta.asOf,
      rowCount: this.count,
      rowsSha256: this.hash.digest('hex'),
    };
    return { manifest, signed: signManifest(manifest, privateKey) };
  }
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
