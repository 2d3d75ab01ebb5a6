// The terminal's sync module: pulls each feed by sequence (delta batches or a snapshot), verifies every
// batch against the pinned hub key before a store sees it, pushes the journal since the watermark, and
// keeps a status for the UI. Pull and push run on separate timers with their own backoff, so a failing
// upload never holds up a download.
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import http from 'node:http';
import https from 'node:https';
import { KioskError, toKioskError, type ErrorPayload } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import type { RequestSigner } from '../../../protocol/http-signature.js';
import {
  Done,
  Feeds,
  FrameType,
  Hello,
  PROTOCOL_VERSION,
  PushReply,
  ROWS_CHUNK_BYTES,
  type FeedName,
  type PushBody,
} from '../../../protocol/sync.js';
import type { FeedSink, JournalSource } from './sinks.js';
import { frames, parseJsonPayload, type Frame } from '../../../protocol/frames.js';
import { errorFrom, exchange, readAll } from './transport.js';
import { Backoff } from './backoff.js';

const log = getLogger('sync');

export interface SyncClientOptions {
  hubUrl: string;
  signer: RequestSigner;
  /** One sink per feed to sync; each verifies the hub's signatures against the pinned key itself. */
  sinks: Partial<Record<FeedName, FeedSink>>;
  /** Where snapshot rows are staged while they stream (default: the OS temp folder). */
  stagingDir?: string;
  journal?: JournalSource | null;
  version?: string;
  pullIntervalMs?: number;
  pushIntervalMs?: number;
  /** Long-poll the peers feed with this wait (seconds) for global anti-passback; 0 turns it off. */
  peerWaitSeconds?: number;
  maxSkewSeconds?: number;
  idleTimeoutMs?: number;
  /** Most batches asked for per request; the client asks again while the hub says `more`. */
  maxBatchesPerRequest?: number;
  pushBatchSize?: number;
  /** TLS: extra CA certificate(s) for an https hub with a private CA. */
  ca?: Buffer;
  now?: () => number;
  random?: () => number;
}

export interface FeedStatus {
  sequence: number;
  lastSuccessAt: number | null;
  lastAttemptAt: number | null;
  lastError: ErrorPayload | null;
  failures: number;
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
}

export interface PullResult {
  feed: FeedName;
  /** Hub time of the last answer: the data is current as of then. */
  hubTime: number | null;
  applied: number;
  snapshot: boolean;
  sequence: number;
}

export interface PushResult {
  sent: number;
  acked: number;
  duplicates: number;
}

export interface SyncReport {
  pulls: Partial<Record<FeedName, PullResult | ErrorPayload>>;
  push: PushResult | ErrorPayload | null;
  ok: boolean;
}

type Listener = (status: SyncStatus) => void;

export class SyncClient {
  private readonly o: Required<Omit<SyncClientOptions, 'journal' | 'ca' | 'sinks' | 'signer' | 'hubUrl'>> &
    SyncClientOptions;
  private readonly base: URL;
  private readonly agent: http.Agent;
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
  private online = false;
  private lastError: ErrorPayload | null = null;
  private running = false;
  private timers = new Set<NodeJS.Timeout>();
  private listeners = new Set<Listener>();
  private readonly pullBackoff: Backoff;
  private readonly pushBackoff: Backoff;
  private peerLoop: Promise<void> | null = null;

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
      stagingDir: tmpdir(),
      now: Date.now,
      random: Math.random,
      ...options,
    };
    try {
      this.base = new URL(options.hubUrl);
    } catch {
      throw new KioskError('CONFIG_INVALID', `sync.hubUrl is not a URL: ${options.hubUrl}`);
    }
    if (this.base.protocol !== 'http:' && this.base.protocol !== 'https:')
      throw new KioskError('CONFIG_INVALID', 'sync.hubUrl must be http: or https:');
    this.agent =
      this.base.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, maxSockets: 4, ...(options.ca ? { ca: options.ca } : {}) })
        : new http.Agent({ keepAlive: true, maxSockets: 4 });
    this.feeds = Feeds.filter((f) => options.sinks[f] !== undefined);
    for (const f of this.feeds) {
      const sink = options.sinks[f]!;
      this.feedState.set(f, {
        sequence: sink.position().seq,
        lastSuccessAt: sink.freshness(this.o.now()).lastSyncAt,
        lastAttemptAt: null,
        lastError: null,
        failures: 0,
      });
    }
    this.pullBackoff = new Backoff(1_000, this.o.pullIntervalMs, this.o.random);
    this.pushBackoff = new Backoff(1_000, this.o.pushIntervalMs, this.o.random);
  }

  onStatus(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  status(): SyncStatus {
    const now = this.o.now();
    const feeds: Partial<Record<FeedName, FeedStatus>> = {};
    let oldestAgeMs: number | null = null;
    let all = this.feeds.some((f) => f !== 'peer-entries');
    for (const f of this.feeds) {
      const s = { ...this.feedState.get(f)!, sequence: this.o.sinks[f]!.position().seq };
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
    const [pulls, push] = await Promise.all([pullPromise, pushPromise]);
    const report: SyncReport = { pulls: Object.fromEntries(pulls), push, ok: true };
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
    if (!this.o.journal || this.pushSoonTimer) return;
    this.pushSoonTimer = setTimeout(() => {
      this.pushSoonTimer = null;
      this.push().catch(() => undefined);
    }, delayMs);
    this.pushSoonTimer.unref?.();
  }

  private pushSoonTimer: NodeJS.Timeout | null = null;

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule('pull', 0);
    if (this.o.journal) this.schedule('push', 0);
    if (this.o.peerWaitSeconds > 0 && this.o.sinks['peer-entries']) this.peerLoop = this.runPeerLoop();
    this.emit();
  }

  /** Stops timers and in-flight requests; final (construct a new client to sync again). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.pushSoonTimer) clearTimeout(this.pushSoonTimer);
    this.pushSoonTimer = null;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.agent.destroy();
    await this.peerLoop?.catch(() => undefined);
    await Promise.allSettled([...this.feedLocks.values(), this.pushLock]);
    this.emit();
  }

  // ---- timers -------------------------------------------------------------------------------------

  private schedule(which: 'pull' | 'push', delayMs: number): void {
    if (!this.running) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.tick(which);
    }, delayMs);
    timer.unref?.();
    this.timers.add(timer);
  }

  private async tick(which: 'pull' | 'push'): Promise<void> {
    if (which === 'pull') {
      const feeds = this.feeds.filter((f) => !(f === 'peer-entries' && this.peerLoop));
      const results = await Promise.allSettled(feeds.map((f) => this.pull(f)));
      const failed = results.some((r) => r.status === 'rejected');
      this.schedule(
        'pull',
        failed ? this.pullBackoff.fail() : (this.pullBackoff.reset(), this.o.pullIntervalMs),
      );
    } else {
      try {
        await this.push();
        this.pushBackoff.reset();
        this.schedule('push', this.o.pushIntervalMs);
      } catch {
        this.schedule('push', this.pushBackoff.fail());
      }
    }
  }

  private async runPeerLoop(): Promise<void> {
    const backoff = new Backoff(500, 30_000, this.o.random);
    while (this.running) {
      try {
        await this.pull('peer-entries', this.o.peerWaitSeconds);
        backoff.reset();
      } catch {
        if (!this.running) break;
        await new Promise((r) => setTimeout(r, backoff.fail()).unref?.());
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

  private noteHubTime(hubTime: number): void {
    this.skewMs = this.o.now() - hubTime;
  }

  // ---- pull ---------------------------------------------------------------------------------------

  private async pullUnlocked(feed: FeedName, waitSeconds: number): Promise<PullResult> {
    const state = this.feedState.get(feed);
    const sink = this.o.sinks[feed];
    if (!state || !sink) throw new KioskError('INVALID_REQUEST', `feed ${feed} is not synced here`);
    state.lastAttemptAt = this.o.now();
    const result: PullResult = {
      feed,
      hubTime: null,
      applied: 0,
      snapshot: false,
      sequence: sink.position().seq,
    };
    try {
      for (let round = 0; ; round++) {
        const more = await this.pullOnce(feed, sink, result, round === 0 ? waitSeconds : 0);
        if (!more) break;
      }
      const now = this.o.now();
      state.lastSuccessAt = now;
      state.lastError = null;
      state.failures = 0;
      if (result.hubTime !== null) sink.markSynced(now, result.hubTime);
      this.online = true;
      result.sequence = sink.position().seq;
      return result;
    } catch (error) {
      const typed = toKioskError(error);
      state.lastError = typed.toPayload();
      state.failures++;
      this.lastError = typed.toPayload();
      if (typed.code === 'SYNC_UNREACHABLE') this.online = false;
      log.warn({ feed, code: typed.code, msg2: typed.message }, 'pull failed');
      throw typed;
    } finally {
      state.sequence = sink.position().seq;
      this.emit();
    }
  }

  /** One request; returns true when the hub has more batches to give. */
  private async pullOnce(feed: FeedName, sink: FeedSink, result: PullResult, wait: number): Promise<boolean> {
    const pos = sink.position();
    let target = `/v1/feeds/${feed}?after=${pos.seq}&max=${this.o.maxBatchesPerRequest}`;
    if (pos.epoch) target += `&epoch=${encodeURIComponent(pos.epoch)}`;
    if (wait > 0) target += `&wait=${wait}`;
    const res = await exchange({
      base: this.base,
      method: 'GET',
      target,
      signer: this.o.signer,
      idleTimeoutMs: this.o.idleTimeoutMs + wait * 1000,
      agent: this.agent,
      ...(this.o.ca ? { ca: this.o.ca } : {}),
    });
    if (res.status !== 200) {
      const err = await errorFrom(res);
      if (typeof err.detail?.hubTime === 'number') this.noteHubTime(err.detail.hubTime);
      throw err;
    }
    const it = frames(res.body)[Symbol.asyncIterator]();
    const next = async (): Promise<Frame> => {
      const r = await it.next();
      if (r.done) throw new KioskError('SYNC_UNREACHABLE', 'answer ended early (connection cut?)');
      return r.value;
    };
    try {
      const first = await next();
      const hello = first.type === FrameType.hello ? Hello.safeParse(parseJsonPayload(first.payload)) : null;
      if (!hello?.success || hello.data.feed !== feed)
        throw new KioskError('SYNC_PROTOCOL', 'bad hello frame');
      this.noteHubTime(hello.data.hubTime);
      result.hubTime = hello.data.hubTime;
      for (;;) {
        const f = await next();
        if (f.type === FrameType.done) {
          const done = Done.safeParse(parseJsonPayload(f.payload));
          if (!done.success) throw new KioskError('SYNC_PROTOCOL', 'bad done frame');
          return done.data.more;
        }
        if (f.type === FrameType.batch) {
          // The store verifies the hub's signature, the sequence and the content before it applies.
          await sink.applyBatch(f.payload);
          result.applied++;
        } else if (f.type === FrameType.manifest) {
          await this.receiveSnapshot(feed, sink, f.payload, next);
          result.snapshot = true;
        } else {
          throw new KioskError('SYNC_PROTOCOL', `unexpected frame type ${f.type}`);
        }
      }
    } finally {
      await it.return?.(undefined);
      res.body.destroy();
    }
  }

  /** Streams the rows into a staging file (bounded memory), then hands manifest + file to the store. */
  private async receiveSnapshot(
    feed: FeedName,
    sink: FeedSink,
    manifest: Buffer,
    next: () => Promise<Frame>,
  ): Promise<void> {
    if (!sink.installSnapshot) throw new KioskError('SYNC_PROTOCOL', `${feed} takes no snapshots`);
    mkdirSync(this.o.stagingDir, { recursive: true });
    const file = join(
      this.o.stagingDir,
      `snapshot-${feed}-${process.pid}-${randomBytes(4).toString('hex')}.rows`,
    );
    const out = createWriteStream(file, { mode: 0o600 });
    const closed = new Promise<void>((resolve, reject) => {
      out.on('close', resolve);
      out.on('error', reject);
    });
    try {
      for (;;) {
        const f = await next();
        if (f.type === FrameType.rowsEnd) break;
        if (f.type !== FrameType.rows || f.payload.length > ROWS_CHUNK_BYTES)
          throw new KioskError('SNAPSHOT_INVALID', 'snapshot rows expected');
        if (!out.write(f.payload)) await once(out, 'drain');
      }
      out.end();
      await closed;
      await sink.installSnapshot(manifest, file);
      log.info({ feed, seq: sink.position().seq }, 'snapshot installed');
    } finally {
      if (!out.closed) out.destroy();
      await closed.catch(() => undefined);
      rmSync(file, { force: true });
    }
  }

  // ---- push ---------------------------------------------------------------------------------------

  private async pushUnlocked(): Promise<PushResult> {
    const journal = this.o.journal;
    if (!journal) throw new KioskError('INVALID_REQUEST', 'no journal to push');
    this.pushState.lastAttemptAt = this.o.now();
    const total: PushResult = { sent: 0, acked: journal.uploadWatermark(), duplicates: 0 };
    try {
      // Always at least one request: an empty push is the terminal's heartbeat and status report.
      for (let first = true; ; first = false) {
        const records = journal.readSince(journal.uploadWatermark(), this.o.pushBatchSize);
        if (!first && records.length === 0) break;
        const body: PushBody = {
          v: PROTOCOL_VERSION,
          terminalId: this.o.signer.keyId,
          records,
          status: this.statusReport(),
        };
        const bytes = gzipSync(Buffer.from(JSON.stringify(body), 'utf8'));
        const res = await exchange({
          base: this.base,
          method: 'POST',
          target: '/v1/journal',
          body: bytes,
          contentType: 'application/json',
          contentEncoding: 'gzip',
          signer: this.o.signer,
          idleTimeoutMs: this.o.idleTimeoutMs,
          agent: this.agent,
          ...(this.o.ca ? { ca: this.o.ca } : {}),
        });
        if (res.status !== 200) {
          const err = await errorFrom(res);
          if (typeof err.detail?.hubTime === 'number') this.noteHubTime(err.detail.hubTime);
          throw err;
        }
        const parsed = PushReply.safeParse(JSON.parse((await readAll(res.body, 64 * 1024)).toString('utf8')));
        if (!parsed.success) throw new KioskError('SYNC_PROTOCOL', 'bad push answer');
        this.noteHubTime(parsed.data.hubTime);
        const lastSent = records.length > 0 ? records[records.length - 1]!.seq : journal.uploadWatermark();
        // The hub acknowledges the highest gap-free sequence it holds; never move past what was sent.
        const acked = Math.min(parsed.data.acked, lastSent);
        if (acked > journal.uploadWatermark()) journal.markUploaded(acked);
        total.sent += records.length;
        total.duplicates += parsed.data.duplicates;
        total.acked = journal.uploadWatermark();
        if (records.length < this.o.pushBatchSize) break;
        if (acked < lastSent)
          throw new KioskError(
            'SYNC_PROTOCOL',
            `hub acknowledged ${parsed.data.acked} after ${lastSent} was sent`,
          );
      }
      this.pushState.lastSuccessAt = this.o.now();
      this.pushState.lastError = null;
      this.pushState.failures = 0;
      this.online = true;
      return total;
    } catch (error) {
      const typed = toKioskError(error);
      this.pushState.lastError = typed.toPayload();
      this.pushState.failures++;
      this.lastError = typed.toPayload();
      if (typed.code === 'SYNC_UNREACHABLE') this.online = false;
      log.warn({ code: typed.code, msg2: typed.message }, 'push failed');
      throw typed;
    } finally {
      this.emit();
    }
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
    };
  }
}
