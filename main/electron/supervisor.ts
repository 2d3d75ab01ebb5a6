// Keeps the core process alive: spawn, relay calls and events, and when it exits, fail the calls in
// flight, tell the window the core is down, and respawn. The respawn timing is base/supervisor.ts's:
// full-jitter backoff that only starts over once a core stayed up for `stableAfterMs` (a core that
// crashes at start-up must not be respawned in a tight loop). Generic over the child so the tests
// drive it with a fake and fake timers.
import { systemClock, type Clock } from '../../base/clock.js';
import { KioskError, type ErrorPayload } from '../../base/errors.js';
import { Supervisor, type Health, type Supervised } from '../../base/supervisor.js';
import type { Reply } from '../api/wire.js';
import type { CoreToMain, MainToCore } from './core-protocol.js';

export interface CoreChild {
  postMessage(message: MainToCore): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  kill(): boolean;
}

export interface SupervisorOptions {
  spawn(): CoreChild;
  onEvent(channel: string, payload: unknown): void;
  onState(up: boolean, error?: ErrorPayload): void;
  log(message: string, detail?: Record<string, unknown>): void;
  minDelayMs?: number;
  maxDelayMs?: number;
  /** A core that lived this long resets the backoff. */
  stableAfterMs?: number;
  callTimeoutMs?: number;
  now?: () => number;
  /** The backoff's jitter source (seeded in tests). */
  random?: () => number;
}

/**
 * The core process as a supervised part: `ready` (or `running`) once a core process is up and said
 * ready, `starting` while one is spawned but not ready yet, `retrying` between a death and the respawn.
 */
export class CoreSupervisor implements Supervised {
  private child: CoreChild | null = null;
  private ready = false;
  /** The last reason the core gave for not running (fatal message), until it is up again. */
  lastError: ErrorPayload | null = null;
  private stopped = false;
  private nextId = 1;
  private readonly clock: Clock;
  private readonly supervisor: Supervisor;
  private readonly pending = new Map<
    number,
    { resolve(r: Reply<unknown>): void; timer: ReturnType<typeof setTimeout> }
  >();
  readonly spawns: number[] = [];

  constructor(private readonly options: SupervisorOptions) {
    this.clock = options.now ? { ...systemClock, now: options.now } : systemClock;
    this.supervisor = new Supervisor({
      name: 'core',
      clock: this.clock,
      stableAfterMs: options.stableAfterMs ?? 60_000,
      backoff: {
        baseMs: options.minDelayMs ?? 500,
        capMs: options.maxDelayMs ?? 30_000,
        ...(options.random ? { random: options.random } : {}),
      },
      open: async () => this.spawn(),
      close: () => this.killChild(),
    });
  }

  start(): void {
    if (this.stopped || this.child) return;
    void this.supervisor.start();
  }

  health(): Health {
    const health = this.supervisor.health();
    // The process runs, but calls are refused until it says ready.
    if ((health.state === 'ready' || health.state === 'running') && !this.ready)
      return { ...health, state: 'starting' };
    return health;
  }

  /** Respawns now instead of waiting out the backoff. */
  retryNow(): void {
    if (!this.stopped) this.supervisor.retryNow();
  }

  private spawn(): void {
    this.spawns.push(this.clock.now());
    let child: CoreChild;
    try {
      child = this.options.spawn();
    } catch (error) {
      this.options.log('core spawn failed', { error: String(error) });
      throw error;
    }
    this.child = child;
    child.on('message', (message) => this.onMessage(child, message));
    child.on('exit', (code) => this.onExit(child, code));
  }

  private killChild(): void {
    const child = this.child;
    this.child = null;
    this.ready = false;
    if (child) {
      child.postMessage({ t: 'shutdown' });
      child.kill();
    }
  }

  private onMessage(child: CoreChild, raw: unknown): void {
    if (child !== this.child || typeof raw !== 'object' || raw === null) return;
    const message = raw as CoreToMain;
    switch (message.t) {
      case 'ready':
        this.ready = true;
        this.lastError = null;
        this.options.onState(true);
        return;
      case 'result': {
        const entry = this.pending.get(message.id);
        if (!entry) return;
        this.pending.delete(message.id);
        clearTimeout(entry.timer);
        entry.resolve(message.reply);
        return;
      }
      case 'event':
        this.options.onEvent(message.channel, message.payload);
        return;
      case 'fatal':
        this.options.log('core reported a fatal error', {
          code: message.error.code,
          message: message.error.message,
        });
        this.lastError = message.error;
        this.options.onState(false, message.error);
        return;
    }
  }

  private onExit(child: CoreChild, code: number): void {
    if (child !== this.child) return;
    this.child = null;
    this.ready = false;
    this.failAll('the terminal core stopped; restarting');
    this.options.onState(false, this.lastError ?? undefined);
    if (this.stopped) return;
    const lived = this.clock.now() - (this.spawns.at(-1) ?? 0);
    const reason = this.lastError
      ? new KioskError(this.lastError.code, this.lastError.message)
      : new KioskError('INTERNAL', `the terminal core exited with code ${code}`);
    void this.supervisor.lost(reason).then(() => {
      const retryAt = this.supervisor.health().retryAt;
      this.options.log('core exited; respawning', {
        code,
        livedMs: lived,
        delayMs: retryAt === null ? null : retryAt - this.clock.now(),
      });
    });
  }

  private failAll(message: string): void {
    for (const [id, entry] of this.pending) {
      clearTimeout(entry.timer);
      entry.resolve({ ok: false, error: { code: 'INTERNAL', message } });
      this.pending.delete(id);
    }
  }

  call(channel: string, payload: unknown): Promise<Reply<unknown>> {
    const child = this.child;
    if (!child || !this.ready) {
      return Promise.resolve({
        ok: false,
        error: { code: 'INTERNAL', message: 'the terminal core is starting' },
      });
    }
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({
          ok: false,
          error: { code: 'INTERNAL', message: `no answer from the terminal core (${channel})` },
        });
      }, this.options.callTimeoutMs ?? 30_000);
      this.pending.set(id, { resolve, timer });
      child.postMessage({ t: 'call', id, channel, payload });
    });
  }

  get isUp(): boolean {
    return this.ready;
  }

  stop(): void {
    this.stopped = true;
    this.failAll('the terminal is shutting down');
    // At once, not after the supervisor's state change: the app is quitting.
    this.killChild();
    void this.supervisor.stop();
  }
}
