// The reader watcher: one PC/SC context, supervised by base/supervisor.ts. Its own state names map the
// supervisor's: starting → connecting, ready/running → ready, retrying/failed → unavailable.
//   stopped ──start()──► connecting ──context ok──► ready ──context error──► unavailable ──retry──► connecting
// Readers appearing/leaving are reported by diffing the binding's reader list; a card is reported
// inserted only after it stayed present for `settleMs`; every reader is reported removed (and its card)
// when the context is lost, so a consumer never keeps a stale reader. Retries back off (full jitter)
// up to maxRetryMs.
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Clock } from '../../../base/clock.js';
import { KioskError, type ErrorPayload } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import { Supervisor, type Health, type Supervised, type SupervisedState } from '../../../base/supervisor.js';
import { pcscError } from './card-errors.js';
import { createPcscContext, type PcscContext, type PcscReader, type PcscStatus } from './pcsc-binding.js';
import { PcscTransport } from './pcsc-transport.js';

export type WatcherState = 'stopped' | 'connecting' | 'ready' | 'unavailable';

export interface ReaderInfo {
  name: string;
  cardPresent: boolean;
  /** ATR (hex) of the present card, once settled. */
  atrHex: string | null;
}

export interface WatcherEvents {
  state: [state: WatcherState, error: ErrorPayload | null];
  'reader-added': [name: string];
  'reader-removed': [name: string];
  'card-inserted': [event: { reader: string; atrHex: string }];
  'card-removed': [event: { reader: string }];
}

export interface ReaderWatcherOptions {
  settleMs?: number;
  retryMs?: number;
  maxRetryMs?: number;
  logger?: Logger;
  /** For tests: the PC/SC context factory. */
  createContext?: () => PcscContext;
  /** The retry timers' clock. */
  clock?: Clock;
  /** The backoff's jitter source (seeded in tests). */
  random?: () => number;
}

function watcherState(state: SupervisedState): WatcherState {
  switch (state) {
    case 'stopped':
      return 'stopped';
    case 'starting':
      return 'connecting';
    case 'ready':
    case 'running':
      return 'ready';
    case 'retrying':
    case 'failed':
      return 'unavailable';
  }
}

interface Tracked {
  reader: PcscReader;
  present: boolean;
  settled: boolean;
  atr: Uint8Array | null;
  settleTimer: NodeJS.Timeout | null;
  statusKnown: boolean;
}

export class ReaderWatcher extends EventEmitter<WatcherEvents> implements Supervised {
  private readonly settleMs: number;
  private readonly log: Logger;
  private readonly createContext: () => PcscContext;
  private readonly supervisor: Supervisor;
  private context: PcscContext | null = null;
  private readonly readers = new Map<string, Tracked>();
  /** The state last reported through 'state'. */
  private reported: WatcherState = 'stopped';
  private generation = 0;

  constructor(options: ReaderWatcherOptions = {}) {
    super();
    this.settleMs = options.settleMs ?? 50;
    this.log = options.logger ?? getLogger('card');
    this.createContext = options.createContext ?? createPcscContext;
    this.supervisor = new Supervisor({
      name: 'pcsc',
      errorCode: 'PCSC_UNAVAILABLE',
      backoff: {
        baseMs: options.retryMs ?? 200,
        capMs: options.maxRetryMs ?? 2000,
        ...(options.random ? { random: options.random } : {}),
      },
      ...(options.clock ? { clock: options.clock } : {}),
      open: () => this.open(),
      close: () => this.teardown(),
    });
    this.supervisor.on('state', (health) => this.report(health));
  }

  get state(): WatcherState {
    return watcherState(this.supervisor.state);
  }

  get error(): KioskError | null {
    return this.supervisor.error;
  }

  /** The PC/SC service as a supervised part (reader-level states are in `list()`). */
  health(): Health {
    return this.supervisor.health();
  }

  /** Skips the rest of the backoff wait and connects to pcscd now. */
  retryNow(): void {
    this.supervisor.retryNow();
  }

  list(): ReaderInfo[] {
    return [...this.readers.entries()].map(([name, t]) => ({
      name,
      cardPresent: t.present && t.settled,
      atrHex: t.present && t.settled && t.atr ? Buffer.from(t.atr).toString('hex') : null,
    }));
  }

  start(): void {
    if (this.supervisor.state !== 'stopped') return;
    void this.supervisor.start();
  }

  stop(): void {
    // Synchronously: a caller that stops the watcher must not see another reader event.
    this.teardown();
    void this.supervisor.stop();
  }

  /** Resolves once the watcher is ready (or rejects with its last error after `timeoutMs`). */
  waitReady(timeoutMs = 5000): Promise<void> {
    if (this.state === 'ready') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('state', onState);
        reject(this.error ?? new KioskError('PCSC_UNAVAILABLE', 'PC/SC not ready'));
      }, timeoutMs);
      const onState = (state: WatcherState) => {
        if (state !== 'ready') return;
        clearTimeout(timer);
        this.off('state', onState);
        resolve();
      };
      this.on('state', onState);
    });
  }

  /** Waits for a settled card in `reader` (or in any reader when null); resolves with the reader name. */
  waitForCard(reader: string | null = null, timeoutMs = 5000): Promise<string> {
    const present = this.list().find((r) => r.cardPresent && (reader === null || r.name === reader));
    if (present) return Promise.resolve(present.name);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('card-inserted', onCard);
        reject(
          new KioskError('CARD_ABSENT', `no card ${reader ? `in ${reader} ` : ''}within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      const onCard = (event: { reader: string }) => {
        if (reader !== null && event.reader !== reader) return;
        clearTimeout(timer);
        this.off('card-inserted', onCard);
        resolve(event.reader);
      };
      this.on('card-inserted', onCard);
    });
  }

  /**
   * For one-shot tools: resolves once the watcher is ready, has listed readers for at least
   * `listMs`, every reader reported its first status and no card is still settling.
   */
  async waitSettled(timeoutMs = 3000, listMs = 150): Promise<void> {
    await this.waitReady(timeoutMs);
    const readyAt = Date.now();
    const deadline = readyAt + timeoutMs;
    for (;;) {
      const all = [...this.readers.values()];
      const calm = all.every((t) => t.statusKnown && t.settleTimer === null);
      if (calm && Date.now() - readyAt >= listMs) return;
      if (Date.now() > deadline) return;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /**
   * Opens a card session on a reader with a card. One session per reader: the binding keeps one
   * connection per reader object, so a new session on a reader ends (resets) the previous one.
   */
  async connect(readerName: string, timeoutMs = 3000): Promise<PcscTransport> {
    const tracked = this.readers.get(readerName);
    if (!tracked) {
      if (this.state !== 'ready')
        throw new KioskError('PCSC_UNAVAILABLE', `PC/SC is ${this.state}`, undefined, {
          cause: this.error ?? undefined,
        });
      throw new KioskError('READER_NOT_FOUND', `no reader named ${readerName}`);
    }
    if (!tracked.present || !tracked.atr) throw new KioskError('CARD_ABSENT', `no card in ${readerName}`);
    return PcscTransport.connect(tracked.reader, tracked.atr, timeoutMs);
  }

  private report(health: Health): void {
    const state = watcherState(health.state);
    const error = state === 'unavailable' ? health.error : null;
    if (state === this.reported && !error) return;
    this.reported = state;
    this.log.info({ state, error: error?.code, reason: error?.message }, 'pc/sc state');
    this.emit('state', state, error);
  }

  /** One attempt: resolves once the context is up, rejects if it fails before. */
  private open(): Promise<void> {
    const generation = ++this.generation;
    let context: PcscContext;
    try {
      context = this.createContext();
    } catch (error) {
      return Promise.reject(pcscError(error));
    }
    this.context = context;
    return new Promise((resolve, reject) => {
      let settled = false;
      // Never act synchronously inside a binding callback: the binding holds the reader's mutex while it
      // calls us, and close() takes the same mutex (a deadlock). Defer every reaction to the next turn.
      context.on('error', (error) => {
        setImmediate(() => {
          if (generation !== this.generation) return;
          if (settled) {
            void this.supervisor.lost(pcscError(error));
          } else {
            settled = true;
            reject(pcscError(error));
          }
        });
      });
      context.on('reader', (reader) => {
        if (generation === this.generation) this.addReader(reader, generation);
      });
      // The binding lists readers asynchronously; with none it reports nothing. Ready once the context is up.
      setImmediate(() => {
        if (generation !== this.generation || settled) return;
        settled = true;
        resolve();
      });
    });
  }

  private addReader(reader: PcscReader, generation: number) {
    const name = reader.name;
    if (this.readers.has(name)) return;
    const tracked: Tracked = {
      reader,
      present: false,
      settled: false,
      atr: null,
      settleTimer: null,
      statusKnown: false,
    };
    this.readers.set(name, tracked);
    this.log.info({ reader: name }, 'reader added');
    this.emit('reader-added', name);
    reader.on('status', (status) => {
      if (generation === this.generation) this.onStatus(tracked, status);
    });
    reader.on('error', (error) => {
      if (generation !== this.generation) return;
      const typed = pcscError(error);
      this.log.warn({ reader: name, error: typed.code, reason: typed.message }, 'reader error');
      if (typed.code === 'PCSC_UNAVAILABLE')
        setImmediate(() => {
          if (generation === this.generation) void this.supervisor.lost(typed);
        });
    });
    reader.on('end', () => {
      setImmediate(() => {
        if (generation === this.generation) this.dropReader(name);
      });
    });
  }

  private onStatus(tracked: Tracked, status: PcscStatus) {
    const r = tracked.reader;
    tracked.statusKnown = true;
    const present = (status.state & r.SCARD_STATE_PRESENT) !== 0 && (status.state & r.SCARD_STATE_MUTE) === 0;
    const atr = status.atr && status.atr.length > 0 ? new Uint8Array(status.atr) : null;
    if (present && !tracked.present) {
      tracked.present = true;
      tracked.atr = atr;
      tracked.settled = false;
      if (tracked.settleTimer) clearTimeout(tracked.settleTimer);
      tracked.settleTimer = setTimeout(() => {
        tracked.settleTimer = null;
        if (!tracked.present) return;
        tracked.settled = true;
        const atrHex = tracked.atr ? Buffer.from(tracked.atr).toString('hex') : '';
        this.log.info({ reader: r.name }, 'card inserted');
        this.emit('card-inserted', { reader: r.name, atrHex });
      }, this.settleMs);
    } else if (!present && tracked.present) {
      this.cardGone(tracked);
    } else if (present && atr) {
      tracked.atr = atr;
    }
  }

  private cardGone(tracked: Tracked) {
    const wasSettled = tracked.settled;
    tracked.present = false;
    tracked.settled = false;
    tracked.atr = null;
    if (tracked.settleTimer) clearTimeout(tracked.settleTimer);
    tracked.settleTimer = null;
    if (wasSettled) {
      this.log.info({ reader: tracked.reader.name }, 'card removed');
      this.emit('card-removed', { reader: tracked.reader.name });
    }
  }

  private dropReader(name: string) {
    const tracked = this.readers.get(name);
    if (!tracked) return;
    this.cardGone(tracked);
    this.readers.delete(name);
    tracked.reader.removeAllListeners('status');
    this.log.info({ reader: name }, 'reader removed');
    this.emit('reader-removed', name);
  }

  private teardown() {
    this.generation++;
    for (const name of [...this.readers.keys()]) {
      const tracked = this.readers.get(name)!;
      this.dropReader(name);
      try {
        tracked.reader.close();
      } catch {
        /* the daemon is gone */
      }
    }
    const context = this.context;
    this.context = null;
    if (context) {
      try {
        context.close();
      } catch {
        /* the daemon is gone */
      }
    }
  }
}
