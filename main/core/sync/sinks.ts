// What the sync module needs from the terminal's stores. The stores (whitelist/) verify the
// signed content themselves — openBatch / openManifest against the pinned hub key — and apply it whole
// or not at all; the sync module only moves bytes, checks order and keeps the status.
import type { FeedName } from '../../../protocol/sync.js';
import type { PushRecord } from '../../../protocol/sync.js';
import type { Checkpoint, TrustedCheckpoint } from '../../../protocol/checkpoint.js';

export interface FeedPosition {
  /** Sequence of the last operation applied (0: nothing yet). */
  seq: number;
  /** Snapshot lineage the data belongs to; null before the first snapshot. */
  epoch: string | null;
}

export interface FeedSink {
  readonly feed: FeedName;
  position(): FeedPosition;
  /**
   * Verifies one signed batch (protocol/feed-format.ts) against the pinned hub key and applies it in one
   * transaction. Refuses with a typed error (DELTA_BAD_SIGNATURE, DELTA_WRONG_PUBLISHER, DELTA_GAP,
   * DELTA_DUPLICATE, DELTA_MALFORMED) and changes nothing otherwise. Returns the new position.
   */
  applyBatch(signed: Buffer, expect: { epoch: string | null }): FeedPosition | Promise<FeedPosition>;
  /**
   * v2: verifies a signed snapshot manifest and that it may replace the data held (feed, no rollback,
   * epoch lineage) before any row is staged; returns the limits the rows stream must keep.
   */
  checkManifest?(manifest: Buffer): { seq: number; epoch: string; rowCount: number; rowsBytes: number };
  /**
   * Verifies a signed snapshot manifest and the rows file it names, builds the data into a fresh file
   * and swaps it in atomically (SNAPSHOT_INVALID / DELTA_WRONG_PUBLISHER otherwise, nothing changed).
   * Absent for feeds without snapshots.
   */
  installSnapshot?(manifest: Buffer, rowsFile: string): FeedPosition | Promise<FeedPosition>;
  /** Last successful sync and data age (now − the hub's "current as of"), persisted with the data. */
  freshness(now: number): { lastSyncAt: number | null; dataAgeMs: number | null };
  /**
   * v2: verifies the answer's signed checkpoint, that it answers the request with this nonce, states
   * exactly the data held and moves nothing backwards; keeps it as the trusted one (one transaction with
   * the feed state). The data age moves only here. Typed refusal otherwise, nothing changed.
   */
  acceptCheckpoint(
    signed: Buffer,
    nonce: string,
    receivedAt: number,
  ): (TrustedCheckpoint & { more: boolean }) | Promise<TrustedCheckpoint & { more: boolean }>;
  /** The last trusted checkpoint (null before the first). */
  checkpoint(): TrustedCheckpoint | null;
  /**
   * Verifies a checkpoint's signature and that it answers the request with this nonce, without keeping
   * it: a content-addressed answer's pieces are checked against it before they are used.
   */
  openCheckpoint?(signed: Buffer, nonce: string): Checkpoint;
  /** Peer entries: forget the position (another hub's feed is read from its start). */
  restart?(): void;
}

/** The journal's upload side; whitelist/journal.ts's Journal has exactly these methods. */
export interface JournalSource {
  /** Highest journal sequence the hub has acknowledged. */
  uploadWatermark(): number;
  /** Rows with sequence > `afterSeq`, oldest first, at most `limit`. */
  readSince(afterSeq: number, limit?: number): PushRecord[];
  /** Rows not yet acknowledged by the hub. */
  pendingUpload(): number;
  /** Records the hub's acknowledgement (never backwards). */
  markUploaded(seq: number): void;
  /** v2: verifies the hub's signed push reply for the request with this nonce (SYNC_REPLY_INVALID). */
  openPushReply(
    signed: Buffer,
    expect: { nonce: string; terminalId: string },
  ): { acked: number; accepted: number; duplicates: number; hubTime: number; order?: 'retire' };
}
