// The hub's storage contract, implemented on SQLite (sqlite-store.ts, the default) and on PostgreSQL
// (pg-store.ts, for several hub instances on one database). Every method is one transaction; a write
// method returns only after its transaction is durable. README.md says how to add a method to both.
import { KioskError } from '../base/errors.js';
import { ZERO_DIGEST } from '../protocol/checkpoint.js';
import type { FeedName } from '../protocol/sync.js';
import type { TerminalStatusReport, PushRecord } from '../protocol/sync.js';
import type { PeerEntryOp } from '../protocol/feed-format.js';
import type { EntryConflict } from './conflicts.js';
import type { CrlIssuerStatus } from '../protocol/crl-status.js';

/**
 * The last CRL applied for a scope: an issuer's complete CRL (scope = issuer key id) or one allowed
 * IDP partition of it (scope = `<issuer key id>#<partition>`). After a delta CRL, the number is the
 * delta's: the rows then equal a complete CRL of that number (RFC 5280 §5.2.4).
 */
export interface CrlState {
  scope: string;
  issuerKeyId: string;
  partition: string | null;
  crlNumber: string | null;
  /** ms since 1970. */
  thisUpdate: number;
  /** ms since 1970; null for a CRL imported before the hub kept it. */
  nextUpdate: number | null;
}

/** Only the registration fields of a terminal record (or of anything carrying them). */
export function registrationOf(t: TerminalRegistration): TerminalRegistration {
  const { terminalId, publicKeyPem, siteId, gateId, zone, siteKind } = t;
  return { terminalId, publicKeyPem, siteId, gateId, zone, siteKind };
}

/** A signed root of trust as instances of one store share it (hub-keys.ts). */
export interface SharedRoot {
  version: number;
  bytes: Buffer;
  /** The label of the publisher key the root names, in the (shared or replicated) key store. */
  publisherLabel: string;
}

export interface TerminalRegistration {
  terminalId: string;
  /** SPKI PEM of the terminal's ECDSA P-256 key (its HSM key). */
  publicKeyPem: string;
  siteId: string;
  gateId: string;
  zone: string;
  /** Shelters get an occupancy view on the status page. */
  siteKind: string;
}

/**
 * What the operator has set: `disabled` terminals are refused (out of service, until enabled); a
 * `retiring` one may only upload its journal, and is told (in the signed push reply) to wipe its personal
 * data once everything is acknowledged; `retired` is final.
 */
export { TerminalStates, type TerminalState } from '../protocol/venue-roster.js';
import type { TerminalState } from '../protocol/venue-roster.js';

/** A one-time enrolment code as the hub keeps it (the code itself only as a digest). */
export interface EnrolmentCodeRecord {
  codeSha256: string;
  siteId: string;
  gateId: string;
  zone: string;
  siteKind: string;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  usedBy: string | null;
}

/** A one-time seat transfer code as the hub keeps it (companions.ts): the code only as a digest. */
export interface TransferCodeRecord {
  codeSha256: string;
  /** The purchaser's whitelist row key, hex. */
  purchaserK: string;
  /** The purchaser's issuer key id (the row's scope; names no card). */
  purchaserScope: string;
  eventId: string;
  seat: string;
  /** The purchaser's SPKI hash, sealed under a key derived from the code (companions.ts). */
  sealedSpki: Buffer;
  createdAt: number;
  expiresAt: number;
  usedAt: number | null;
  /** The companion's whitelist row key, hex. */
  usedBy: string | null;
}

export interface TerminalRecord extends TerminalRegistration {
  /** Absent in records from stores that predate terminal states: read as active. */
  state?: TerminalState;
  stateReason?: string | null;
  stateAt?: number | null;
  registeredAt: number;
  lastSeenAt: number | null;
  status: TerminalStatusReport | null;
  /** Highest journal sequence held with no gap below it. */
  acked: number;
}

/**
 * Where a feed's batches are kept: the feed name, except peer entries, which are kept per site
 * (`peer-entries@<siteId>`) so that a gate only learns of entries at its own site.
 */
export type FeedKey = FeedName | `peer-entries@${string}`;

/** Two different roots under one version: instances not provisioned from one hub folder. */
export function rootConflict(version: number): KioskError {
  return new KioskError(
    'CONFIG_INVALID',
    `the store holds another root v${version} than this hub folder: every instance of a store must be set up from one hub folder (its root key)`,
  );
}

export function peerFeedKey(siteId: string): FeedKey {
  return `peer-entries@${siteId}`;
}

export interface FeedInfo {
  feed: FeedKey;
  epoch: string;
  head: number;
  /** fromSeq of the oldest batch still held (batches before it were compacted away). */
  oldestFrom: number;
  rows: number;
  /** v2: the chain digest at `head` (protocol/checkpoint.ts), hex. */
  digest: string;
  /** v2: the epochs the current one succeeds, oldest first. */
  lineage: string[];
}

/** A feed's row as both stores read it (the oldest batch's fromSeq joined in, null without batches). */
export interface FeedRow {
  epoch: string;
  head: number;
  rows: number;
  digest: string | null;
  lineage: string;
  oldest: number | null;
}

export function toFeedInfo(feed: FeedKey, f: FeedRow): FeedInfo {
  return {
    feed,
    epoch: f.epoch,
    head: f.head,
    oldestFrom: f.oldest ?? f.head,
    rows: f.rows,
    digest: f.digest ?? ZERO_DIGEST,
    lineage: JSON.parse(f.lineage) as string[],
  };
}

export interface StoredBatch {
  fromSeq: number;
  toSeq: number;
  /** The signed batch wrapped as one gzip member of one frame, ready to be written to an answer. */
  frameGz: Buffer;
  /** v2: SHA-256 of the signed batch bytes (set when it is made; chained by the store). */
  sha256?: Buffer;
  /** v2: the chain digest after this batch (set when read back). */
  digest?: string;
}

/** A row of a feed's current state at the hub: k = row key, h = digest of the input it came from. */
export interface StateRow {
  k: Buffer;
  h: Buffer;
  /** The value as it travels (sealed card record / revocation value). */
  v: Buffer;
  /** Revocations: the issuer key id the row belongs to (a CRL replaces only its own issuer's rows). */
  scope: string;
}

export interface Publication {
  feed: FeedName;
  puts: StateRow[];
  dels: Buffer[];
  batches: Array<{
    fromSeq: number;
    toSeq: number;
    opCount: number;
    frameGz: Buffer;
    publishedAt: number;
    sha256?: Buffer;
  }>;
  /** Why (import file, CRL number), for the status page. */
  note: string;
  /** Revocations from a CRL: its new state, stored in the same transaction. */
  crl?: CrlState;
  /**
   * A companion seat transfer: the code is spent in the same transaction, which fails with
   * TRANSFER_CODE_USED (nothing published) when it was spent meanwhile or TRANSFER_CODE_EXPIRED.
   */
  spendTransferCode?: { codeSha256: string; at: number; usedBy: string };
}

export interface JournalAcceptance {
  accepted: number;
  duplicates: number;
  acked: number;
  /** New presence changes derived from accepted records, for the peer-entries feed. */
  presence: PeerEntryOp[];
}

export interface JournalPush {
  terminalId: string;
  rows: PushRecord[];
  at: number;
  toPresence: (row: PushRecord, lookup: (seq: number) => PushRecord | null) => PeerEntryOp | null;
  makeBatch: (fromSeq: number, ops: PeerEntryOp[]) => StoredBatch;
}

export interface PresenceRow {
  siteId: string;
  subject: string;
  state: 'inside' | 'outside';
  gateId: string;
  terminalId: string;
  at: number;
}

export interface HubStore {
  close(): void;

  /**
   * Registers a new terminal. An id already registered is refused (HUB_TERMINAL_EXISTS) unless it is the
   * same key with the same binding (idempotent); a key registered under another id is refused
   * (ENROL_KEY_REGISTERED). A key changes only through replaceTerminalKey.
   */
  registerTerminal(t: TerminalRegistration, at: number): void;
  /** The operator's key rotation for a registered terminal; the new key must not be registered elsewhere. */
  replaceTerminalKey(terminalId: string, publicKeyPem: string, at: number): TerminalRecord;
  /** Sets a terminal's state (HUB_UNKNOWN_TERMINAL when there is none); a retired one stays retired. */
  setTerminalState(
    terminalId: string,
    state: TerminalState,
    reason: string | null,
    at: number,
  ): TerminalRecord;
  /** Stores a new enrolment code (its digest). */
  createEnrolmentCode(c: Omit<EnrolmentCodeRecord, 'usedAt' | 'usedBy'>): void;
  enrolmentCodes(): EnrolmentCodeRecord[];
  /**
   * In one transaction: the code must exist, be unused and unexpired at `at`, the id and the key must be
   * new; then the terminal is registered with the code's binding and the code is spent. Typed refusals:
   * ENROL_CODE_UNKNOWN, ENROL_CODE_USED, ENROL_CODE_EXPIRED, ENROL_KEY_REGISTERED, HUB_TERMINAL_EXISTS.
   */
  enrolTerminal(
    codeSha256: string,
    t: { terminalId: string; publicKeyPem: string },
    at: number,
  ): TerminalRecord;
  /** Stores a new seat transfer code (its digest). */
  createTransferCode(c: Omit<TransferCodeRecord, 'usedAt' | 'usedBy'>): void;
  /** A transfer code by digest, or null. Spending happens in `publish` (Publication.spendTransferCode). */
  transferCode(codeSha256: string): TransferCodeRecord | null;
  /** Stores a remote configuration layer for a scope; returns its version (above every earlier one). */
  setRemoteConfig(scope: string, layer: Record<string, unknown>, at: number): number;
  /** The layers that apply to a terminal, site ← gate ← terminal, with their versions. */
  remoteConfigsFor(
    t: TerminalRecord,
  ): Array<{ scope: string; version: number; layer: Record<string, unknown> }>;
  terminal(terminalId: string): TerminalRecord | null;
  terminals(): TerminalRecord[];
  noteSeen(terminalId: string, at: number, status: TerminalStatusReport | null): void;
  /** Many sightings in one transaction (the server batches them: one fsync, not one per request). */
  noteSeenMany(seen: Array<{ terminalId: string; at: number; status: TerminalStatusReport | null }>): void;

  feedInfo(feed: FeedKey): FeedInfo;
  /** Batches whose range starts at or after `after`, oldest first. */
  batchesAfter(feed: FeedKey, after: number, limit: number): StoredBatch[];
  /** Operations published after `after` (to decide between deltas and a snapshot). */
  opsAfter(feed: FeedKey, after: number): number;
  /** The current state as digests by row key (hex), within one scope or all. */
  stateDigests(feed: FeedName, scope?: string): Map<string, string>;
  /**
   * One page of a feed's current (row key, digest) pairs in key order: the `limit` rows after `after`
   * (exclusive; an empty Buffer starts at the beginning), within `scope.only`, or outside `scope.except`.
   * Each page is its own short read, so a streamed publication can merge against a scope of any size in
   * bounded memory while it commits its own chunks below the page it reads next.
   */
  stateDigestPage(
    feed: FeedName,
    after: Buffer,
    limit: number,
    scope?: { only: string } | { except: string },
  ): Array<{ k: Buffer; h: Buffer }>;
  /**
   * A streamed publication starts (true) or ends (false): it reads and writes each page once, in key
   * order, so a store may keep its page cache small meanwhile (memory, not speed). Optional.
   */
  streamedPublication?(on: boolean): void;
  /** The digests (by row key, hex) of these row keys where the scope holds them: a small delta's lookups. */
  stateDigestsOf(feed: FeedName, keys: readonly Buffer[], scope: string): Map<string, string>;
  /** The current state in key order, read inside one consistent transaction, with its sequence. */
  readState(feed: FeedName): {
    seq: number;
    /** v2: epoch, chain digest at `seq` and lineage, from the same read. */
    epoch: string;
    digest: string;
    lineage: string[];
    rows: Iterable<{ k: Buffer; v: Buffer }>;
    /** The CRL status at `seq` (revocations), read in the same transaction. */
    issuers: CrlIssuerStatus[];
    close(): void;
  };
  /**
   * Starts a new epoch of a snapshot feed (a rebuild): its batches are dropped, the chain digest restarts,
   * the old epoch joins the lineage that the next snapshot manifest signs. Returns the new epoch.
   */
  startEpoch(feed: FeedName): string;
  /** The chain digest at `seq` in the current epoch (null if no longer known). */
  digestAt(feed: FeedKey, seq: number): string | null;
  /** Applies a publication (state changes + its signed batches) in one transaction. */
  publish(p: Publication): void;
  /**
   * After a publisher key rotation: passes every stored batch frame to `resign`, which answers the frame
   * signed by the new key (or null to keep it), and stores the answers, all in one transaction.
   */
  resignBatches(resign: (frameGz: Buffer) => Buffer | null): number;

  /**
   * Stores pushed journal rows, idempotent by (terminal, seq), verifying the hash chain where the previous
   * row is known; `toPresence` turns accepted rows into presence changes, which are stored as a batch of
   * the peer-entries feed built by `makeBatch` in the same transaction.
   */
  acceptJournal(
    terminalId: string,
    rows: PushRecord[],
    at: number,
    toPresence: (row: PushRecord, lookup: (seq: number) => PushRecord | null) => PeerEntryOp | null,
    makeBatch: (fromSeq: number, ops: PeerEntryOp[]) => StoredBatch,
  ): JournalAcceptance;
  /**
   * Several pushes in one durable transaction (group commit); each item succeeds or fails on its own
   * (a failed item is rolled back to its savepoint and returned as its error).
   */
  acceptJournalMany(items: JournalPush[]): Array<JournalAcceptance | Error>;
  journalCount(terminalId?: string): number;
  /** The last CRL imported for a scope (to refuse an older one, to apply a delta against its base). */
  crlState(scope: string): CrlState | null;
  /** What terminals are told: every scope's status, with its nextUpdate. */
  crlStatuses(): CrlIssuerStatus[];
  presence(siteId?: string): PresenceRow[];
  /** Double entries detected while accepting journals (conflicts.ts), newest first. */
  conflicts(filter?: { siteId?: string; openOnly?: boolean }): EntryConflict[];
  /** An operator looked at a conflict and closed it; the entries themselves stay as journaled. */
  resolveConflict(id: number, resolution: { note: string; by: string; at: number }): EntryConflict;

  /**
   * Records a request nonce of a terminal, kept (durably, across restarts) until `expires`; false when
   * that terminal already used it: the request is a replay.
   */
  useNonce(terminalId: string, nonce: string, expires: number): boolean;
  /**
   * `useNonce` and `terminal` in one step (one round trip on a shared store), for a request already
   * verified against the key the hub had for that terminal: the caller checks that the record read here
   * still holds that key, and takes the terminal's state from it. Optional; without it the two calls.
   * With `feed` (a pull), also `feedInfo(feed)` in that step where the store can (`feed` in the answer;
   * absent: the caller reads it).
   */
  useNonceFor?(
    terminalId: string,
    nonce: string,
    expires: number,
    feed?: FeedKey,
  ): { fresh: boolean; terminal: TerminalRecord | null; feed?: FeedInfo };
  /** Forgets nonces whose `expires` is before `now`; returns how many. */
  pruneNonces(now: number): number;

  /**
   * Keeps a signed root of trust and the label of the publisher key it names, so that every instance on
   * this store follows a rotation made by one of them (hub-keys.ts). The same version again with the
   * same bytes is a no-op; other bytes are CONFIG_INVALID (`rootConflict`).
   */
  putRoot(r: SharedRoot, at: number): void;
  /** The kept roots above `after`, in version order. */
  rootsAfter(after: number): SharedRoot[];

  /**
   * Stores shared by several hub processes: calls `onFeed` when any of them commits a change to a feed
   * (its long polls wake at once instead of at their next re-read). Returns the unsubscribe function.
   */
  subscribe?(onFeed: (feed: FeedKey) => void): () => void;
  /**
   * Stores shared by several hub processes: runs `build` for a snapshot `name` in one process only;
   * the others get the built snapshot copied to their `file`.
   */
  snapshotOnce?(
    name: string,
    file: string,
    build: () => Promise<{ file: string; seq: number }>,
  ): Promise<{ file: string; seq: number }>;
  /**
   * readState with the rows already laid out as a snapshot rows file (protocol/snapshot-rows.ts: key length,
   * key, varint value length, value; no magic), a block of at most `maxRows` rows at a time, in key order.
   * Stores that can frame rows inside the database offer it: the snapshot builder then handles blocks,
   * not rows (hub/snapshot-build.ts falls back to readState).
   */
  readStateFramed?(feed: FeedName, maxRows: number): FramedStateRead;
}

/** A consistent read of a feed's state as blocks of snapshot rows (HubStore.readStateFramed). */
export interface FramedStateRead {
  seq: number;
  epoch: string;
  digest: string;
  lineage: string[];
  issuers: CrlIssuerStatus[];
  /** Each block holds `rows` whole rows; `lastKey` is the greatest key in it. */
  blocks: Iterable<{ bytes: Buffer; rows: number; lastKey: Buffer }>;
  close(): void;
}
