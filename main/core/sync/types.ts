// The sync client's options and the status it reports.
import type { Clock } from '../../../base/clock.js';
import type { ErrorCode, ErrorPayload } from '../../../base/errors.js';
import type { TrustedCheckpoint } from '../../../protocol/checkpoint.js';
import type { RequestSigner } from '../../../protocol/http-signature.js';
import type { FeedName } from '../../../protocol/sync.js';
import type { PullResult } from './pull.js';
import type { PushResult } from './push.js';
import type { FeedSink, JournalSource } from './sinks.js';
import type { RootSink } from './root-update.js';
import type { RemoteConfigSink } from './remote-config.js';

export interface SyncClientOptions {
  hubUrl: string;
  /** Further hubs in order of preference (fail-over: hubs.ts), e.g. the central hub after a venue hub. */
  hubUrls?: readonly string[];
  /** This terminal's site: a venue hub's delegation is taken only for it (protocol/delegation.ts). */
  site?: string | null;
  signer: RequestSigner;
  /** One sink per feed to sync; each verifies the hub's signatures against the pinned key itself. */
  sinks: Partial<Record<FeedName, FeedSink>>;
  /** Where snapshot rows are staged while they stream: under the data folder (`<data.dir>/staging`). */
  stagingDir: string;
  /** A whole pull answer must arrive within this (ms; default 15 min, plus any long-poll wait). */
  answerDeadlineMs?: number;
  /** Most requests one pull of one feed makes (default MAX_PULL_ROUNDS); each must move the feed. */
  maxRoundsPerPull?: number;
  journal?: JournalSource | null;
  /** The root of trust, brought up to date from the hub before each pull (root-update.ts). */
  roots?: RootSink | null;
  version?: string;
  pullIntervalMs?: number;
  pushIntervalMs?: number;
  /** Long-poll the peers feed with this wait (seconds) for global anti-passback; 0 turns it off. */
  peerWaitSeconds?: number;
  maxSkewSeconds?: number;
  idleTimeoutMs?: number;
  /** Most batches asked for per request; the client asks again while the hub says `more`. */
  maxBatchesPerRequest?: number;
  /**
   * Whitelist and revocations by content address (docs/sync.md "Cacheable distribution"): immutable
   * pieces any HTTP cache may serve, each checked against the signed checkpoint. Default false here;
   * syncFromConfig turns it on (`sync.contentAddressed`).
   */
  contentAddressed?: boolean;
  pushBatchSize?: number;
  /** TLS: extra CA certificate(s) for an https hub with a private CA. */
  ca?: Buffer;
  now?: () => number;
  /**
   * The hub's signed push reply ordered this terminal retired and acknowledged its whole journal: wipe
   * the personal data (roster, whitelist rows, outputs). The terminal then stays out of service.
   */
  onRetire?: () => Promise<void> | void;
  /** Remote configuration from the hub, pulled with every pull round (remote-config.ts). */
  remoteConfig?: RemoteConfigSink | null;
  /** Each exchange with the hub, for the metrics: `part` a feed or `push`, `result` ok or the error code. */
  onExchange?: (part: string, result: string) => void;
  /** The remote configuration version this terminal runs, for its status report. */
  configVersion?: () => number | null;
  /** The backoff's jitter source (seeded in tests). */
  random?: () => number;
  /** Timers and time; `now` above still overrides the time alone. */
  clock?: Clock;
}

export interface FeedStatus {
  sequence: number;
  lastSuccessAt: number | null;
  lastAttemptAt: number | null;
  lastError: ErrorPayload | null;
  failures: number;
  /** v2: the last checkpoint verified for this feed (what `jpki-kiosk sync status` prints). */
  checkpoint: TrustedCheckpoint | null;
}

/** v2: the terminal refused an answer as an attack; shown in staff mode and reported to the hub. */
export interface SyncAlarm {
  code: ErrorCode;
  message: string;
  /** ISO time the refusal happened. */
  at: string;
}

export interface SyncStatus {
  running: boolean;
  online: boolean;
  feeds: Partial<Record<FeedName, FeedStatus>>;
  push: {
    lastSuccessAt: number | null;
    lastAttemptAt: number | null;
    lastError: ErrorPayload | null;
    failures: number;
    queueLength: number;
  };
  /** Seconds since the least recently synced feed last synced; null before every feed synced once. */
  dataAgeSeconds: number | null;
  /** Local clock minus hub clock, ms (null before the first answer). */
  clockSkewMs: number | null;
  clockFault: boolean;
  lastError: ErrorPayload | null;
  /** v2: the last refused attack (rollback, freeze, mix-and-match, forged reply, endless data); null if none. */
  alarm: SyncAlarm | null;
  /**
   * The hub operator took this terminal out of service (TERMINAL_DISABLED until enabled again,
   * TERMINAL_RETIRED for good); null while it is in service.
   */
  outOfService: ErrorPayload | null;
  /**
   * The hub that answered last (index 0 is `sync.hubUrl`, then `sync.hubUrls` in order) and how many the
   * terminal may fail over between; null before any hub answered.
   */
  hub: { url: string; index: number; of: number; answeredAt: number } | null;
}

export interface SyncReport {
  pulls: Partial<Record<FeedName, PullResult | ErrorPayload>>;
  push: PushResult | ErrorPayload | null;
  /** The remote configuration pull (absent without a remote configuration sink). */
  config?: { version: number; applied: boolean } | ErrorPayload;
  ok: boolean;
}
