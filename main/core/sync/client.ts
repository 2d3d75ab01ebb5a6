// The terminal's sync module: pulls each feed by sequence (pull.ts), pushes the journal since the
// watermark (push.ts), runs both on their own supervised loops (loops.ts), and keeps a status for the
// UI and the hub.
import { systemClock, type Clock } from '../../../base/clock.js';
import { KioskError, toKioskError, type ErrorCode, type ErrorPayload } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import { Backoff, type Health, type Supervised } from '../../../base/supervisor.js';
import { Feeds, MAX_PULL_ROUNDS, type FeedName, type PushBody } from '../../../protocol/sync.js';
import type { HubLink } from './link.js';
import { pullOnce, type PullResult } from './pull.js';
import { pushJournal, type PushResult } from './push.js';
import { peerPollBackoff, SyncLoops } from './loops.js';
import { RootUpdater } from './root-update.js';
import { HubChoice } from './hubs.js';
import { pullRemoteConfig } from './remote-config.js';
import type { FeedStatus, SyncAlarm, SyncClientOptions, SyncReport, SyncStatus } from './types.js';

export type { PullResult } from './pull.js';
export type { PushResult } from './push.js';
export type { FeedStatus, SyncAlarm, SyncClientOptions, SyncReport, SyncStatus } from './types.js';

/**
 * Refusals that mean someone on the path (or a broken hub) tried to roll back, freeze or mix the data, or
 * to forge a push reply: each raises the alarm (staff screen, and the hub through the status report).
 */
export const ALARM_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'SYNC_ROLLBACK',
  'SYNC_MIX_AND_MATCH',
  'SYNC_CHECKPOINT_INVALID',
  'SYNC_REPLY_INVALID',
  'SYNC_LIMIT',
  'DELTA_BAD_SIGNATURE',
  'DELTA_WRONG_PUBLISHER',
  'SNAPSHOT_INVALID',
  'SYNC_CONTENT_INVALID',
  'DELEGATION_INVALID',
]);
export { syncBackoff } from './loops.js';

const log = getLogger('sync');

type Listener = (status: SyncStatus) => void;

export class SyncClient implements Supervised {
  private readonly o: Required<
    Omit<
      SyncClientOptions,
      | 'journal'
      | 'ca'
      | 'sinks'
      | 'signer'
      | 'hubUrl'
      | 'hubUrls'
      | 'site'
      | 'clock'
      | 'roots'
      | 'onRetire'
      | 'configVersion'
      | 'onExchange'
      | 'remoteConfig'
    >
  > &
    SyncClientOptions;
  private readonly clock: Clock;
  private readonly hubs: HubChoice;
  /** The hub the peer-entries position was last taken from (each hub numbers its peer feed itself). */
  private peerHub: HubLink | null = null;
  private readonly feeds: FeedName[];
  private readonly feedState = new Map<FeedName, FeedStatus>();
  private readonly feedLocks = new Map<FeedName, Promise<unknown>>();
  private pushLock: Promise<unknown> = Promise.resolve();
  private pushState = {
    lastSuccessAt: null as number | null,
    lastAttemptAt: null as number | null,
    lastError: null as ErrorPayload | null,
    failures: 0,
  };
  private skewMs: number | null = null;
  private alarm: SyncAlarm | null = null;
  /** The hub's order (disabled, retired): the terminal is out of service while it stands. */
  private hubOrder: ErrorPayload | null = null;
  /** Wiped after a retire order: final, whatever the hub answers later. */
  private retired = false;
  private online = false;
  private lastError: ErrorPayload | null = null;
  private running = false;
  private listeners = new Set<Listener>();
  private readonly loops: SyncLoops;
  private peerLoop: Promise<void> | null = null;
  private pushSoonTimer: unknown = null;
  private readonly roots: RootUpdater | null;

  constructor(options: SyncClientOptions) {
    this.o = {
      version: '0.0.0',
      pullIntervalMs: 120_000,
      pushIntervalMs: 60_000,
      peerWaitSeconds: 0,
      maxSkewSeconds: 300,
      idleTimeoutMs: 15_000,
      maxBatchesPerRequest: 64,
      pushBatchSize: 1_000,
      answerDeadlineMs: 15 * 60_000,
      maxRoundsPerPull: MAX_PULL_ROUNDS,
      contentAddressed: false,
      now: options.clock?.now ?? Date.now,
      random: Math.random,
      ...options,
    };
    this.clock = { ...(options.clock ?? systemClock), now: this.o.now };
    this.hubs = new HubChoice([options.hubUrl, ...(options.hubUrls ?? [])], {
      signer: options.signer,
      idleTimeoutMs: this.o.idleTimeoutMs,
      ...(options.ca ? { ca: options.ca } : {}),
      clock: this.clock,
      random: this.o.random,
      noteHubTime: (hubTime, receivedAt) => {
        this.skewMs = receivedAt - hubTime;
      },
    });
    this.roots = options.roots ? new RootUpdater(options.roots, options.site ?? null) : null;
    this.feeds = Feeds.filter((f) => options.sinks[f] !== undefined);
    for (const f of this.feeds) {
      const sink = options.sinks[f]!;
      this.feedState.set(f, {
        sequence: sink.position().seq,
        lastSuccessAt: sink.freshness(this.clock.now()).lastSyncAt,
        lastAttemptAt: null,
        lastError: null,
        failures: 0,
        checkpoint: sink.checkpoint(),
      });
    }
    this.loops = new SyncLoops(
      this.clock,
      {
        pull: { intervalMs: this.o.pullIntervalMs, run: () => this.pullRound() },
        ...(this.o.journal
          ? { push: { intervalMs: this.o.pushIntervalMs, run: async () => void (await this.push()) } }
          : {}),
      },
      this.o.random,
      () => this.emit(),
    );
  }

  /**
   * Sync as one supervised part: `running` while a pull or push round is under way, otherwise the
   * state of whichever loop is worse off (a failing push shows even while pulls work), with its error.
   */
  health(): Health {
    return this.loops.health();
  }

  /** Skips the backoff of a failing pull or push loop: the next round runs now. */
  retryNow(): void {
    this.loops.retryNow();
  }

  onStatus(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): SyncStatus {
    const now = this.clock.now();
    const feeds: Partial<Record<FeedName, FeedStatus>> = {};
    let oldestAgeMs: number | null = null;
    let all = this.feeds.some((f) => f !== 'peer-entries');
    for (const f of this.feeds) {
      const sink = this.o.sinks[f]!;
      const s = { ...this.feedState.get(f)!, sequence: sink.position().seq, checkpoint: sink.checkpoint() };
      feeds[f] = s;
      if (f === 'peer-entries') continue;
      const age = this.o.sinks[f]!.freshness(now).dataAgeMs;
      if (age === null) all = false;
      else oldestAgeMs = Math.max(oldestAgeMs ?? 0, age);
    }
    return {
      running: this.running,
      online: this.online,
      feeds,
      push: { ...this.pushState, queueLength: this.o.journal?.pendingUpload() ?? 0 },
      dataAgeSeconds: all && oldestAgeMs !== null ? oldestAgeMs / 1000 : null,
      clockSkewMs: this.skewMs,
      clockFault: this.skewMs !== null && Math.abs(this.skewMs) > this.o.maxSkewSeconds * 1000,
      lastError: this.lastError,
      alarm: this.alarm,
      outOfService: this.hubOrder,
      hub: this.hubs.active(),
    };
  }

  /** Pulls every feed and pushes the journal now; one failing part does not stop the others. */
  async syncNow(): Promise<SyncReport> {
    // The peer-entries long poll (when running) is already pulling continuously; waiting behind it
    // would hold an on-demand sync for up to its wait.
    const feeds = this.feeds.filter((f) => !(f === 'peer-entries' && this.peerLoop && this.running));
    const pullPromise = Promise.all(
      feeds.map(
        async (f) => [f, await this.pull(f).catch((e: unknown) => toKioskError(e).toPayload())] as const,
      ),
    );
    const pushPromise = this.o.journal
      ? this.push().catch((e: unknown) => toKioskError(e).toPayload())
      : null;
    const configPromise = this.pullConfig().catch((e: unknown) => toKioskError(e).toPayload());
    const [pulls, push, config] = await this.loops.inRound(() =>
      Promise.all([pullPromise, pushPromise, configPromise]),
    );
    const report: SyncReport = {
      pulls: Object.fromEntries(pulls),
      push,
      ok: true,
      ...(config ? { config } : {}),
    };
    report.ok = pulls.every(([, r]) => !('code' in r)) && (push === null || !('code' in push));
    return report;
  }

  /** Pulls one feed until the hub has nothing more; serialised per feed. */
  pull(feed: FeedName, waitSeconds = 0): Promise<PullResult> {
    const prior = this.feedLocks.get(feed) ?? Promise.resolve();
    const run = prior.catch(() => undefined).then(() => this.pullUnlocked(feed, waitSeconds));
    this.feedLocks.set(feed, run);
    return run;
  }

  /** Pushes the journal since the watermark until nothing is pending; serialised. */
  push(): Promise<PushResult> {
    const run = this.pushLock.catch(() => undefined).then(() => this.pushUnlocked());
    this.pushLock = run;
    return run;
  }

  /**
   * Pushes soon (debounced), e.g. right after a grant or passage is journaled, so that other gates learn
   * of it within seconds; the periodic push stays as it is.
   */
  pushSoon(delayMs = 25): void {
    if (!this.o.journal || this.pushSoonTimer !== null) return;
    this.pushSoonTimer = this.clock.setTimeout(() => {
      this.pushSoonTimer = null;
      this.push().catch(() => undefined);
    }, delayMs);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops.start();
    if (this.o.peerWaitSeconds > 0 && this.o.sinks['peer-entries']) this.peerLoop = this.runPeerLoop();
    this.emit();
  }

  /** Stops timers and in-flight requests; final (construct a new client to sync again). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.pushSoonTimer !== null) this.clock.clearTimeout(this.pushSoonTimer);
    this.pushSoonTimer = null;
    const stopped = this.loops.stop();
    this.hubs.destroy();
    await stopped;
    await this.peerLoop?.catch(() => undefined);
    await Promise.allSettled([...this.feedLocks.values(), this.pushLock]);
    this.emit();
  }

  // ---- the loops ----------------------------------------------------------------------------------

  /**
   * The remote configuration once: applied when the hub has a new version, refused (CONFIG_INVALID, kept
   * as the last error, which the next push reports to the hub) when it does not pass; the terminal runs on
   * with the last good one either way.
   */
  async pullConfig(): Promise<{ version: number; applied: boolean } | null> {
    const sink = this.o.remoteConfig;
    if (!sink) return null;
    try {
      const r = await this.onHub((link) => pullRemoteConfig(link, sink));
      this.o.onExchange?.('config', 'ok');
      if (this.lastError?.code === 'CONFIG_INVALID') this.lastError = null;
      return r;
    } catch (error) {
      const typed = toKioskError(error);
      this.o.onExchange?.('config', typed.code);
      this.noteHubOrder(typed);
      if (typed.code === 'CONFIG_INVALID') {
        this.lastError = typed.toPayload();
        log.warn({ msg2: typed.message }, 'remote configuration refused; the last good one stays');
      }
      throw typed;
    } finally {
      this.emit();
    }
  }

  /** Every feed once (the peers feed is left to its long poll while that runs). */
  private async pullRound(): Promise<void> {
    const feeds = this.feeds.filter((f) => !(f === 'peer-entries' && this.peerLoop));
    await this.pullConfig().catch(() => undefined);
    const results = await Promise.allSettled(feeds.map((f) => this.pull(f)));
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async runPeerLoop(): Promise<void> {
    const backoff = new Backoff({ ...peerPollBackoff, random: this.o.random });
    while (this.running) {
      try {
        await this.pull('peer-entries', this.o.peerWaitSeconds);
        backoff.reset();
      } catch {
        if (!this.running) break;
        await new Promise<void>((r) => this.clock.setTimeout(r, backoff.fail()));
      }
    }
  }

  private emit(): void {
    if (this.listeners.size === 0) return;
    const s = this.status();
    for (const l of this.listeners) {
      try {
        l(s);
      } catch (error) {
        log.warn({ err: error }, 'sync status listener failed');
      }
    }
  }

  // ---- pull and push bookkeeping ------------------------------------------------------------------

  private async pullUnlocked(feed: FeedName, waitSeconds: number): Promise<PullResult> {
    const state = this.feedState.get(feed);
    const sink = this.o.sinks[feed];
    if (!state || !sink) throw new KioskError('INVALID_REQUEST', `feed ${feed} is not synced here`);
    state.lastAttemptAt = this.clock.now();
    const result: PullResult = {
      feed,
      hubTime: null,
      applied: 0,
      snapshot: false,
      sequence: sink.position().seq,
    };
    const options = { ...this.o, now: () => this.clock.now() };
    try {
      await this.onHub(async (link) => {
        await this.roots?.run(link); // a rotated publisher key is trusted (and the old one dropped) first
        if (feed === 'peer-entries' && this.peerHub !== link) {
          // Another hub's peer feed: read it from its start (presence is newest-wins).
          if (this.peerHub !== null) sink.restart?.();
          this.peerHub = link;
        }
        // Bounded: at most maxRoundsPerPull requests, and each one that says `more` must have moved the
        // feed (a hub or proxy answering `more` forever would otherwise spin here, one signature per round).
        for (let round = 0; ; round++) {
          const before = sink.position();
          const wait = round === 0 ? waitSeconds : 0;
          let answer;
          try {
            answer = await pullOnce(link, options, feed, sink, result, wait);
          } catch (error) {
            // A peer position another hub gave (before a restart, say): this hub's feed from its start.
            if (
              feed !== 'peer-entries' ||
              round > 0 ||
              toKioskError(error).code !== 'SYNC_PROTOCOL' ||
              !sink.restart
            )
              throw error;
            sink.restart();
            answer = await pullOnce(link, options, feed, sink, result, 0);
          }
          const { more, position } = answer;
          result.rounds = round + 1;
          if (!more) break;
          if (position.seq === before.seq && position.epoch === before.epoch)
            throw new KioskError('SYNC_LIMIT', `${feed}: the hub says "more" but its answer moved nothing`);
          if (round + 1 >= this.o.maxRoundsPerPull) {
            log.warn({ feed, rounds: round + 1 }, 'pull round limit reached; the next pull continues');
            break;
          }
        }
      });
      const now = this.clock.now();
      state.lastSuccessAt = now;
      state.lastError = null;
      state.failures = 0;
      this.online = true;
      this.noteHubAccepts();
      this.o.onExchange?.(feed, 'ok');
      result.sequence = sink.position().seq;
      return result;
    } catch (error) {
      const typed = toKioskError(error);
      state.lastError = typed.toPayload();
      state.failures++;
      this.lastError = typed.toPayload();
      this.raiseAlarm(typed);
      this.noteHubOrder(typed);
      this.o.onExchange?.(feed, typed.code);
      if (typed.code === 'SYNC_UNREACHABLE') this.online = false;
      log.warn({ feed, code: typed.code, msg2: typed.message }, 'pull failed');
      throw typed;
    } finally {
      state.sequence = sink.position().seq;
      this.emit();
    }
  }

  private async pushUnlocked(): Promise<PushResult> {
    const journal = this.o.journal;
    if (!journal) throw new KioskError('INVALID_REQUEST', 'no journal to push');
    this.pushState.lastAttemptAt = this.clock.now();
    try {
      const total = await this.onHub((link) =>
        pushJournal(
          link,
          journal,
          this.o.pushBatchSize,
          () => this.statusReport(),
          async () => {
            // A reply signed by a key not yet trusted: a venue hub's, whose delegation comes with the roots.
            await this.roots?.run(link);
          },
        ),
      );
      this.pushState.lastSuccessAt = this.clock.now();
      this.pushState.lastError = null;
      this.pushState.failures = 0;
      this.online = true;
      // Retire only once the signed reply holds the whole journal: nothing personal is lost unsent.
      if (total.retire && journal.pendingUpload() === 0) await this.retire();
      else this.noteHubAccepts();
      this.o.onExchange?.('push', 'ok');
      return total;
    } catch (error) {
      const typed = toKioskError(error);
      this.pushState.lastError = typed.toPayload();
      this.pushState.failures++;
      this.lastError = typed.toPayload();
      this.raiseAlarm(typed);
      this.noteHubOrder(typed);
      this.o.onExchange?.('push', typed.code);
      if (typed.code === 'SYNC_UNREACHABLE') this.online = false;
      log.warn({ code: typed.code, msg2: typed.message }, 'push failed');
      throw typed;
    } finally {
      this.emit();
    }
  }

  /**
   * Runs `work` on the preferred hub; when that hub is unreachable, once on each other hub in order
   * (the venue hub on the LAN, then the central hub, or the reverse while the venue is down).
   */
  private async onHub<T>(work: (link: HubLink) => Promise<T>): Promise<T> {
    const tried = new Set<HubLink>();
    for (;;) {
      const link = this.hubs.choose();
      tried.add(link);
      try {
        const r = await work(link);
        this.hubs.ok(link);
        return r;
      } catch (error) {
        const typed = toKioskError(error);
        if (typed.code !== 'SYNC_UNREACHABLE') throw typed;
        this.hubs.failed(link);
        if (tried.has(this.hubs.choose())) throw typed;
        log.warn({ hub: link.base.origin, msg2: typed.message }, 'hub unreachable; trying the next one');
      }
    }
  }

  /**
   * Closes the connections kept alive to the hub(s) while no request uses them; the next exchange opens
   * a new one. For a terminal that will not sync for longer than the hub keeps an idle connection, and
   * for the fleet benchmark, whose thousands of simulated terminals would otherwise each hold theirs open.
   */
  closeIdleConnections(): void {
    this.hubs.closeIdle();
  }

  /** The hub the next request goes to. */
  currentHub(): string {
    return this.hubs.choose().base.href;
  }

  /**
   * A refusal that is the operator's order: disabled or retired puts the terminal out of service (the
   * loops keep asking, backing off, so that an enable is seen at the next contact); retiring asks for
   * the journal to be pushed now.
   */
  private noteHubOrder(error: KioskError): void {
    if (error.code === 'TERMINAL_DISABLED' || error.code === 'TERMINAL_RETIRED') {
      if (this.hubOrder?.code !== error.code)
        log.warn({ code: error.code, msg2: error.message }, 'the hub took this terminal out of service');
      this.hubOrder = error.toPayload();
    } else if (error.code === 'TERMINAL_RETIRING' && !this.retired) this.pushSoon();
  }

  /** The hub answered normally: an earlier disable was lifted. */
  private noteHubAccepts(): void {
    if (!this.retired && this.hubOrder) {
      log.info('the hub put this terminal back in service');
      this.hubOrder = null;
    }
  }

  private async retire(): Promise<void> {
    if (this.retired) return;
    log.warn('retire ordered by the hub and the journal is acknowledged: wiping personal data');
    await this.o.onRetire?.();
    this.retired = true;
    this.hubOrder = { code: 'TERMINAL_RETIRED', message: 'this terminal was retired by the hub operator' };
  }

  /** Keeps the latest refused attack until the client stops (it is not cleared by a later success). */
  private raiseAlarm(error: KioskError): void {
    if (!ALARM_CODES.has(error.code)) return;
    this.alarm = {
      code: error.code,
      message: error.message.slice(0, 300),
      at: new Date(this.clock.now()).toISOString(),
    };
    log.error({ code: error.code, msg2: error.message }, 'sync alarm: an answer was refused as an attack');
  }

  private statusReport(): PushBody['status'] {
    const s = this.status();
    const feeds: Record<string, number> = {};
    for (const f of this.feeds) feeds[f] = this.o.sinks[f]!.position().seq;
    return {
      version: this.o.version,
      queueLength: s.push.queueLength,
      dataAgeSeconds: s.dataAgeSeconds,
      feeds,
      lastError: s.lastError ? `${s.lastError.code}: ${s.lastError.message}`.slice(0, 200) : null,
      alarm: s.alarm,
      configVersion: this.o.configVersion?.() ?? this.o.remoteConfig?.version() ?? null,
    };
  }
}
