// Content-addressed distribution (docs/sync.md "Cacheable distribution"): what every terminal downloads —
// delta batches and snapshots — is served at a URL that names the SHA-256 of its bytes, never changes and
// can be kept by any HTTP cache or CDN. Only the small signed checkpoint answering each pull is dynamic; it
// lists the pieces to fetch with their addresses, so a terminal checks every byte it got from a cache
// against a statement the publisher (or a delegated venue key) signed for its own request before using it.
//
// Path: /v1/content/<feed>/<epoch>/<b|s><seq>/<sha256 hex>
//   b<seq>: the stored batch starting at seq (its gzip member of one batch frame, byte for byte);
//   s<seq>: the snapshot at seq (gzip members: manifest frame, rows frames, rows-end frame).
// The locator lets a hub find the bytes without an index; the hash makes the URL immutable.
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { KioskError } from '../base/errors.js';

export const CONTENT_PREFIX = '/v1/content/';
/** Most pieces one answer lists: a snapshot and a full page of batches. */
export const MAX_CONTENT_REFS = 65;
/** What a hub answers for content: it never changes, so any cache may keep it for a year. */
export const IMMUTABLE_CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** What a hub answers for everything request-bound (pull answers, replies, errors). */
export const DYNAMIC_CACHE_CONTROL = 'no-store';

const Hex64 = /^[0-9a-f]{64}$/;
const PATH_RE =
  /^\/v1\/content\/(whitelist|revocations)\/([A-Za-z0-9_-]{1,64})\/([bs])(\d{1,16})\/([0-9a-f]{64})$/;

export const ContentRef = z
  .object({
    path: z.string().regex(PATH_RE).max(256),
    sha256: z.string().regex(Hex64),
    /** Exact byte length: the terminal stops reading past it. */
    bytes: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  })
  .strict();
export type ContentRef = z.output<typeof ContentRef>;

export interface ContentLocator {
  feed: 'whitelist' | 'revocations';
  epoch: string;
  kind: 'batch' | 'snapshot';
  seq: number;
  sha256: string;
}

export function contentPath(l: ContentLocator): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(l.epoch))
    throw new KioskError('INVALID_REQUEST', `epoch ${l.epoch} cannot be part of a content address`);
  return `${CONTENT_PREFIX}${l.feed}/${l.epoch}/${l.kind === 'batch' ? 'b' : 's'}${l.seq}/${l.sha256}`;
}

/** The parts of a content path, or null when it is not one. */
export function parseContentPath(path: string): ContentLocator | null {
  const m = PATH_RE.exec(path);
  if (!m) return null;
  const seq = Number(m[4]);
  if (!Number.isSafeInteger(seq)) return null;
  return {
    feed: m[1] as 'whitelist' | 'revocations',
    epoch: m[2]!,
    kind: m[3] === 'b' ? 'batch' : 'snapshot',
    seq,
    sha256: m[5]!,
  };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The strong ETag of a piece: its address. */
export function contentEtag(sha256: string): string {
  return `"${sha256}"`;
}
