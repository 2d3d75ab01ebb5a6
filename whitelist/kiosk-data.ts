// KioskData: the one object the decision pipeline and sync use. Synchronous lookups (revoked? whose
// entitlement?), feed freshness for the stale-data policy, presence for anti-passback, the journal, and
// the verified entry points for deltas and snapshots.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KioskConfig } from '../config/load.js';
import { KioskError } from '../base/errors.js';
import type { Durability } from './db.js';
import type { CardRecord } from './entitlements.js';
import {
  decodeRevocationValue,
  openBatch,
  openManifest,
  type FeedName,
  type PublisherTrust,
  type RevocationReason,
  type SnapshotManifest,
} from '../protocol/feed-format.js';
import type { FeedState, Freshness } from './feed-state.js';
import {
  batchContentHash,
  checkManifest,
  openCheckpoint,
  openPushReply,
  type SignedPushReply,
} from '../protocol/checkpoint.js';
import { loadIndexKey, openCardRecord, type IndexKey } from './privacy.js';
import { FeedStore, heldOf, type ApplyResult, type SnapshotResult } from './store.js';
import { TerminalStore } from './terminal-store.js';
import { checkTrustFile } from '../config/secrets.js';
import { RootStore } from './root-store.js';

export interface CardLookupInput {
  /** Authority key identifier of the issuing CA (hex or bytes). */
  issuerKeyId: string | Uint8Array;
  /** Certificate serial (hex or the DER INTEGER content bytes). */
  serial: string | Uint8Array;
  /** SHA-256 of the certificate's SubjectPublicKeyInfo (hex or bytes). */
  spkiSha256: string | Uint8Array;
}

export interface CardLookup {
  /** Keyed hash of (issuer, serial), for the journal's serialRef. */
  serialRef: string;
  revoked: { at: string; reason: RevocationReason } | null;
  card: CardRecord | null;
  /** A row exists for this serial but does not open with this certificate's key: not the registered card. */
  keyMismatch: boolean;
}

export interface FeedStats {
  rows: number;
  bytes: number;
  bytesPerRow: number;
  seq: number;
  epoch: string | null;
  asOf: string | null;
  lastSyncAt: string | null;
}

export interface KioskDataStats {
  whitelist: FeedStats;
  revocations: FeedStats;
  journal: { records: number; uploadWatermark: number; seals: number };
  presence: { inside: number };
}

export type BatchApplyResult =
  ApplyResult | { feed: 'peer-entries'; fromSeq: number; toSeq: number; puts: number; dels: 0 };

export class KioskData {
  private constructor(
    readonly whitelist: FeedStore,
    readonly revocations: FeedStore,
    readonly terminal: TerminalStore,
    /** The fleet index key: builds rows (import) and serial refs. */
    readonly indexKey: IndexKey,
    private trust: PublisherTrust | null,
    /** The root of trust that names the publisher keys (sync.rootPath, then its verified successors). */
    readonly roots: RootStore,
  ) {}

  static open(options: {
    dir: string;
    indexKey: IndexKey;
    /** The pinned root of trust (its signed bytes, or a reader called when first needed). */
    root?: Buffer | (() => Buffer | null) | null;
    /** A fixed set of publishers instead of a root (tools and unit tests only). */
    trust?: PublisherTrust | null;
    journalDurability?: Durability;
  }): KioskData {
    const whitelist = FeedStore.open(options.dir, 'whitelist');
    let revocations: FeedStore | undefined;
    try {
      revocations = FeedStore.open(options.dir, 'revocations');
      // Every lookup reads the revocation list: let it stay in memory (~31 MB per million revocations).
      revocations.setCacheMb(64);
      // Nearly every card is not revoked: a key filter answers that without a query.
      revocations.enableKeyFilter();
      const terminal = TerminalStore.open(options.dir, { durability: options.journalDurability ?? 'full' });
      const pinned = options.root ?? null;
      const roots = new RootStore(options.dir, typeof pinned === 'function' ? pinned : () => pinned);
      return new KioskData(whitelist, revocations, terminal, options.indexKey, options.trust ?? null, roots);
    } catch (error) {
      whitelist.close();
      revocations?.close();
      throw error;
    }
  }

  /** Opens the stores named by the configuration: `<data.dir>/store`, the index key, the pinned root. */
  static fromConfig(config: KioskConfig, env: NodeJS.ProcessEnv = process.env): KioskData {
    const indexKey = loadIndexKey({
      ref: config.data.indexKey,
      dataDir: config.data.dir,
      demo: config.source.profile === 'demo',
      env,
    });
    const data = KioskData.open({
      dir: storeDir(config),
      indexKey,
      root: pinnedRootReader(config.sync.rootPath),
    });
    return data;
  }

  get journal() {
    return this.terminal.journal;
  }

  /**
   * Takes in what another process changed in the feed files (a CLI import, a snapshot swapped in by
   * another opener). Cheap when nothing changed (a pointer read and a pragma per feed); the terminal calls
   * it as each card arrives, before the card is read.
   */
  refresh(): void {
    this.whitelist.refresh();
    this.revocations.refresh();
  }

  /** Revoked? Whose entitlement? Synchronous; decryption included. */
  lookup(input: CardLookupInput): CardLookup {
    const k = this.indexKey.cardKey(input.issuerKeyId, input.serial);
    const rev = this.revocations.get(k);
    const sealed = this.whitelist.get(k);
    let card: CardRecord | null = null;
    if (sealed) card = openCardRecord(sealed, k, input.spkiSha256);
    let revoked: CardLookup['revoked'] = null;
    if (rev) {
      const r = decodeRevocationValue(rev);
      revoked = { at: new Date(r.at * 1000).toISOString(), reason: r.reason };
    }
    return {
      serialRef: k.toString('hex'),
      revoked,
      card,
      keyMismatch: sealed !== undefined && card === null,
    };
  }

  /**
   * Brings both feed files into the OS page cache (see FeedStore.prewarm); the terminal starts it when it
   * opens its stores and serves lookups meanwhile. Resolves with the bytes read; never rejects.
   */
  async prewarm(signal?: AbortSignal): Promise<{ bytes: number; error?: string }> {
    let bytes = 0;
    try {
      for (const store of [this.revocations, this.whitelist]) bytes += await store.prewarm({ signal });
      return { bytes };
    } catch (error) {
      // A file swapped away by a snapshot meanwhile: the next start warms the new one.
      return { bytes, error: (error as Error).message };
    }
  }

  freshness(now: number = Date.now()): Record<FeedName, Freshness> {
    return {
      whitelist: this.whitelist.freshness(now),
      revocations: this.revocations.freshness(now),
      'peer-entries': this.terminal.peerFreshness(now),
    };
  }

  /**
   * The publishers every signed blob is checked against: those the trusted root names now (a rotation
   * takes effect at once; an expired root trusts nobody: ROOT_EXPIRED).
   */
  requireTrust(now: number = Date.now()): PublisherTrust {
    return this.trust ?? this.roots.trust(now);
  }

  /**
   * Verifies (signature, publisher, shape) and applies one signed batch, whole or not at all. `expect` is
   * what a sync pull asked for (v2): a batch of another feed or epoch is SYNC_MIX_AND_MATCH, one the
   * terminal already holds (the hub never sends those) SYNC_ROLLBACK.
   */
  applyBatch(bytes: Uint8Array, expect?: { feed: FeedName; epoch: string | null }): BatchApplyResult {
    const batch = openBatch(bytes, this.requireTrust());
    if (expect && (batch.feed !== expect.feed || (expect.epoch !== null && batch.epoch !== expect.epoch)))
      throw new KioskError(
        'SYNC_MIX_AND_MATCH',
        `a ${batch.feed} batch of epoch ${batch.epoch} in an answer about ${expect.feed} (epoch ${expect.epoch ?? '-'})`,
      );
    const sha = batchContentHash(bytes);
    try {
      if (batch.feed === 'whitelist') return this.whitelist.apply(batch, sha);
      if (batch.feed === 'revocations') return this.revocations.apply(batch, sha);
      const r = this.terminal.applyPeerBatch(batch, sha);
      return { feed: 'peer-entries', fromSeq: batch.fromSeq, toSeq: r.toSeq, puts: r.applied, dels: 0 };
    } catch (error) {
      if (expect && error instanceof KioskError && error.code === 'DELTA_DUPLICATE')
        throw new KioskError('SYNC_ROLLBACK', `replayed batch refused: ${error.message}`, error.detail);
      throw error;
    }
  }

  /** A feed's state row (sequence, epoch, digest, trusted checkpoint). */
  feedState(feed: FeedName): FeedState {
    if (feed === 'whitelist') return this.whitelist.feedState();
    if (feed === 'revocations') return this.revocations.feedState();
    return this.terminal.peerFeedState();
  }

  /**
   * v2: verifies a snapshot manifest and that it may replace the held data (feed, no rollback, epoch
   * lineage) before a single row is staged. Writes nothing; the swap checks again (store.ts).
   */
  checkSnapshotManifest(manifestBytes: Uint8Array, feed: FeedName): SnapshotManifest {
    const manifest = openManifest(manifestBytes, this.requireTrust());
    const s = this.feedState(feed);
    checkManifest(manifest, { ...heldOf(s), asOf: s.asOf });
    return manifest;
  }

  /**
   * v2: verifies a pull answer's signed checkpoint and, in one transaction with the feed state, checks it
   * against what is held and the trusted one, then keeps it (FeedStateTable.acceptCheckpoint).
   */
  acceptCheckpoint(feed: FeedName, bytes: Uint8Array, nonce: string, receivedAt: number): FeedState {
    const c = openCheckpoint(bytes, this.requireTrust());
    if (c.feed !== feed)
      throw new KioskError('SYNC_MIX_AND_MATCH', `a ${c.feed} checkpoint in an answer about ${feed}`);
    if (feed === 'whitelist') return this.whitelist.acceptCheckpoint(c, { nonce }, receivedAt);
    if (feed === 'revocations') return this.revocations.acceptCheckpoint(c, { nonce }, receivedAt);
    return this.terminal.acceptPeerCheckpoint(c, { nonce }, receivedAt);
  }

  /** v2: verifies the hub's signed push reply for this request (SYNC_REPLY_INVALID otherwise). */
  openPushReply(bytes: Uint8Array, expect: { nonce: string; terminalId: string }): SignedPushReply {
    return openPushReply(bytes, this.requireTrust(), expect);
  }

  /** Verifies the signed manifest, builds the new file from the rows and swaps it in. */
  importSnapshot(
    manifestBytes: Uint8Array,
    rowsFile: string,
    onProgress?: (rows: number) => void,
  ): SnapshotResult {
    const { manifest, store } = this.snapshotTarget(manifestBytes);
    return store.importSnapshot(manifest, rowsFile, onProgress);
  }

  /**
   * importSnapshot for a running terminal: the new file is built in chunks between which the event loop
   * runs (taps keep being decided on the current content); the swap is one step at the end.
   */
  async importSnapshotAsync(
    manifestBytes: Uint8Array,
    rowsFile: string,
    onProgress?: (rows: number) => void,
  ): Promise<SnapshotResult> {
    const { manifest, store } = this.snapshotTarget(manifestBytes);
    return store.importSnapshotAsync(manifest, rowsFile, onProgress);
  }

  /** Verifies a signed manifest against the pinned publisher and names the store it replaces. */
  private snapshotTarget(manifestBytes: Uint8Array): { manifest: SnapshotManifest; store: FeedStore } {
    const manifest = openManifest(manifestBytes, this.requireTrust());
    return { manifest, store: manifest.feed === 'whitelist' ? this.whitelist : this.revocations };
  }

  /** The sync engine heard "nothing new, current as of asOf" from the hub for a feed. */
  markSynced(feed: FeedName, at: Date, asOf?: string): void {
    if (feed === 'whitelist') this.whitelist.markSynced(at, asOf);
    else if (feed === 'revocations') this.revocations.markSynced(at, asOf);
    else this.terminal.markPeerSynced(at, asOf);
  }

  stats(): KioskDataStats {
    const feed = (store: FeedStore): FeedStats => {
      const state = store.feedState();
      const rows = store.rowCount();
      const bytes = store.fileBytes();
      return {
        rows,
        bytes,
        bytesPerRow: rows ? bytes / rows : 0,
        seq: state.seq,
        epoch: state.epoch,
        asOf: state.asOf,
        lastSyncAt: state.lastSyncAt,
      };
    };
    const db = this.terminal.db;
    return {
      whitelist: feed(this.whitelist),
      revocations: feed(this.revocations),
      journal: {
        records: this.journal.head().seq,
        uploadWatermark: this.journal.uploadWatermark(),
        seals: db.prepare('SELECT count(*) FROM journal_seal').pluck().get() as number,
      },
      presence: {
        inside: db.prepare("SELECT count(*) FROM presence WHERE state = 'inside'").pluck().get() as number,
      },
    };
  }

  close(): void {
    this.whitelist.close();
    this.revocations.close();
    this.terminal.close();
  }
}

export function storeDir(config: KioskConfig): string {
  return join(config.data.dir, 'store');
}

/** The configured root's bytes (sync.rootPath), read when first needed: stats and lookups work before the hub's root has been provisioned. */
export function pinnedRootReader(rootPath: string | null): () => Buffer | null {
  return () => {
    if (!rootPath) return null;
    checkTrustFile(rootPath, 'key sync.rootPath');
    try {
      return readFileSync(rootPath);
    } catch (error) {
      throw new KioskError('CONFIG_INVALID', `sync.rootPath: ${rootPath} cannot be read`, undefined, {
        cause: error,
      });
    }
  };
}
