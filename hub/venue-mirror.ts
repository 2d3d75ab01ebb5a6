// A venue hub's copy of the central hub's whitelist and revocations. It pulls them by content address as
// a registered terminal of the central hub, verifies what it keeps (the central checkpoint for its own
// request, each piece's SHA-256 against it, every batch and manifest against the central publisher of the
// root of trust, the chain digest), and keeps the pieces byte for byte: the site's terminals get exactly
// the central publisher's signed batches and snapshots, under checkpoints the venue key signs.
// State in `<venue dir>/venue.db` (schema versions 60–69), pieces in `<venue dir>/content/<sha256>`.
import { createReadStream, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { KioskError } from '../base/errors.js';
import { getLogger } from '../base/log.js';
import { openDb, migrate, type Db } from '../whitelist/db.js';
import {
  ZERO_DIGEST,
  chainDigest,
  checkCheckpoint,
  openCheckpoint,
  type Checkpoint,
} from '../protocol/checkpoint.js';
import { contentPath, parseContentPath, type ContentLocator, type ContentRef } from '../protocol/content.js';
import {
  openBatch,
  openManifest,
  type PublisherTrust,
  type SnapshotFeedName,
} from '../protocol/feed-format.js';
import { frames } from '../protocol/frames.js';
import { FrameType, MAX_PULL_ROUNDS } from '../protocol/sync.js';
import type { ContentBody, ContentPlan, ContentSource } from './content.js';
import type { Upstream } from './venue-upstream.js';
import { upstreamError } from './venue-upstream.js';

const log = getLogger('venue');

const MIGRATIONS = [
  {
    version: 60,
    sql: `
      CREATE TABLE mirror_feed (feed TEXT PRIMARY KEY, epoch TEXT NOT NULL, position INTEGER NOT NULL,
        digest TEXT NOT NULL, upstream_head INTEGER NOT NULL, expires INTEGER NOT NULL,
        upstream_time INTEGER NOT NULL);
      CREATE TABLE mirror_piece (feed TEXT NOT NULL, epoch TEXT NOT NULL, kind TEXT NOT NULL,
        from_seq INTEGER NOT NULL, to_seq INTEGER NOT NULL, sha256 TEXT NOT NULL, bytes INTEGER NOT NULL,
        digest TEXT NOT NULL, PRIMARY KEY (feed, epoch, kind, from_seq)) WITHOUT ROWID;
      CREATE TABLE forward_mark (terminal_id TEXT PRIMARY KEY, acked INTEGER NOT NULL) WITHOUT ROWID;
    `,
  },
];

interface FeedRow {
  feed: string;
  epoch: string;
  position: number;
  digest: string;
  upstream_head: number;
  expires: number;
  upstream_time: number;
}
interface PieceRow {
  kind: 'batch' | 'snapshot';
  from_seq: number;
  to_seq: number;
  sha256: string;
  bytes: number;
  digest: string;
}

/** Largest piece the mirror fetches (a snapshot of a very large whitelist). */
const MAX_PIECE_BYTES = 64 * 1024 ** 3;

export class VenueMirror implements ContentSource {
  private readonly db: Db;
  private readonly contentDir: string;

  constructor(
    dir: string,
    private readonly upstream: Upstream,
    /** The central publishers (the root of trust, no delegation): what the mirror accepts. */
    private readonly trust: () => PublisherTrust,
    private readonly now: () => number = Date.now,
  ) {
    const file = join(dir, 'venue.db');
    this.db = openDb(file, { durability: 'full' });
    migrate(this.db, MIGRATIONS, file);
    this.contentDir = join(dir, 'content');
    mkdirSync(this.contentDir, { recursive: true, mode: 0o700 });
    // Downloads a stop interrupted: never named by a row, fetched again when needed.
    for (const f of readdirSync(this.contentDir))
      if (f.endsWith('.part')) rmSync(join(this.contentDir, f), { force: true });
  }

  close(): void {
    this.db.close();
  }

  get database(): Db {
    return this.db;
  }

  feed(feed: SnapshotFeedName): FeedRow | null {
    return (
      (this.db.prepare('SELECT * FROM mirror_feed WHERE feed = ?').get(feed) as FeedRow | undefined) ?? null
    );
  }

  // ---- serving the site's terminals -------------------------------------------------------------

  plan(
    feed: SnapshotFeedName,
    after: number,
    epoch: string | null,
    max: number,
  ): ContentPlan | 'behind' | 'unavailable' {
    const state = this.feed(feed);
    if (!state || state.expires <= this.now()) return 'unavailable';
    const base = { epoch: state.epoch, head: state.position, expiresBy: state.expires };
    const sameEpoch = epoch === state.epoch || (epoch === null && after === 0);
    if (sameEpoch && after === state.position)
      return { ...base, position: after, digest: state.digest, refs: [] };
    if (sameEpoch && after > state.position) return 'behind';
    const batches = (from: number): PieceRow[] => {
      const rows = this.db
        .prepare(
          "SELECT * FROM mirror_piece WHERE feed = ? AND epoch = ? AND kind = 'batch' AND from_seq >= ? ORDER BY from_seq LIMIT ?",
        )
        .all(feed, state.epoch, from, max) as PieceRow[];
      const out: PieceRow[] = [];
      let at = from;
      for (const r of rows) {
        if (r.from_seq !== at) break;
        out.push(r);
        at = r.to_seq;
      }
      return out;
    };
    let pieces: PieceRow[] = sameEpoch ? batches(after) : [];
    if (pieces.length === 0) {
      const snap = this.db
        .prepare(
          "SELECT * FROM mirror_piece WHERE feed = ? AND epoch = ? AND kind = 'snapshot' ORDER BY from_seq DESC LIMIT 1",
        )
        .get(feed, state.epoch) as PieceRow | undefined;
      if (!snap || (sameEpoch && snap.to_seq < after)) return 'unavailable';
      pieces = [snap, ...batches(snap.to_seq).slice(0, Math.max(0, max - 1))];
    }
    const last = pieces[pieces.length - 1]!;
    return {
      ...base,
      position: last.to_seq,
      digest: last.digest,
      refs: pieces.map((p) => this.ref(feed, state.epoch, p)),
    };
  }

  private ref(feed: SnapshotFeedName, epoch: string, p: PieceRow): ContentRef {
    const seq = p.kind === 'batch' ? p.from_seq : p.to_seq;
    return {
      path: contentPath({ feed, epoch, kind: p.kind, seq, sha256: p.sha256 }),
      sha256: p.sha256,
      bytes: p.bytes,
    };
  }

  async open(loc: ContentLocator): Promise<ContentBody | null> {
    const file = join(this.contentDir, loc.sha256);
    const known = this.db
      .prepare('SELECT 1 FROM mirror_piece WHERE feed = ? AND epoch = ? AND sha256 = ?')
      .get(loc.feed, loc.epoch, loc.sha256);
    if (!known || !existsSync(file)) return null;
    return { file, size: statSync(file).size };
  }

  // ---- following the central hub ----------------------------------------------------------------

  /** Pulls one feed from the central hub until it says nothing more (bounded rounds). */
  async pull(feed: SnapshotFeedName): Promise<{ position: number; pieces: number }> {
    let pieces = 0;
    for (let round = 0; round < MAX_PULL_ROUNDS; round++) {
      const state = this.feed(feed);
      let target = `/v1/feeds/${feed}?after=${state?.position ?? 0}&max=64&content=1`;
      if (state) target += `&epoch=${encodeURIComponent(state.epoch)}`;
      const answer = await this.upstream.signed('GET', target);
      if (answer.status !== 200) throw upstreamError(answer);
      let checkpoint: Checkpoint | null = null;
      for await (const f of frames(Readable.from([answer.body]))) {
        if (f.type === FrameType.hello) continue;
        if (f.type !== FrameType.checkpoint)
          throw new KioskError('SYNC_PROTOCOL', `central hub: frame ${f.type} in a content-addressed answer`);
        checkpoint = openCheckpoint(f.payload, this.trust());
      }
      if (!checkpoint)
        throw new KioskError('SYNC_CHECKPOINT_INVALID', 'central hub: answer without a checkpoint');
      if (checkpoint.nonce !== answer.nonce || checkpoint.feed !== feed || checkpoint.scope !== null)
        throw new KioskError(
          'SYNC_CHECKPOINT_INVALID',
          'central hub: the checkpoint answers another request',
        );
      const next = await this.take(feed, state, checkpoint);
      pieces += checkpoint.content?.length ?? 0;
      if (!checkpoint.more) return { position: next, pieces };
      if (next === (state?.position ?? 0) && checkpoint.epoch === state?.epoch)
        throw new KioskError('SYNC_LIMIT', `central hub: ${feed} "more" without progress`);
    }
    return { position: this.feed(feed)?.position ?? 0, pieces };
  }

  /** Fetches, verifies and keeps the pieces a verified central checkpoint names; one transaction. */
  private async take(feed: SnapshotFeedName, state: FeedRow | null, c: Checkpoint): Promise<number> {
    const trust = this.trust();
    let epoch = state?.epoch ?? null;
    let position = state?.position ?? 0;
    let digest = state?.digest ?? ZERO_DIGEST;
    const rows: Array<PieceRow & { epoch: string }> = [];
    for (const ref of c.content ?? []) {
      const loc = parseContentPath(ref.path);
      if (!loc || loc.feed !== feed || loc.sha256 !== ref.sha256)
        throw new KioskError('SYNC_PROTOCOL', `central hub: ${ref.path} is not a ${feed} content address`);
      // Streamed to a part file and checked against the checkpoint before anything reads it: a piece may
      // be a snapshot of a national whitelist, far larger than the memory a relay should need.
      const file = join(this.contentDir, ref.sha256);
      const part = `${file}.part`;
      if (!existsSync(file)) {
        const got = await this.upstream.contentToFile(ref.path, part, Math.min(ref.bytes, MAX_PIECE_BYTES));
        if (got.bytes !== ref.bytes || got.sha256 !== ref.sha256) {
          rmSync(part, { force: true });
          throw new KioskError(
            'SYNC_CONTENT_INVALID',
            `central content at ${ref.path} is not what its checkpoint names`,
          );
        }
        renameSync(part, file);
      }
      // Only the first frame matters here (a batch, or a snapshot's manifest): the rows stay compressed.
      let first: { type: number; payload: Buffer } | null = null;
      const inflating = createReadStream(file).pipe(createGunzip());
      for await (const f of frames(inflating)) {
        first = f;
        break;
      }
      inflating.destroy();
      if (loc.kind === 'snapshot') {
        if (first?.type !== FrameType.manifest)
          throw new KioskError('SNAPSHOT_INVALID', 'snapshot piece without manifest');
        const m = openManifest(first.payload, trust);
        if (m.feed !== feed) throw new KioskError('SYNC_MIX_AND_MATCH', `a ${m.feed} snapshot for ${feed}`);
        epoch = m.epoch;
        position = m.seq;
        digest = m.digest;
        rows.push({
          epoch,
          kind: 'snapshot',
          from_seq: m.seq,
          to_seq: m.seq,
          sha256: ref.sha256,
          bytes: ref.bytes,
          digest,
        });
      } else {
        if (first?.type !== FrameType.batch)
          throw new KioskError('DELTA_MALFORMED', 'batch piece without a batch');
        const b = openBatch(first.payload, trust);
        if (b.feed !== feed || (epoch !== null && b.epoch !== epoch))
          throw new KioskError(
            'SYNC_MIX_AND_MATCH',
            `a ${b.feed} batch of epoch ${b.epoch} for ${feed} (${epoch ?? '-'})`,
          );
        if (b.fromSeq !== position)
          throw new KioskError('DELTA_GAP', `${feed}: batch from ${b.fromSeq}, mirror at ${position}`);
        epoch = b.epoch;
        position = b.toSeq;
        digest = chainDigest(digest, first.payload);
        rows.push({
          epoch,
          kind: 'batch',
          from_seq: b.fromSeq,
          to_seq: b.toSeq,
          sha256: ref.sha256,
          bytes: ref.bytes,
          digest,
        });
      }
    }
    // The central statement must describe exactly what the mirror now holds (its own rules for terminals).
    checkCheckpoint(
      c,
      {
        feed,
        epoch,
        seq: position,
        digest: position === 0 && epoch === null ? null : digest,
        trusted: state
          ? {
              epoch: state.epoch,
              scope: null,
              head: state.upstream_head,
              position: state.position,
              digest: state.digest,
              hubTime: state.upstream_time,
              expires: state.expires,
            }
          : null,
      },
      { nonce: c.nonce },
    );
    this.db.transaction(() => {
      if (state && c.epoch !== state.epoch)
        this.db.prepare('DELETE FROM mirror_piece WHERE feed = ?').run(feed);
      const put = this.db.prepare(
        `INSERT OR REPLACE INTO mirror_piece (feed, epoch, kind, from_seq, to_seq, sha256, bytes, digest)
         VALUES (@feed, @epoch, @kind, @from_seq, @to_seq, @sha256, @bytes, @digest)`,
      );
      for (const r of rows) put.run({ feed, ...r });
      this.db
        .prepare(
          `INSERT OR REPLACE INTO mirror_feed (feed, epoch, position, digest, upstream_head, expires, upstream_time)
           VALUES (?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(feed, c.epoch, c.position, c.digest, c.head, c.expires, c.hubTime);
    })();
    if (rows.length > 0) {
      log.info({ feed, position: c.position, pieces: rows.length }, 'mirrored from the central hub');
      this.prune(feed);
    }
    return c.position;
  }

  /**
   * Keeps what terminals can still be served: the newest snapshot of the feed's epoch and the batches
   * (a terminal a few batches behind takes them rather than a whole snapshot). Older snapshots, pieces of
   * an earlier epoch and files no row names (a fetch that failed its check, an interrupted download) go.
   */
  prune(feed: SnapshotFeedName): { rows: number; files: number } {
    const rows = this.db
      .prepare(
        `DELETE FROM mirror_piece WHERE feed = ? AND kind = 'snapshot' AND from_seq < (
           SELECT max(from_seq) FROM mirror_piece WHERE feed = ? AND kind = 'snapshot')`,
      )
      .run(feed, feed).changes;
    const named = new Set(this.db.prepare('SELECT sha256 FROM mirror_piece').pluck().all() as string[]);
    let files = 0;
    for (const f of readdirSync(this.contentDir)) {
      if (named.has(f) || f.endsWith('.part')) continue; // a .part may be a download in progress
      rmSync(join(this.contentDir, f), { force: true });
      files++;
    }
    if (rows + files > 0) log.info({ feed, rows, files }, 'mirror pruned');
    return { rows, files };
  }

  // ---- journal forwarding watermarks ------------------------------------------------------------

  forwarded(terminalId: string): number {
    return (
      (this.db.prepare('SELECT acked FROM forward_mark WHERE terminal_id = ?').pluck().get(terminalId) as
        number | undefined) ?? 0
    );
  }

  markForwarded(terminalId: string, acked: number): void {
    this.db
      .prepare(
        `INSERT INTO forward_mark (terminal_id, acked) VALUES (?, ?)
         ON CONFLICT (terminal_id) DO UPDATE SET acked = max(acked, excluded.acked)`,
      )
      .run(terminalId, acked);
  }
}
