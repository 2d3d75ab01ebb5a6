// The hub's two write coalescers, so that a thousand terminals do not cost a thousand fsyncs: terminal
// sightings are written once a second, and journal pushes that arrive together share one durable
// transaction. Apart from server.ts because they are about the store's write load, not about HTTP.
import { performance } from 'node:perf_hooks';
import { getLogger } from '../base/log.js';
import type { TerminalStatusReport } from '../protocol/sync.js';
import type { HubStore, JournalAcceptance, JournalPush } from './store.js';

const log = getLogger('hub');

/** Last seen and reported status per terminal, written in one transaction every second. */
export class Sightings {
  private readonly seen = new Map<
    string,
    { terminalId: string; at: number; status: TerminalStatusReport | null }
  >();
  private readonly flusher: NodeJS.Timeout;

  constructor(
    private readonly store: HubStore,
    private readonly now: () => number,
  ) {
    this.flusher = setInterval(() => this.flush(), 1_000);
    this.flusher.unref();
  }

  /** A request from this terminal; without a status the last reported one is kept. */
  note(terminalId: string, status: TerminalStatusReport | null): void {
    const prior = this.seen.get(terminalId);
    this.seen.set(terminalId, { terminalId, at: this.now(), status: status ?? prior?.status ?? null });
  }

  /** Writes what is pending now (before the status page reads, and at close). */
  flush(): void {
    if (this.seen.size === 0) return;
    const batch = [...this.seen.values()];
    this.seen.clear();
    try {
      this.store.noteSeenMany(batch);
    } catch (error) {
      log.error({ err: error }, 'could not record terminal sightings');
    }
  }

  /** Stops the timer; the caller flushes. */
  stop(): void {
    clearInterval(this.flusher);
  }
}

/**
 * Group commit: pushes that arrive together share one durable transaction (one fsync); each is answered
 * only after that commit. `onPresence` runs after a commit that changed presence.
 *
 * A group is held open after its first push (or until `maxGroup` pushes wait) for ten times as long as
 * the last commit took, between `minWindowMs` and `maxWindowMs`: a commit blocks the event loop for
 * milliseconds whatever it holds (the WAL sync; longer on a busy disk), and pushes arrive milliseconds
 * apart, so committing at the next turn of the loop made groups of one or two (a fleet's hub spent 40 %
 * of a round there). So the commits' fixed cost stays near a tenth of the hub's time, and a push waits
 * at most `maxWindowMs` longer for its answer (a terminal's sync does its pulls meanwhile).
 */
export class JournalGroupCommit {
  private queue: Array<{
    item: JournalPush;
    resolve: (r: JournalAcceptance) => void;
    reject: (e: Error) => void;
  }> = [];
  private timer: NodeJS.Timeout | null = null;
  private lastCommitMs = 0;

  constructor(
    private readonly store: HubStore,
    private readonly onPresence: () => void,
    private readonly o: { minWindowMs: number; maxWindowMs: number; maxGroup: number } = {
      minWindowMs: 5,
      maxWindowMs: 50,
      maxGroup: 256,
    },
  ) {}

  /** How long the next group stays open. */
  get windowMs(): number {
    return Math.min(this.o.maxWindowMs, Math.max(this.o.minWindowMs, 10 * this.lastCommitMs));
  }

  push(item: JournalPush): Promise<JournalAcceptance> {
    return new Promise<JournalAcceptance>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.o.maxGroup) {
        if (this.timer) clearTimeout(this.timer);
        this.timer = null;
        setImmediate(() => this.commit());
      } else if (this.queue.length === 1) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.commit();
        }, this.windowMs);
      }
    });
  }

  private commit(): void {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    let results: Array<JournalAcceptance | Error>;
    const t0 = performance.now();
    try {
      results = this.store.acceptJournalMany(batch.map((b) => b.item));
    } catch (error) {
      for (const b of batch) b.reject(error as Error);
      return;
    } finally {
      this.lastCommitMs = performance.now() - t0;
    }
    let presence = false;
    results.forEach((r, i) => {
      if (r instanceof Error) batch[i]!.reject(r);
      else {
        presence ||= r.presence.length > 0;
        batch[i]!.resolve(r);
      }
    });
    if (presence) this.onPresence();
  }
}
