// Sync protocol v2's signed, request-bound statements (docs/sync.md "Checkpoints"): the checkpoint that
// ends every pull answer and the hub's reply to a journal push. Both are signed blobs of feed-format.ts
// (header line + payload JSON, Ed25519 by the publisher key) under their own domain strings, and both
// carry the RFC 9421 nonce of the request they answer, so that nothing the hub ever said can be replayed
// as the answer to another request.
//
// The chain digest binds a feed's content up to a position: D = 32 zero bytes at the start of an epoch,
// then per batch D' = SHA-256(D ‖ SHA-256(signed batch bytes)). The hub stores D per batch; a snapshot
// manifest carries D at its sequence; the terminal keeps D with its position in the same transaction as
// the content, so a checkpoint's digest says "you hold exactly what I published up to here".
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { KioskError } from '../base/errors.js';
import {
  Feeds,
  firstIssue,
  openBlob,
  signBlob,
  type FeedName,
  type PublisherKey,
  type PublisherTrust,
} from './feed-format.js';
import { ContentRef, MAX_CONTENT_REFS } from './content.js';

export const CHECKPOINT_FORMAT = 'jpki-kiosk/checkpoint/v2';
export const PUSH_REPLY_FORMAT = 'jpki-kiosk/push-reply/v2';
const CHECKPOINT_DOMAIN = Buffer.from('jpki-kiosk/checkpoint/v2\n', 'utf8');
const PUSH_REPLY_DOMAIN = Buffer.from('jpki-kiosk/push-reply/v2\n', 'utf8');

export const ZERO_DIGEST = '0'.repeat(64);
const Hex32 = z.string().regex(/^[0-9a-f]{64}$/);
const Seq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const Nonce = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/);

/**
 * SHA-256 of what a signed batch says: its payload without the signature line, and with the publisher's
 * key id blanked. The chain binds content, not who signed it, so a publisher-key rotation that signs the
 * stored batches again (and names the new key in them) leaves every digest a terminal holds valid.
 */
export function batchContentHash(signedBatch: Uint8Array | Buffer): Buffer {
  const bytes = Buffer.isBuffer(signedBatch) ? signedBatch : Buffer.from(signedBatch);
  const nl = bytes.indexOf(0x0a);
  const payload = nl >= 0 ? bytes.subarray(nl + 1) : bytes;
  const hash = createHash('sha256');
  const at = payload.indexOf(KEY_ID_FIELD);
  // The payload is the publisher's JSON.stringify of the batch: the field appears once, near the start.
  if (at >= 0 && at < 256) {
    const end = at + KEY_ID_FIELD.length + 32;
    hash
      .update(payload.subarray(0, at + KEY_ID_FIELD.length))
      .update(BLANK_KEY_ID)
      .update(payload.subarray(end));
  } else {
    hash.update(payload);
  }
  return hash.digest();
}
const KEY_ID_FIELD = Buffer.from('"publisherKeyId":"', 'utf8');
const BLANK_KEY_ID = Buffer.from('0'.repeat(32), 'utf8');

/** The chain digest after one more batch (hex in, hex out). */
export function chainDigest(previous: string | null, signedBatch: Uint8Array | Buffer): string {
  return chainDigestFromHash(previous, batchContentHash(signedBatch));
}

export function chainDigestFromHash(previous: string | null, batchHash: Buffer): string {
  return createHash('sha256')
    .update(Buffer.from(previous ?? ZERO_DIGEST, 'hex'))
    .update(batchHash)
    .digest('hex');
}

export const Checkpoint = z
  .object({
    format: z.literal(CHECKPOINT_FORMAT),
    publisherKeyId: z.string().regex(/^[0-9a-f]{32}$/),
    feed: z.enum(Feeds),
    /** The site for peer entries (a feed per site); null for the fleet-wide feeds. */
    scope: z.string().min(1).max(64).nullable(),
    epoch: z.string().min(1).max(64),
    /** The hub's newest sequence of this feed and epoch. */
    head: Seq,
    /** Where this answer brings the terminal: the sequence after its last batch or snapshot. */
    position: Seq,
    /** The chain digest at `position`. */
    digest: Hex32,
    /** Hub time when the answer ended, ms since 1970. */
    hubTime: z.number().int().nonnegative(),
    /** After this (hub time, ms) the statement is no longer current: the terminal's data counts as stale. */
    expires: z.number().int().nonnegative(),
    /** Ask again from `position`: there is more. */
    more: z.boolean(),
    /** The nonce of the request this answers (its Signature-Input). */
    nonce: Nonce,
    /**
     * A content-addressed answer (protocol/content.ts): the immutable pieces (snapshot, batches) the
     * terminal fetches by address, in order, each checked against its SHA-256 here before it is used.
     */
    content: z.array(ContentRef).max(MAX_CONTENT_REFS).optional(),
  })
  .strict();
export type Checkpoint = z.output<typeof Checkpoint>;

/** The part of a checkpoint a terminal keeps and shows (feed-state.ts). */
export interface TrustedCheckpoint {
  epoch: string;
  scope: string | null;
  head: number;
  position: number;
  digest: string;
  hubTime: number;
  expires: number;
}

export function trustedPart(c: Checkpoint): TrustedCheckpoint {
  return {
    epoch: c.epoch,
    scope: c.scope,
    head: c.head,
    position: c.position,
    digest: c.digest,
    hubTime: c.hubTime,
    expires: c.expires,
  };
}

export function signCheckpoint(c: Checkpoint, key: PublisherKey): Buffer {
  return signBlob(CHECKPOINT_DOMAIN, Buffer.from(JSON.stringify(c), 'utf8'), key);
}

/** Verifies a checkpoint's signature and shape (not yet whether it fits the terminal): SYNC_CHECKPOINT_INVALID. */
export function openCheckpoint(bytes: Uint8Array, trust: PublisherTrust): Checkpoint {
  const codes = {
    malformed: 'SYNC_CHECKPOINT_INVALID',
    signature: 'SYNC_CHECKPOINT_INVALID',
    publisher: 'DELTA_WRONG_PUBLISHER',
  } as const;
  const opened = openBlob(bytes, CHECKPOINT_DOMAIN, trust, codes);
  const parsed = Checkpoint.safeParse(opened.payload);
  if (!parsed.success)
    throw new KioskError('SYNC_CHECKPOINT_INVALID', `checkpoint: ${firstIssue(parsed.error)}`);
  if (parsed.data.publisherKeyId !== opened.kid || !opened.feeds.includes(parsed.data.feed))
    throw new KioskError('DELTA_WRONG_PUBLISHER', 'checkpoint: publisher may not speak for this feed');
  // A venue key speaks for its own site only: another site's peer entries are not its to vouch for.
  if (opened.site !== null && parsed.data.feed === 'peer-entries' && parsed.data.scope !== opened.site)
    throw new KioskError(
      'DELTA_WRONG_PUBLISHER',
      `checkpoint: venue key for site ${opened.site} may not sign for site ${parsed.data.scope ?? '-'}`,
    );
  return parsed.data;
}

/** What the terminal holds for a feed when a checkpoint arrives (inside the transaction that keeps it). */
export interface HeldFeed {
  feed: FeedName;
  epoch: string | null;
  seq: number;
  digest: string | null;
  trusted: TrustedCheckpoint | null;
}

/**
 * Whether a verified checkpoint may become the trusted one: it answers this request (nonce), names this
 * feed, scope and epoch, states exactly the content held (position, digest), and moves nothing backwards
 * against the checkpoint trusted so far. Throws the typed refusal; pure.
 */
export function checkCheckpoint(c: Checkpoint, held: HeldFeed, expect: { nonce: string }): void {
  if (c.nonce !== expect.nonce)
    throw new KioskError(
      'SYNC_CHECKPOINT_INVALID',
      'the checkpoint answers another request (replayed or relayed)',
    );
  if (c.feed !== held.feed)
    throw new KioskError('SYNC_MIX_AND_MATCH', `a ${c.feed} checkpoint in an answer about ${held.feed}`);
  const t = held.trusted;
  if (t && t.scope !== c.scope)
    throw new KioskError(
      'SYNC_MIX_AND_MATCH',
      `checkpoint for scope ${c.scope ?? '-'}, this terminal's ${held.feed} is ${t.scope ?? '-'}`,
    );
  if (held.epoch !== null && c.epoch !== held.epoch)
    throw new KioskError(
      'SYNC_MIX_AND_MATCH',
      `checkpoint for epoch ${c.epoch}, the ${held.feed} data held is epoch ${held.epoch}`,
    );
  if (c.head < c.position || c.expires <= c.hubTime || c.more !== c.position < c.head)
    throw new KioskError(
      'SYNC_CHECKPOINT_INVALID',
      'checkpoint is inconsistent (head, position, expiry, more)',
    );
  if (c.position < held.seq)
    throw new KioskError(
      'SYNC_ROLLBACK',
      `checkpoint at ${c.position} is behind the ${held.feed} data held at ${held.seq}`,
    );
  if (c.position !== held.seq || c.digest !== (held.digest ?? ZERO_DIGEST))
    throw new KioskError(
      'SYNC_MIX_AND_MATCH',
      `checkpoint (${c.position}, ${c.digest.slice(0, 12)}…) does not describe the ${held.feed} data held (${held.seq}, ${(held.digest ?? ZERO_DIGEST).slice(0, 12)}…)`,
    );
  if (t) {
    const sameEpoch = t.epoch === c.epoch;
    if ((sameEpoch && (c.head < t.head || c.position < t.position)) || c.hubTime < t.hubTime)
      throw new KioskError(
        'SYNC_ROLLBACK',
        `checkpoint (${c.epoch}:${c.position}/${c.head} at ${new Date(c.hubTime).toISOString()}) is older than the trusted one (${t.epoch}:${t.position}/${t.head} at ${new Date(t.hubTime).toISOString()})`,
      );
  }
}

/**
 * Whether a verified snapshot manifest may replace what the terminal holds (before any row is staged): the
 * requested feed; in the same epoch not behind the data held or the trusted checkpoint, nor older; in
 * another epoch only one that names the held epoch in its signed lineage (a successor). Pure.
 */
export function checkManifest(
  m: { feed: string; epoch: string; seq: number; asOf: string; lineage: readonly string[] },
  held: HeldFeed & { asOf: string | null },
): void {
  if (m.feed !== held.feed)
    throw new KioskError('SYNC_MIX_AND_MATCH', `a ${m.feed} snapshot in an answer about ${held.feed}`);
  if (held.epoch === null) return;
  if (m.epoch === held.epoch) {
    const floor = Math.max(held.seq, held.trusted?.epoch === m.epoch ? held.trusted.position : 0);
    if (m.seq < floor)
      throw new KioskError(
        'SYNC_ROLLBACK',
        `a ${m.feed} snapshot at ${m.seq} would take the feed back from ${floor} (epoch ${m.epoch})`,
      );
  } else if (!m.lineage.includes(held.epoch)) {
    throw new KioskError(
      'SYNC_ROLLBACK',
      `a ${m.feed} snapshot of epoch ${m.epoch} is not signed as a successor of the trusted epoch ${held.epoch}`,
    );
  }
  if (held.asOf !== null && Date.parse(m.asOf) < Date.parse(held.asOf))
    throw new KioskError(
      'SYNC_ROLLBACK',
      `a ${m.feed} snapshot as of ${m.asOf} is older than the data held (as of ${held.asOf})`,
    );
}

// ---- push reply -------------------------------------------------------------------------------------

export const SignedPushReply = z
  .object({
    format: z.literal(PUSH_REPLY_FORMAT),
    publisherKeyId: z.string().regex(/^[0-9a-f]{32}$/),
    terminalId: z.string().min(1).max(64),
    nonce: Nonce,
    hubTime: z.number().int().nonnegative(),
    /** Highest journal sequence the hub holds for this terminal with no gap below it. */
    acked: Seq,
    accepted: Seq,
    duplicates: Seq,
    /**
     * The operator is retiring this terminal: once `acked` covers its whole journal it wipes its
     * personal data and stops deciding. Signed, so nobody on the path can order a wipe.
     */
    order: z.literal('retire').optional(),
  })
  .strict();
export type SignedPushReply = z.output<typeof SignedPushReply>;

export function signPushReply(r: SignedPushReply, key: PublisherKey): Buffer {
  return signBlob(PUSH_REPLY_DOMAIN, Buffer.from(JSON.stringify(r), 'utf8'), key);
}

/** Verifies a push reply and that it answers this terminal's request: SYNC_REPLY_INVALID otherwise. */
export function openPushReply(
  bytes: Uint8Array,
  trust: PublisherTrust,
  expect: { nonce: string; terminalId: string },
): SignedPushReply {
  const opened = openBlob(bytes, PUSH_REPLY_DOMAIN, trust, {
    malformed: 'SYNC_REPLY_INVALID',
    signature: 'SYNC_REPLY_INVALID',
    publisher: 'SYNC_REPLY_INVALID',
  });
  const parsed = SignedPushReply.safeParse(opened.payload);
  if (!parsed.success) throw new KioskError('SYNC_REPLY_INVALID', `push reply: ${firstIssue(parsed.error)}`);
  const r = parsed.data;
  if (r.publisherKeyId !== opened.kid)
    throw new KioskError('SYNC_REPLY_INVALID', 'push reply names a publisher other than its signer');
  if (r.nonce !== expect.nonce || r.terminalId !== expect.terminalId)
    throw new KioskError(
      'SYNC_REPLY_INVALID',
      'the push reply answers another request (replayed or relayed)',
    );
  return r;
}

/** The nonce of a request signed by protocol/http-signature.ts, from its Signature-Input header. */
export function nonceOf(signatureInput: string | string[] | undefined): string | null {
  const value = Array.isArray(signatureInput) ? signatureInput[0] : signatureInput;
  const m = value ? /;nonce="([A-Za-z0-9_-]{8,64})"/.exec(value) : null;
  return m ? m[1]! : null;
}
