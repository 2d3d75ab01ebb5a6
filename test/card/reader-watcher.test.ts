// ReaderWatcher state machine with a scripted binding: settle delay, flicker, reader diff, context loss,
// backoff, stale events from an old context. (The same watcher against real pcscd: pcsc-integration.)
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { PcscContext, PcscReader } from '../../main/core/card/pcsc-binding.js';
import { ReaderWatcher, type ReaderWatcherOptions } from '../../main/core/card/reader-watcher.js';
import { FakeClock } from '../support/fake-clock.js';

const PRESENT = 0x20;
const EMPTY = 0x10;

class FakeReader extends EventEmitter {
  connected = false;
  state = 0;
  closed = false;
  SCARD_SHARE_SHARED = 2;
  SCARD_SHARE_EXCLUSIVE = 1;
  SCARD_PROTOCOL_T0 = 1;
  SCARD_PROTOCOL_T1 = 2;
  SCARD_STATE_PRESENT = PRESENT;
  SCARD_STATE_MUTE = 0x200;
  SCARD_STATE_EMPTY = EMPTY;
  SCARD_LEAVE_CARD = 0;
  SCARD_RESET_CARD = 1;
  constructor(readonly name: string) {
    super();
  }
  connect() {}
  disconnect() {}
  transmit() {}
  close() {
    this.closed = true;
  }
}

class FakeContext extends EventEmitter {
  closed = false;
  close() {
    this.closed = true;
  }
}

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

function setup(failFirst = 0, extra: ReaderWatcherOptions = {}) {
  const contexts: FakeContext[] = [];
  let attempts = 0;
  const watcher = new ReaderWatcher({
    settleMs: 40,
    retryMs: 20,
    maxRetryMs: 80,
    // The longest wait full jitter allows, so that the backoff's lower bound can be asserted.
    random: () => 1,
    ...extra,
    createContext: () => {
      attempts++;
      if (attempts <= failFirst)
        throw new Error('SCardEstablishContext error: Service not available.(0x8010001d)');
      const c = new FakeContext();
      contexts.push(c);
      return c as unknown as PcscContext;
    },
  });
  const events: string[] = [];
  watcher.on('state', (s) => events.push(`state:${s}`));
  watcher.on('reader-added', (n) => events.push(`+${n}`));
  watcher.on('reader-removed', (n) => events.push(`-${n}`));
  watcher.on('card-inserted', (e) => events.push(`in:${e.reader}:${e.atrHex}`));
  watcher.on('card-removed', (e) => events.push(`out:${e.reader}`));
  const addReader = (name: string, ctx = contexts[contexts.length - 1]!) => {
    const r = new FakeReader(name);
    ctx.emit('reader', r as unknown as PcscReader);
    return r;
  };
  return { watcher, events, contexts, addReader, attempts: () => attempts };
}

describe('ReaderWatcher (scripted binding)', () => {
  it('reports a card only after it stayed for the settle delay; a flicker is not a card', async () => {
    const { watcher, events, addReader } = setup();
    watcher.start();
    await watcher.waitReady();
    const r = addReader('R1');
    r.emit('status', { state: EMPTY });
    r.emit('status', { state: PRESENT, atr: Buffer.from('3b00', 'hex') });
    await tick(10);
    r.emit('status', { state: EMPTY }); // gone within the settle delay
    await tick(60);
    expect(events.filter((e) => e.startsWith('in:') || e.startsWith('out:'))).toEqual([]);
    r.emit('status', { state: PRESENT, atr: Buffer.from('3b01', 'hex') });
    await tick(60);
    r.emit('status', { state: EMPTY });
    expect(events.slice(-2)).toEqual(['in:R1:3b01', 'out:R1']);
    watcher.stop();
  });

  it('diffs readers, and on context loss removes everything, backs off and comes back', async () => {
    const { watcher, events, contexts, addReader, attempts } = setup();
    watcher.start();
    await watcher.waitReady();
    const r1 = addReader('R1');
    addReader('R2');
    r1.emit('status', { state: PRESENT, atr: Buffer.from('3b', 'hex') });
    await tick(60);
    r1.emit('end'); // reader unplugged
    await tick(5);
    expect(watcher.list().map((r) => r.name)).toEqual(['R2']);
    expect(events).toContain('out:R1');
    expect(events).toContain('-R1');

    const old = contexts[0]!;
    old.emit('error', new Error('SCardGetStatusChange error: RPC transport error.(0x80100013)'));
    await tick(5);
    expect(watcher.state).toBe('unavailable');
    expect(watcher.error?.code).toBe('PCSC_UNAVAILABLE');
    expect(watcher.list()).toEqual([]);
    expect(old.closed).toBe(true);
    await watcher.waitReady(1000);
    expect(attempts()).toBe(2);
    // events from the dead context are ignored
    old.emit('reader', new FakeReader('GHOST') as unknown as PcscReader);
    addReader('R3');
    expect(watcher.list().map((r) => r.name)).toEqual(['R3']);
    watcher.stop();
    expect(watcher.state).toBe('stopped');
  });

  it('starts without pcscd, retries with backoff, and becomes ready when it appears', async () => {
    const { watcher, attempts } = setup(3);
    const states: string[] = [];
    watcher.on('state', (s) => states.push(s));
    const started = Date.now();
    watcher.start();
    await watcher.waitReady(2000);
    expect(attempts()).toBe(4);
    // 20 + 40 + 80 ms of backoff at least
    expect(Date.now() - started).toBeGreaterThanOrEqual(130);
    expect(states.filter((s) => s === 'unavailable').length).toBe(3);
    await expect(watcher.connect('nope')).rejects.toMatchObject({ code: 'READER_NOT_FOUND' });
    watcher.stop();
  });

  it('reports its health as a supervised part, and retryNow skips the backoff wait', async () => {
    const clock = new FakeClock();
    const { watcher, attempts } = setup(2, { clock, retryMs: 1_000, maxRetryMs: 8_000, random: () => 0.5 });
    watcher.start();
    await tick();
    expect(watcher.state).toBe('unavailable');
    expect(watcher.health()).toMatchObject({
      name: 'pcsc',
      state: 'retrying',
      failures: 1,
      retryAt: clock.time + 500,
      error: { code: 'PCSC_UNAVAILABLE' },
    });
    await clock.advance(500);
    expect(watcher.health()).toMatchObject({ state: 'retrying', failures: 2, retryAt: clock.time + 1_000 });
    watcher.retryNow();
    await watcher.waitReady(1000);
    expect(attempts()).toBe(3);
    expect(watcher.health()).toMatchObject({ state: 'ready', failures: 0, error: null, since: clock.time });
    expect(clock.pending).toBe(0);
    watcher.stop();
    expect(watcher.health().state).toBe('stopped');
  });
});
