// Per-feed state (sequence, epoch, publisher, data age, last sync), stored in the same SQLite file as the
// feed's content so that one transaction moves both: after any crash the sequence matches the content.
import { KioskError } from '../base/errors.js';
import type { Db } from './db.js';
import type { FeedBatch, FeedName } from '../protocol/feed-format.js';
import {
  checkCheckpoint,
  trustedPart,
  type Checkpoint,
  type TrustedCheckpoint,
} from '../protocol/checkpoint.js';

/** v2 (sync checkpoints): the chain digest at `seq` and the last trusted checkpoint, beside the state. */
export const FEED_STATE_V2_SQL = `
  ALTER TABLE feed_state ADD COLUMN digest TEXT;
  ALTER TABLE feed_state ADD COLUMN checkpoint TEXT;
`;
import type { CrlFreshness } from './crl-status.js';

export const FEED_STATE_SQL = `
  CREATE TABLE feed_state (
    feed TEXT PRIMARY KEY,
    epoch TEXT,
    seq INTEGER NOT NULL,
    publisher TEXT,
    as_of TEXT,
    last_sync TEXT,
    snapshot_id TEXT
  ) WITHOUT ROWID;
`;

export interface FeedState {
  feed: FeedName;
  /** Snapshot lineage the deltas belong to; null before the first batch or snapshot. */
  epoch: string | null;
  seq: number;
  publisherKeyId: string | null;
  /** Publisher's "data current as of" for what is applied (ISO), null if never synced. */
  asOf: string | null;
  /** When this terminal last heard from the publisher successfully (ISO). */
  lastSyncAt: string | null;
  /** The snapshot the content was last rebuilt from. */
  snapshotId: string | null;
  /** Chain digest at `seq` (protocol/checkpoint.ts); null: the epoch's start (zero digest). */
  digest: string | null;
  /** The last checkpoint verified for this feed (signed, answering this terminal's request). */
  checkpoint: TrustedCheckpoint | null;
}

export interface Freshness {
  feed: FeedName;
  seq: number;
  asOf: string | null;
  lastSyncAt: string | null;
  /** now − asOf in ms; null if never synced or the trusted checkpoint expired (treat as infinitely old). */
  dataAgeMs: number | null;
  /** The trusted checkpoint's expiry has passed: stale whatever the age says. */
  checkpointExpired?: boolean;
  /** Revocations: the signed CRL status stored with the rows (crl-status.ts). */
  crl?: CrlFreshness;
}

interface StateRow {
  feed: FeedName;
  epoch: string | null;
  seq: number;
  publisher: string | null;
  as_of: string | null;
  last_sync: string | null;
  snapshot_id: string | null;
  digest: string | null;
  checkpoint?: string | null;
}

export class FeedStateTable {
  private readonly read;
  private readonly write;

  constructor(
    private readonly db: Db,
    private readonly feed: FeedName,
  ) {
    this.read = db.prepare('SELECT * FROM feed_state WHERE feed = ?');
    this.write = db.prepare(
      `UPDATE feed_state SET epoch = @epoch, seq = @seq, publisher = @publisher, as_of = @as_of,
         last_sync = @last_sync, snapshot_id = @snapshot_id, digest = @digest, checkpoint = @checkpoint
         WHERE feed = @feed`,
    );
  }

  /** Adds the feed's row when a file is created (read-only openers rely on it being there). */
  static create(db: Db, feed: FeedName): FeedStateTable {
    db.prepare('INSERT OR IGNORE INTO feed_state (feed, seq) VALUES (?, 0)').run(feed);
    return new FeedStateTable(db, feed);
  }

  get(): FeedState {
    const r = this.read.get(this.feed) as StateRow;
    return {
      feed: r.feed,
      epoch: r.epoch,
      seq: r.seq,
      publisherKeyId: r.publisher,
      asOf: r.as_of,
      lastSyncAt: r.last_sync,
      snapshotId: r.snapshot_id,
      digest: r.digest ?? null,
      checkpoint: r.checkpoint ? (JSON.parse(r.checkpoint) as TrustedCheckpoint) : null,
    };
  }

  set(s: FeedState): void {
    this.write.run({
      feed: this.feed,
      epoch: s.epoch,
      seq: s.seq,
      publisher: s.publisherKeyId,
      as_of: s.asOf,
      last_sync: s.lastSyncAt,
      snapshot_id: s.snapshotId,
      digest: s.digest ?? null,
      checkpoint: s.checkpoint ? JSON.stringify(s.checkpoint) : null,
    });
  }

  /**
   * Check-and-set of a verified checkpoint (protocol/checkpoint.ts openCheckpoint) in one transaction: it
   * must answer this request and describe exactly the data held, and move nothing backwards against the
   * trusted one (checkCheckpoint); then it becomes the trusted one, and when it says "nothing more"
   * (position = head) the data is current as of its hub time. Refusals change nothing.
   */
  acceptCheckpoint(c: Checkpoint, expect: { nonce: string }, receivedAt: number): FeedState {
    return this.db
      .transaction(() => {
        const s = this.get();
        checkCheckpoint(
          c,
          {
            feed: this.feed,
            epoch: s.epoch,
            seq: s.seq,
            digest: s.digest ?? null,
            trusted: s.checkpoint ?? null,
          },
          expect,
        );
        const asOf = new Date(c.hubTime).toISOString();
        const newer = !c.more && (s.asOf === null || c.hubTime > Date.parse(s.asOf));
        const next: FeedState = {
          ...s,
          epoch: c.epoch,
          checkpoint: trustedPart(c),
          asOf: newer ? asOf : s.asOf,
          lastSyncAt: new Date(receivedAt).toISOString(),
        };
        this.set(next);
        return next;
      })
      .immediate();
  }

  freshness(now: number = Date.now()): Freshness {
    const s = this.get();
    const expired = s.checkpoint ? now > s.checkpoint.expires : false;
    return {
      feed: s.feed,
      seq: s.seq,
      asOf: s.asOf,
      lastSyncAt: s.lastSyncAt,
      dataAgeMs: s.asOf === null || expired ? null : Math.max(0, now - Date.parse(s.asOf)),
      ...(expired ? { checkpointExpired: true } : {}),
    };
  }

  /** The hub said "you are current as of `asOf`" (no new ops): freshness without a batch. */
  markSynced(at: Date, asOf?: string): void {
    const s = this.get();
    const newer = asOf !== undefined && (s.asOf === null || Date.parse(asOf) > Date.parse(s.asOf));
    this.set({ ...s, lastSyncAt: at.toISOString(), asOf: newer ? asOf : s.asOf });
  }
}

/**
 * The sequence rules for a batch against the current state. Throws DELTA_DUPLICATE (already applied —
 * benign on replay, nothing changes), DELTA_GAP (ops missing or another epoch: pull from `seq`, or fetch a
 * snapshot when `snapshotNeeded`).
 */
export function checkSequence(state: FeedState, batch: FeedBatch): void {
  if (batch.feed !== state.feed)
    throw new KioskError('DELTA_MALFORMED', `a ${batch.feed} batch cannot apply to the ${state.feed} feed`);
  if (state.epoch !== null && batch.epoch !== state.epoch)
    throw new KioskError(
      'DELTA_GAP',
      `feed ${state.feed} is on epoch ${state.epoch}, the batch on ${batch.epoch}: a snapshot is needed`,
      {
        feed: state.feed,
        seq: state.seq,
        snapshotNeeded: true,
      },
    );
  if (batch.toSeq <= state.seq)
    throw new KioskError(
      'DELTA_DUPLICATE',
      `feed ${state.feed} already has (${batch.fromSeq}, ${batch.toSeq}]; at ${state.seq}`,
      {
        feed: state.feed,
        seq: state.seq,
      },
    );
  if (batch.fromSeq < state.seq)
    throw new KioskError(
      'DELTA_DUPLICATE',
      `batch (${batch.fromSeq}, ${batch.toSeq}] overlaps feed ${state.feed} at ${state.seq}: pull from ${state.seq}`,
      {
        feed: state.feed,
        seq: state.seq,
      },
    );
  if (batch.fromSeq > state.seq)
    throw new KioskError(
      'DELTA_GAP',
      `feed ${state.feed} is at ${state.seq}, the batch starts after ${batch.fromSeq}: pull from ${state.seq} or fetch a snapshot`,
      { feed: state.feed, seq: state.seq, snapshotNeeded: state.epoch === null && state.seq === 0 },
    );
}
