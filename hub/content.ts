// Content-addressed pieces at the hub (protocol/content.ts): the address of each stored batch and built
// snapshot, and the bytes behind an address. A central hub finds them in its store and snapshot folder; a
// venue hub in its mirror (venue-mirror.ts) — both behind ContentSource, which the server's
// GET /v1/content/… route serves with immutable caching headers.
import {
  createReadStream,
  existsSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
  type Stats,
} from 'node:fs';
import { createHash } from 'node:crypto';
import type { FeedName } from '../protocol/sync.js';
import type { SnapshotFeedName } from '../protocol/feed-format.js';
import { contentPath, sha256Hex, type ContentLocator, type ContentRef } from '../protocol/content.js';
import type { HubStore, StoredBatch } from './store.js';

export type ContentBody = { bytes: Buffer } | { file: string; size: number };

/** What a hub can serve by address. */
export interface ContentLookup {
  open(loc: ContentLocator): Promise<ContentBody | null>;
}

/** A venue hub answers whitelist and revocation pulls from its mirror (no store, no publisher). */
export interface ContentPlan {
  epoch: string;
  head: number;
  position: number;
  digest: string;
  refs: ContentRef[];
  /** The checkpoint may not outlive this (the upstream checkpoint the mirror last verified). */
  expiresBy: number;
}

export interface ContentSource extends ContentLookup {
  /**
   * What a terminal at (`epoch`, `after`) is sent: refs and where they bring it. 'behind': the terminal
   * holds more than this hub (come back later, or ask another hub); 'unavailable': nothing mirrored yet
   * or the upstream statement expired.
   */
  plan(
    feed: SnapshotFeedName,
    after: number,
    epoch: string | null,
    max: number,
  ): ContentPlan | 'behind' | 'unavailable';
}

/** Where a file's SHA-256 is kept beside it. */
const hashFileOf = (file: string) => `${file}.sha256`;

/**
 * Records a file's SHA-256 and size beside it (`<file>.sha256`, JSON, written whole then renamed). The
 * snapshot builder writes it before the snapshot takes its name, so it is never older than the file.
 */
export function writeFileHash(file: string, h: { sha256: string; bytes: number }): void {
  const tmp = `${hashFileOf(file)}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(h) + '\n', { mode: 0o600 });
  renameSync(tmp, hashFileOf(file));
}

/** The recorded hash, if it is there, well formed, for this size and not older than the file. */
function recordedHash(file: string, st: Stats): string | null {
  try {
    const side = hashFileOf(file);
    if (statSync(side).mtimeMs < st.mtimeMs) return null;
    const h = JSON.parse(readFileSync(side, 'utf8')) as { sha256?: unknown; bytes?: unknown };
    return typeof h.sha256 === 'string' && /^[0-9a-f]{64}$/.test(h.sha256) && h.bytes === st.size
      ? h.sha256
      : null;
  } catch {
    return null;
  }
}

/**
 * SHA-256 of a file, remembered by path, size and mtime: from the hash the builder recorded beside it, or
 * streamed once (and recorded). A wrong record costs nothing but a failed download: terminals check the
 * bytes against the address and the snapshot's signed manifest.
 */
export class FileHashes {
  private readonly known = new Map<string, { key: string; sha: string }>();

  async of(file: string): Promise<{ sha256: string; bytes: number }> {
    const st = statSync(file);
    const key = `${st.size}:${st.mtimeMs}`;
    const hit = this.known.get(file);
    if (hit?.key === key) return { sha256: hit.sha, bytes: st.size };
    let sha = recordedHash(file, st);
    if (!sha) {
      const hash = createHash('sha256');
      for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
      sha = hash.digest('hex');
      try {
        writeFileHash(file, { sha256: sha, bytes: st.size });
      } catch {
        // A read-only folder: the hash is remembered in memory only.
      }
    }
    if (this.known.size > 64) this.known.clear();
    this.known.set(file, { key, sha });
    return { sha256: sha, bytes: st.size };
  }
}

export function batchRef(feed: SnapshotFeedName, epoch: string, b: StoredBatch): ContentRef {
  const sha256 = sha256Hex(b.frameGz);
  return {
    path: contentPath({ feed, epoch, kind: 'batch', seq: b.fromSeq, sha256 }),
    sha256,
    bytes: b.frameGz.length,
  };
}

export async function snapshotRef(
  hashes: FileHashes,
  feed: SnapshotFeedName,
  epoch: string,
  snapshot: { file: string; seq: number },
): Promise<ContentRef> {
  const { sha256, bytes } = await hashes.of(snapshot.file);
  return { path: contentPath({ feed, epoch, kind: 'snapshot', seq: snapshot.seq, sha256 }), sha256, bytes };
}

/** The central hub's pieces: batches of the current epoch from the store, snapshots from their folder. */
export class StoreContent implements ContentLookup {
  constructor(
    private readonly store: HubStore,
    private readonly snapshotFileAt: (feed: SnapshotFeedName, epoch: string, seq: number) => string,
    private readonly hashes: FileHashes,
  ) {}

  async open(loc: ContentLocator): Promise<ContentBody | null> {
    const feed: FeedName = loc.feed;
    if (this.store.feedInfo(feed).epoch !== loc.epoch) return null;
    if (loc.kind === 'batch') {
      const b = this.store.batchesAfter(feed, loc.seq, 1)[0];
      if (!b || b.fromSeq !== loc.seq || sha256Hex(b.frameGz) !== loc.sha256) return null;
      return { bytes: b.frameGz };
    }
    const file = this.snapshotFileAt(loc.feed, loc.epoch, loc.seq);
    if (!existsSync(file)) return null;
    const { sha256, bytes } = await this.hashes.of(file);
    return sha256 === loc.sha256 ? { file, size: bytes } : null;
  }
}
