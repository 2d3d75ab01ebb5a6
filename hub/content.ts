// Content-addressed pieces at the hub (protocol/content.ts): the address of each stored batch and built
// snapshot, and the bytes behind an address. A central hub finds them in its store and snapshot folder; a
// venue hub in its mirror (venue-mirror.ts) — both behind ContentSource, which the server's
// GET /v1/content/… route serves with immutable caching headers.
import { createReadStream, existsSync, statSync } from 'node:fs';
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

/** SHA-256 of a file, streamed, remembered by path, size and mtime (a snapshot is hashed once). */
export class FileHashes {
  private readonly known = new Map<string, { key: string; sha: string }>();

  async of(file: string): Promise<{ sha256: string; bytes: number }> {
    const st = statSync(file);
    const key = `${st.size}:${st.mtimeMs}`;
    const hit = this.known.get(file);
    if (hit?.key === key) return { sha256: hit.sha, bytes: st.size };
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    const sha = hash.digest('hex');
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
