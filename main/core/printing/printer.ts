// The terminal's printer: a supervised part (base/supervisor.ts) over a backend (CUPS, a folder). Its
// state is a visible health like the reader's: out of paper or a stopped queue is `retrying` with the
// reason, never a crash. `print` queues a document tagged with its session and waits until the job is out
// of the printer, stopped, or too slow; a job that does not complete is cancelled and purged, so the
// queue never keeps a person's document for the next one. `forgetSession` cancels whatever a session
// still has queued when it ends.
import type { Clock } from '../../../base/clock.js';
import { systemClock } from '../../../base/clock.js';
import { KioskError, toKioskError } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import { Supervisor, type Health } from '../../../base/supervisor.js';
import type { PrintBackend, PrintJobRequest } from './backend.js';

const log = getLogger('printer');
const POLL_MS = 200;

export interface PrinterOptions {
  backend: PrintBackend;
  clock?: Clock;
  completionTimeoutMs: number;
  /** How often the printer's state is checked while it works. */
  checkEveryMs?: number;
  /** How often a queued job's state is asked while waiting for it. */
  jobPollMs?: number;
}

export type PrintOutcome =
  { ok: true; jobId: string } | { ok: false; jobId: string | null; error: KioskError; paperOut: boolean };

export class Printer {
  readonly supervisor: Supervisor;
  private readonly clock: Clock;
  /** Job id → the session it belongs to, while queued. */
  private readonly queued = new Map<string, string | null>();

  constructor(private readonly options: PrinterOptions) {
    this.clock = options.clock ?? systemClock;
    this.supervisor = new Supervisor({
      name: 'printer',
      open: () => options.backend.check(),
      backoff: { baseMs: 1000, capMs: 30_000 },
      errorCode: 'PRINTER_UNAVAILABLE',
      poll: { everyMs: options.checkEveryMs ?? 5000, check: () => options.backend.check() },
      clock: this.clock,
    });
  }

  get backendName(): string {
    return this.options.backend.name;
  }

  start(): Promise<unknown> {
    return this.supervisor.start();
  }

  stop(): Promise<void> {
    return this.supervisor.stop();
  }

  health(): Health {
    return this.supervisor.health();
  }

  get ready(): boolean {
    const s = this.supervisor.state;
    return s === 'ready' || s === 'running';
  }

  /**
   * Prints and waits. `stillWanted` is asked between polls: when it turns false (the session ended) the
   * job is cancelled and the outcome is SESSION_ENDED.
   */
  async print(job: PrintJobRequest, stillWanted: () => boolean = () => true): Promise<PrintOutcome> {
    const { backend } = this.options;
    // The state the screen shows may be a poll behind: ask the printer now.
    try {
      await backend.check();
    } catch (error) {
      const typed = toKioskError(error, 'PRINTER_UNAVAILABLE');
      void this.supervisor.lost(typed);
      return { ok: false, jobId: null, error: typed, paperOut: typed.detail?.paperOut === true };
    }
    const done = this.supervisor.beginWork();
    let jobId: string | null = null;
    try {
      jobId = await backend.submit(job);
      this.queued.set(jobId, job.sessionId);
      log.info({ jobId, title: job.title }, 'print job queued');
      const deadline = this.clock.now() + this.options.completionTimeoutMs;
      for (;;) {
        const state = await backend.jobState(jobId);
        if (state === 'completed') {
          this.queued.delete(jobId);
          return { ok: true, jobId };
        }
        if (state === 'gone') {
          this.queued.delete(jobId);
          return {
            ok: false,
            jobId,
            error: new KioskError('PRINT_FAILED', 'the job was cancelled or aborted'),
            paperOut: false,
          };
        }
        if (state === 'stopped') {
          let reason: KioskError;
          try {
            await backend.check();
            reason = new KioskError('PRINT_FAILED', 'the printer stopped with the job');
          } catch (error) {
            reason = new KioskError(
              'PRINT_FAILED',
              toKioskError(error).message,
              toKioskError(error).detail as Record<string, unknown>,
            );
            void this.supervisor.lost(error);
          }
          await this.cancelJob(jobId);
          return { ok: false, jobId, error: reason, paperOut: reason.detail?.paperOut === true };
        }
        if (!stillWanted()) {
          await this.cancelJob(jobId);
          return {
            ok: false,
            jobId,
            error: new KioskError('SESSION_ENDED', 'the session ended while printing'),
            paperOut: false,
          };
        }
        if (this.clock.now() > deadline) {
          await this.cancelJob(jobId);
          return {
            ok: false,
            jobId,
            error: new KioskError('PRINT_FAILED', 'the job did not complete in time'),
            paperOut: false,
          };
        }
        await new Promise((resolve) =>
          this.clock.setTimeout(() => resolve(undefined), this.options.jobPollMs ?? POLL_MS),
        );
      }
    } catch (error) {
      if (jobId) await this.cancelJob(jobId);
      return { ok: false, jobId, error: toKioskError(error, 'PRINT_FAILED'), paperOut: false };
    } finally {
      done();
    }
  }

  /** Cancels every job a session still has queued (the session ended). */
  async forgetSession(sessionId: string): Promise<void> {
    const mine = [...this.queued].filter(([, s]) => s === sessionId).map(([id]) => id);
    await Promise.all(mine.map((id) => this.cancelJob(id)));
  }

  /** Jobs still in the queue (the backend's word, not this process's memory). */
  pendingJobs(): Promise<string[]> {
    return this.options.backend.pendingJobs();
  }

  private async cancelJob(jobId: string): Promise<void> {
    this.queued.delete(jobId);
    try {
      await this.options.backend.cancel(jobId);
    } catch (error) {
      log.warn({ jobId, err: toKioskError(error).message }, 'could not cancel a print job');
    }
  }
}
