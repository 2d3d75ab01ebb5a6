// The one supervision primitive for hardware and connections: a part (reader service, HSM, HID device,
// core process, sync loop) is in one of a few named states, keeps its last error, retries on its own
// with exponential backoff and full jitter, and can be told to retry now. Parts differ only in how
// they open and how they notice a loss; the state machine and the timing are this file's.
//
// Full jitter (a uniform wait in [0, min(cap, base·2ⁿ)]) keeps a fleet of terminals that lost the same
// hub or a lane of devices that lost the same USB hub from retrying in lockstep.
import { EventEmitter } from 'node:events';
import type { KioskError } from './errors.js';
import { toKioskError, type ErrorCode, type ErrorPayload } from './errors.js';
import { systemClock, type Clock } from './clock.js';

/**
 * stopped: not started, or stopped on purpose;
 * starting: the first attempt is running;
 * ready: working;
 * running: working and busy with a unit of work (a sync round, a device command) right now;
 * retrying: lost or never reached; the next attempt is scheduled (`retryAt`);
 * failed: gave up (a configuration that cannot work, or a retry limit reached) until `retryNow()`.
 */
export const SupervisedStates = ['stopped', 'starting', 'ready', 'running', 'retrying', 'failed'] as const;
export type SupervisedState = (typeof SupervisedStates)[number];

/** What a status view needs to know of any supervised part. */
export interface Health {
  name: string;
  state: SupervisedState;
  /** The error that put the part where it is; null while it works. */
  error: ErrorPayload | null;
  /** Failed attempts since it last worked. */
  failures: number;
  /** When the next attempt runs (epoch ms), while retrying. */
  retryAt: number | null;
  /** When it last became ready (epoch ms). */
  since: number | null;
}

/** Anything that can report its health: every device, the stores, sync. */
export interface Supervised {
  health(): Health;
  /** Skips the rest of the backoff wait (staff "retry now", or a hot-plug notice). */
  retryNow(): void;
}

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** A source of [0, 1) numbers: seeded in tests so a failure can be replayed. */
  random?: () => number;
}

/** Exponential backoff with full jitter: after n failures, wait uniformly in [0, min(cap, base·2ⁿ⁻¹)]. */
export class Backoff {
  private failures = 0;
  private readonly random: () => number;

  constructor(private readonly options: BackoffOptions) {
    this.random = options.random ?? Math.random;
  }

  /** Records a failure and returns how long to wait before the next attempt. */
  fail(): number {
    this.failures++;
    return this.delayFor(this.failures);
  }

  /** The wait after `failures` consecutive failures (drawn anew on each call). */
  delayFor(failures: number): number {
    const exponent = Math.min(Math.max(failures - 1, 0), 30);
    const ceiling = Math.min(this.options.capMs, this.options.baseMs * 2 ** exponent);
    return Math.round(this.random() * ceiling);
  }

  reset(): void {
    this.failures = 0;
  }

  get count(): number {
    return this.failures;
  }
}

export interface SupervisorOptions {
  name: string;
  /** Opens the part; resolves when it works, throws (a KioskError, ideally) when it does not. */
  open: () => Promise<void>;
  /** Releases what `open` took, after a loss and on stop. Errors are ignored: the part is gone anyway. */
  close?: () => Promise<void> | void;
  backoff: BackoffOptions;
  /** Give up after this many consecutive failures (state `failed`); unlimited when absent. */
  maxFailures?: number;
  /**
   * Failures that retrying cannot fix, or that retrying would make worse (a refused PIN counts against
   * the token's PIN counter): the part is `failed` at once, until `retryNow()`.
   */
  giveUpOn?: (error: KioskError) => boolean;
  /** The code a non-KioskError failure is reported under. */
  errorCode?: ErrorCode;
  /**
   * A part that only counts as recovered once it stayed up this long (a process that crashes right
   * after it started): the failure count, and so the backoff, is kept across a shorter life.
   */
  stableAfterMs?: number;
  /**
   * For parts that cannot report their own loss (a HID device without input reports): while working,
   * `check` runs every `everyMs`; when it throws, the part is lost with that error.
   */
  poll?: { everyMs: number; check: () => Promise<void> };
  clock?: Clock;
}

export interface SupervisorEvents {
  state: [Health];
}

/**
 * Runs `open` until it works, then waits for `lost(error)` and starts over. One instance per part.
 * Emits 'state' with the new health on every transition.
 */
export class Supervisor extends EventEmitter<SupervisorEvents> implements Supervised {
  private current: SupervisedState = 'stopped';
  private lastError: KioskError | null = null;
  private readonly backoff: Backoff;
  private readonly clock: Clock;
  private timer: unknown = null;
  private pollTimer: unknown = null;
  private retryAt: number | null = null;
  private readySince: number | null = null;
  private attempt = 0;
  private busy = 0;
  /** Between a loss and its scheduled retry (closing what was open). */
  private losing = false;
  private retryRequested = false;

  constructor(private readonly options: SupervisorOptions) {
    super();
    this.backoff = new Backoff(options.backoff);
    this.clock = options.clock ?? systemClock;
  }

  get name(): string {
    return this.options.name;
  }

  get state(): SupervisedState {
    return this.current;
  }

  get error(): KioskError | null {
    return this.lastError;
  }

  health(): Health {
    return {
      name: this.options.name,
      state: this.current,
      error: this.lastError?.toPayload() ?? null,
      failures: this.backoff.count,
      retryAt: this.retryAt,
      since: this.readySince,
    };
  }

  /** Starts supervising; resolves after the first attempt, whatever its outcome. */
  async start(): Promise<SupervisedState> {
    if (this.current !== 'stopped') return this.current;
    this.set('starting');
    await this.tryOpen();
    return this.current;
  }

  /**
   * The part was lost while working (a read failed, the device vanished): close it and retry. Resolves
   * once the part is closed and the retry is scheduled.
   */
  async lost(error: unknown): Promise<void> {
    if (this.current !== 'ready' && this.current !== 'running') return;
    this.lastError = toKioskError(error, this.options.errorCode ?? 'INTERNAL');
    const stable = this.options.stableAfterMs;
    if (stable !== undefined && this.readySince !== null && this.clock.now() - this.readySince >= stable)
      this.backoff.reset();
    this.readySince = null;
    this.busy = 0;
    this.cancelPoll();
    // Leaves ready/running at once (the 'retrying' event follows with its time), so that a second
    // report of the same loss is ignored.
    this.current = 'retrying';
    this.losing = true;
    await this.closeQuietly();
    this.losing = false;
    // stop() may have run while closing.
    if ((this.current as SupervisedState) === 'stopped') return;
    this.scheduleRetry();
    if (this.retryRequested) {
      this.retryRequested = false;
      this.retryNow();
    }
  }

  /**
   * Resolves with the state once no attempt is running and no loss is being handled: the outcome of
   * the current attempt, for a caller that needs the part now.
   */
  settled(): Promise<SupervisedState> {
    const calm = (state: SupervisedState) => state !== 'starting' && !this.losing;
    if (calm(this.current)) return Promise.resolve(this.current);
    return new Promise((resolve) => {
      const onState = (health: Health) => {
        if (!calm(health.state)) return;
        this.off('state', onState);
        resolve(health.state);
      };
      this.on('state', onState);
    });
  }

  retryNow(): void {
    if (this.losing) {
      // Still closing after a loss: retry as soon as that is done.
      this.retryRequested = true;
      return;
    }
    if (this.current !== 'retrying' && this.current !== 'failed') return;
    this.cancelTimer();
    if (this.current === 'failed') this.backoff.reset();
    void this.tryOpen();
  }

  /**
   * Marks a unit of work (a sync round, a command) so that health shows `running` meanwhile; returns
   * the function that ends it. Work only runs on a part that is ready.
   */
  beginWork(): () => void {
    if (this.current !== 'ready' && this.current !== 'running') return () => undefined;
    this.busy++;
    if (this.current === 'ready') this.set('running');
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.busy = Math.max(0, this.busy - 1);
      if (this.busy === 0 && this.current === 'running') this.set('ready');
    };
  }

  async stop(): Promise<void> {
    this.cancelTimer();
    this.cancelPoll();
    const wasOpen = this.current === 'ready' || this.current === 'running';
    this.current = 'stopped';
    this.losing = false;
    this.retryRequested = false;
    this.busy = 0;
    this.readySince = null;
    if (wasOpen) await this.closeQuietly();
    this.emit('state', this.health());
  }

  private async tryOpen(): Promise<void> {
    const attempt = ++this.attempt;
    this.retryAt = null;
    if (this.current !== 'starting') this.set('starting');
    try {
      await this.options.open();
      if (attempt !== this.attempt || this.current === 'stopped') {
        // Stopped (or superseded) while opening: give back what this attempt took.
        await this.closeQuietly();
        return;
      }
      if (this.options.stableAfterMs === undefined) this.backoff.reset();
      this.lastError = null;
      this.readySince = this.clock.now();
      this.set('ready');
      this.schedulePoll();
    } catch (error) {
      if (attempt !== this.attempt || this.current === 'stopped') return;
      this.lastError = toKioskError(error, this.options.errorCode ?? 'INTERNAL');
      await this.closeQuietly();
      this.scheduleRetry();
    }
  }

  private scheduleRetry(): void {
    if (this.current === 'stopped') return;
    const delay = this.backoff.fail();
    const hopeless = this.lastError !== null && this.options.giveUpOn?.(this.lastError) === true;
    if (
      hopeless ||
      (this.options.maxFailures !== undefined && this.backoff.count >= this.options.maxFailures)
    ) {
      this.retryAt = null;
      this.set('failed');
      return;
    }
    this.retryAt = this.clock.now() + delay;
    this.set('retrying');
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      void this.tryOpen();
    }, delay);
  }

  private async closeQuietly(): Promise<void> {
    try {
      await this.options.close?.();
    } catch {
      // The part is already gone; what matters is the next open.
    }
  }

  private schedulePoll(): void {
    const poll = this.options.poll;
    if (!poll) return;
    this.pollTimer = this.clock.setTimeout(() => {
      this.pollTimer = null;
      void this.runPoll(poll.check);
    }, poll.everyMs);
  }

  private async runPoll(check: () => Promise<void>): Promise<void> {
    const since = this.readySince;
    try {
      await check();
    } catch (error) {
      if (this.readySince === since) await this.lost(error);
      return;
    }
    if (this.readySince === since && (this.current === 'ready' || this.current === 'running'))
      this.schedulePoll();
  }

  private cancelPoll(): void {
    if (this.pollTimer !== null) this.clock.clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  private cancelTimer(): void {
    if (this.timer !== null) this.clock.clearTimeout(this.timer);
    this.timer = null;
    this.retryAt = null;
  }

  private set(state: SupervisedState): void {
    this.current = state;
    this.emit('state', this.health());
  }
}

/** The first required part that is not working, as the reason the terminal is out of service. */
export function firstFault(parts: readonly Health[]): ErrorPayload | null {
  for (const part of parts) {
    if (part.state === 'ready' || part.state === 'running') continue;
    return (
      part.error ?? {
        code: 'INTERNAL',
        message: `${part.name} is ${part.state === 'stopped' ? 'not started' : part.state}`,
      }
    );
  }
  return null;
}
