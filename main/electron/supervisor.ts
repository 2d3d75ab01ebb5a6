// Keeps the core process alive: spawn, relay calls and events, and when it exits, fail the calls in
// flight, tell the window the core is down, and respawn with exponential backoff (reset once a core has
// stayed up for a while). Generic over the child so the tests drive it with a fake and fake timers.
import type { ErrorPayload } from '../../base/errors.js';
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
}

export class CoreSupervisor {
  private child: CoreChild | null = null;
  private ready = false;
  /** The last reason the core gave for not running (fatal message), until it is up again. */
  lastError: ErrorPayload | null = null;
  private stopped = false;
  private failures = 0;
  private startedAt = 0;
  private nextId = 1;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly pending = new Map<
    number,
    { resolve(r: Reply<unknown>): void; timer: ReturnType<typeof setTimeout> }
  >();
  readonly spawns: number[] = [];

  constructor(private readonly options: SupervisorOptions) {}

  private get now() {
    return (this.options.now ?? Date.now)();
  }

  /** Delay before the next respawn after `failures` consecutive short-lived cores. */
  backoffMs(failures: number): number {
    const min = this.options.minDelayMs ?? 500;
    const max = this.options.maxDelayMs ?? 30_000;
    return Math.min(max, min * 2 ** Math.max(0, failures - 1));
  }

  start(): void {
    if (this.stopped || this.child) return;
    this.startedAt = this.now;
    this.spawns.push(this.startedAt);
    let child: CoreChild;
    try {
      child = this.options.spawn();
    } catch (error) {
      this.options.log('core spawn failed', { error: String(error) });
      this.scheduleRestart();
      return;
    }
    this.child = child;
    child.on('message', (message) => this.onMessage(child, message));
    child.on('exit', (code) => this.onExit(child, code));
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
    const lived = this.now - this.startedAt;
    this.failures = lived >= (this.options.stableAfterMs ?? 60_000) ? 1 : this.failures + 1;
    this.options.log('core exited; respawning', {
      code,
      livedMs: lived,
      delayMs: this.backoffMs(this.failures),
    });
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.stopped || this.restartTimer) return;
    this.restartTimer = setTimeout(
      () => {
        this.restartTimer = null;
        this.start();
      },
      this.backoffMs(Math.max(1, this.failures)),
    );
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
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.failAll('the terminal is shutting down');
    const child = this.child;
    this.child = null;
    if (child) {
      child.postMessage({ t: 'shutdown' });
      child.kill();
    }
  }
}
