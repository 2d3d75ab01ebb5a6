// The sync module's two loops, pull and push, each supervised by base/supervisor.ts: a loop's first
// round and every retry are the supervisor's `open` (so a failed round backs off with full jitter),
// later rounds run on a timer while the loop is `ready`, and show `running` while they work. A failing
// upload never holds up a download: each loop has its own supervisor and backoff.
import type { Clock } from '../../../base/clock.js';
import {
  Supervisor,
  type BackoffOptions,
  type Health,
  type SupervisedState,
} from '../../../base/supervisor.js';

export type Loop = 'pull' | 'push';

/**
 * The wait after a failed pull or push round: full jitter under a ceiling that starts at 2 s and
 * doubles, never beyond the loop's own interval (a retry is never later than the next regular round).
 */
export function syncBackoff(intervalMs: number, random?: () => number): BackoffOptions {
  return { baseMs: 2_000, capMs: intervalMs, ...(random ? { random } : {}) };
}

/** The wait between failed long polls of the peers feed. */
export const peerPollBackoff: BackoffOptions = { baseMs: 1_000, capMs: 30_000 };

/** Which of two parts' states speaks for both: a fault first, then an attempt, then work. */
const severity: Record<SupervisedState, number> = {
  failed: 5,
  retrying: 4,
  starting: 3,
  running: 2,
  ready: 1,
  stopped: 0,
};

export interface LoopSpec {
  intervalMs: number;
  /** One round: resolves when it worked, throws (typed) when it did not. */
  run: () => Promise<void>;
}

export class SyncLoops {
  private readonly loops: Partial<Record<Loop, Supervisor>> = {};
  private readonly nextRound: Partial<Record<Loop, unknown>> = {};
  private active = false;
  /** Rounds (periodic, retries, on demand) in progress: health shows `running`. */
  private rounds = 0;

  constructor(
    private readonly clock: Clock,
    specs: Partial<Record<Loop, LoopSpec>>,
    random: () => number,
    onChange: () => void,
  ) {
    for (const which of ['pull', 'push'] as const) {
      const spec = specs[which];
      if (!spec) continue;
      const loop = new Supervisor({
        name: `sync ${which}`,
        errorCode: 'SYNC_UNREACHABLE',
        clock,
        backoff: syncBackoff(spec.intervalMs, random),
        open: () => this.round(which, spec),
        close: () => this.cancelNextRound(which),
      });
      loop.on('state', onChange);
      this.loops[which] = loop;
    }
  }

  start(): void {
    this.active = true;
    for (const loop of Object.values(this.loops)) void loop.start();
  }

  async stop(): Promise<void> {
    this.active = false;
    await Promise.all(Object.values(this.loops).map((loop) => loop.stop()));
  }

  /**
   * Sync as one supervised part: `running` while a pull or push round is under way, otherwise the
   * state of whichever loop is worse off (a failing push shows even while pulls work), with its error.
   */
  health(): Health {
    const parts = Object.values(this.loops).map((loop) => loop.health());
    const worst = parts.reduce((a, b) => (severity[b.state] > severity[a.state] ? b : a));
    const retryAts = parts.map((p) => p.retryAt).filter((t): t is number => t !== null);
    return {
      name: 'sync',
      state: this.rounds > 0 && worst.state !== 'stopped' ? 'running' : worst.state,
      error: worst.error,
      failures: Math.max(...parts.map((p) => p.failures)),
      retryAt: retryAts.length > 0 ? Math.min(...retryAts) : null,
      since: worst.since,
    };
  }

  /** Skips the backoff of a failing pull or push loop: the next round runs now. */
  retryNow(): void {
    for (const loop of Object.values(this.loops)) loop.retryNow();
  }

  /** Counts `work` as a round (health `running`) while it runs. */
  async inRound<T>(work: () => Promise<T>): Promise<T> {
    this.rounds++;
    try {
      return await work();
    } finally {
      this.rounds--;
    }
  }

  /** One round; on success the next one is scheduled after the interval. */
  private async round(which: Loop, spec: LoopSpec): Promise<void> {
    await this.inRound(spec.run);
    if (!this.active) return;
    this.cancelNextRound(which);
    this.nextRound[which] = this.clock.setTimeout(() => {
      this.nextRound[which] = undefined;
      void this.periodicRound(which, spec);
    }, spec.intervalMs);
  }

  private async periodicRound(which: Loop, spec: LoopSpec): Promise<void> {
    const loop = this.loops[which]!;
    const done = loop.beginWork();
    try {
      await this.round(which, spec);
    } catch (error) {
      done();
      // Back off: the supervisor retries the round (its `open`) after a full-jitter wait.
      await loop.lost(error);
    } finally {
      done();
    }
  }

  private cancelNextRound(which: Loop): void {
    const timer = this.nextRound[which];
    if (timer !== undefined) this.clock.clearTimeout(timer);
    this.nextRound[which] = undefined;
  }
}
