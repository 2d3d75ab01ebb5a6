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
import { z } from 'zod';
import { KioskError, type ErrorCode } from '../base/errors.js';
import { CRL_STATUS_OP, CrlStatusList } from './crl-status.js';

export const Feeds = ['whitelist', 'revocations', 'peer-entries'] as const;
export type FeedName = (typeof Feeds)[number];
/** Feeds that have snapshots (peer entries are only ever deltas). */
export const SnapshotFeeds = ['whitelist', 'revocations'] as const;
export type SnapshotFeedName = (typeof SnapshotFeeds)[number];

export const BATCH_FORMAT = 'jpki-kiosk/delta/v1';
export const SNAPSHOT_FORMAT = 'jpki-kiosk/snapshot/v2';
const BATCH_DOMAIN = Buffer.from('jpki-kiosk/delta/v1\n', 'utf8');
const MANIFEST_DOMAIN = Buffer.from('jpki-kiosk/snapshot/v2\n', 'utf8');
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
  /** Only a new CRL status (header `issuers`), no serial changed: the batch's only op (crl-status.ts). */
  z.object({ op: z.literal(CRL_STATUS_OP) }).strict(),
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
  issuers: CrlStatusList.optional(), // revocations: the CRL status after this batch (crl-status.ts)
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
    if (op.op === CRL_STATUS_OP && feed === 'revocations') {
      if (ops.length !== 1 || Object.keys(op).length !== 1)
        return `ops.${i}: a ${CRL_STATUS_OP} op is a batch's only op and has no other keys`;
      continue;
    }
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
    /** v2: byte length of the rows file; the terminal stops streaming past it. */
    rowsBytes: z.number().int().nonnegative(),
    /** v2: the feed's chain digest at `seq` (protocol/checkpoint.ts), hex. */
    digest: z.string().regex(/^[0-9a-f]{64}$/),
    /** v2: the epochs this one succeeds, oldest first: a terminal moves to it only from one of them. */
    lineage: z.array(z.string().min(1).max(64)).max(64),
    issuers: CrlStatusList.optional(), // revocations: the CRL status of the rows (crl-status.ts)
  })
  .strict();
export type SnapshotManifest = z.output<typeof SnapshotManifest>;

// ---- publisher keys -------------------------------------------------------------------------------

/** Key ids by key object: every signed blob looks its publisher up, and the id never changes. */
const keyIds = new WeakMap<KeyObject, string>();

export function publisherKeyId(publicKey: KeyObject): string {
  let id = keyIds.get(publicKey);
  if (id === undefined) {
    const der = publicKey.export({ type: 'spki', format: 'der' });
    id = createHash('sha256').update(der).digest('hex').slice(0, 32);
    keyIds.set(publicKey, id);
  }
  return id;
}

/** Pinned publishers: which key may publish which feeds. */
export interface PublisherTrust {
  publishers: ReadonlyArray<{
    publicKey: KeyObject;
    feeds: readonly FeedName[];
    /**
     * A venue key delegated for this site only (delegation.ts): it may sign checkpoints, push replies and
     * peer-entries batches of its site, never whitelist or revocation batches nor snapshot manifests.
     */
    site?: string;
  }>;
}

export function trustFromPem(pem: string | Buffer, feeds: readonly FeedName[] = Feeds): PublisherTrust {
  return { publishers: [{ publicKey: createPublicKey(pem), feeds }] };
}

function findPublisher(
  trust: PublisherTrust,
  kid: string,
): { publicKey: KeyObject; feeds: readonly FeedName[]; site?: string } | undefined {
  return trust.publishers.find((p) => publisherKeyId(p.publicKey) === kid);
}

// ---- signed blobs ---------------------------------------------------------------------------------

/**
 * The publisher's Ed25519 key as the signing side sees it: a software key (tests, tools) or a key in a
 * PKCS#11 token (hsm/feed-signer.ts). Signing is synchronous because the hub signs peer-entry batches
 * inside the SQLite transaction that accepts the journal they come from.
 */
export interface FeedSigner {
  readonly keyId: string;
  readonly publicKey: KeyObject;
  /** Ed25519 over `data`: 64 bytes. */
  sign(data: Buffer): Buffer;
}

/** A software Ed25519 key as a FeedSigner. */
export function softwareFeedSigner(privateKey: KeyObject): FeedSigner {
  if (privateKey.asymmetricKeyType !== 'ed25519')
    throw new KioskError('CONFIG_INVALID', 'a publisher key must be Ed25519');
  const publicKey = createPublicKey(privateKey);
  return { keyId: publisherKeyId(publicKey), publicKey, sign: (data) => edSign(null, data, privateKey) };
}

/** Publishing code takes either form; a bare KeyObject is a software key. */
export type PublisherKey = FeedSigner | KeyObject;

export function asFeedSigner(key: PublisherKey): FeedSigner {
  return 'sign' in key && typeof key.sign === 'function' ? key : softwareFeedSigner(key as KeyObject);
}

export function signBlob(domain: Buffer, payload: Buffer, key: PublisherKey): Buffer {
  const signer = asFeedSigner(key);
  const sig = signer.sign(Buffer.concat([domain, payload])).toString('base64');
  return Buffer.concat([Buffer.from(JSON.stringify({ kid: signer.keyId, sig }) + '\n', 'utf8'), payload]);
}

export interface Opened {
  kid: string;
  feeds: readonly FeedName[];
  /** Set when the signer is a venue key delegated for this site only. */
  site: string | null;
  payload: unknown;
}

export function openBlob(
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
  return { kid: header.kid, feeds: publisher.feeds, site: publisher.site ?? null, payload: parsed };
}

export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0]!;
  return `${issue.path.join('.') || '(top level)'}: ${issue.message}`;
}

/** Publisher side: serializes and signs a batch (the hub, tests, tools). */
export function signBatch(batch: FeedBatch, key: PublisherKey): Buffer {
  return signBlob(BATCH_DOMAIN, Buffer.from(JSON.stringify(batch), 'utf8'), key);
}

/** signBatch of a batch already serialised (the UTF-8 of its JSON.stringify, written by the hub). */
export function signBatchJson(json: Buffer, key: PublisherKey): Buffer {
  return signBlob(BATCH_DOMAIN, json, key);
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
  // A venue key relays the central publisher's data; it originates only its own site's peer entries.
  if (opened.site !== null && batch.feed !== 'peer-entries')
    throw new KioskError(
      'DELTA_WRONG_PUBLISHER',
      `venue key ${opened.kid} (site ${opened.site}) may not sign a ${batch.feed} batch`,
    );
  if (batch.toSeq - batch.fromSeq !== batch.ops.length || batch.ops.length === 0)
    throw new KioskError(
      'DELTA_MALFORMED',
      `delta (${batch.fromSeq}, ${batch.toSeq}] must carry exactly ${batch.toSeq - batch.fromSeq} operations, has ${batch.ops.length}`,
    );
  if (batch.feed !== 'revocations' && batch.issuers !== undefined)
    throw new KioskError('DELTA_MALFORMED', `a ${batch.feed} batch carries no CRL status`);
  if (batch.feed === 'revocations' && batch.ops[0]?.op === CRL_STATUS_OP && batch.issuers === undefined)
    throw new KioskError('DELTA_MALFORMED', `a ${CRL_STATUS_OP} batch must carry the CRL status`);
  return batch;
}

export function signManifest(manifest: SnapshotManifest, key: PublisherKey): Buffer {
  return signBlob(MANIFEST_DOMAIN, Buffer.from(JSON.stringify(manifest), 'utf8'), key);
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
  if (
    result.data.publisherKeyId !== opened.kid ||
    !opened.feeds.includes(result.data.feed) ||
    opened.site !== null
  )
    throw new KioskError('DELTA_WRONG_PUBLISHER', 'snapshot manifest: publisher may not publish this feed');
  if (result.data.feed !== 'revocations' && result.data.issuers !== undefined)
    throw new KioskError('SNAPSHOT_INVALID', 'snapshot manifest: only revocations carry a CRL status');
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
