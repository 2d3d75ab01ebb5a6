// Binds the sync module to the terminal's stores (whitelist/kiosk-data.ts): KioskData verifies every signed
// batch and snapshot against the pinned hub key and applies it whole or not at all; its Journal is the
// push source as it is.
import type { KioskData } from '../../../whitelist/kiosk-data.js';
import type { FeedState } from '../../../whitelist/feed-state.js';
import type { FeedName } from '../../../protocol/sync.js';
import type { FeedPosition, FeedSink, JournalSource } from './sinks.js';
import { KioskError } from '../../../base/errors.js';
import { openCheckpoint } from '../../../protocol/checkpoint.js';
import type { RootSink } from './root-update.js';

function sinkFor(data: KioskData, feed: FeedName): FeedSink {
  const state = (): FeedState =>
    feed === 'whitelist'
      ? data.whitelist.feedState()
      : feed === 'revocations'
        ? data.revocations.feedState()
        : data.terminal.peerFeedState();
  const position = (): FeedPosition => {
    const s = state();
    return { seq: s.seq, epoch: s.epoch };
  };
  const sink: FeedSink = {
    feed,
    position,
    applyBatch: (signed, expect) => {
      data.applyBatch(signed, { feed, epoch: expect.epoch });
      return position();
    },
    freshness: (now) => {
      const f = data.freshness(now)[feed];
      return { lastSyncAt: f.lastSyncAt === null ? null : Date.parse(f.lastSyncAt), dataAgeMs: f.dataAgeMs };
    },
    acceptCheckpoint: (signed, nonce, receivedAt) => {
      const s = data.acceptCheckpoint(feed, signed, nonce, receivedAt);
      return { ...s.checkpoint!, more: s.checkpoint!.position < s.checkpoint!.head };
    },
    checkpoint: () => state().checkpoint ?? null,
    openCheckpoint: (signed, nonce) => {
      const c = openCheckpoint(signed, data.requireTrust());
      if (c.nonce !== nonce)
        throw new KioskError(
          'SYNC_CHECKPOINT_INVALID',
          'the checkpoint answers another request (replayed or relayed)',
        );
      if (c.feed !== feed)
        throw new KioskError('SYNC_MIX_AND_MATCH', `a ${c.feed} checkpoint in an answer about ${feed}`);
      return c;
    },
  };
  if (feed === 'peer-entries') sink.restart = () => data.terminal.resetPeerFeed();
  if (feed !== 'peer-entries') {
    sink.checkManifest = (manifest) => data.checkSnapshotManifest(manifest, feed);
    sink.installSnapshot = async (manifest, rowsFile) => {
      await data.importSnapshotAsync(manifest, rowsFile);
      return position();
    };
  }
  return sink;
}

export function kioskDataSinks(data: KioskData): Record<FeedName, FeedSink> {
  return {
    whitelist: sinkFor(data, 'whitelist'),
    revocations: sinkFor(data, 'revocations'),
    'peer-entries': sinkFor(data, 'peer-entries'),
  };
}

export function kioskDataJournal(data: KioskData): JournalSource {
  const j = data.journal;
  return {
    uploadWatermark: () => j.uploadWatermark(),
    readSince: (after, limit) => j.readSince(after, limit),
    pendingUpload: () => j.pendingUpload(),
    markUploaded: (seq) => j.markUploaded(seq),
    openPushReply: (signed, expect) => data.openPushReply(signed, expect),
  };
}

/** The terminal's root of trust, which the sync module updates at the start of each sync. */
export function kioskDataRoots(data: KioskData): RootSink {
  return data.roots;
}
