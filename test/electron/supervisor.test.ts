import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CoreSupervisor } from '../../main/electron/supervisor.js';
import { FakeChild } from './electron-mock.js';

let children: FakeChild[];
let now: number;
let states: [boolean, string | undefined][];
function make(options: { spawnThrows?: boolean } = {}) {
  return new CoreSupervisor({
    spawn: () => {
      if (options.spawnThrows) throw new Error('no such file');
      const c = new FakeChild();
      children.push(c);
      return c;
    },
    onEvent: () => {},
    onState: (up, error) => states.push([up, error?.code]),
    log: () => {},
    minDelayMs: 100,
    maxDelayMs: 1600,
    stableAfterMs: 10_000,
    now: () => now,
    // The longest wait full jitter allows: the doubling and the cap are what is asserted.
    random: () => 1,
  });
}

/** Lets the supervisor's promise chain (exit → close → schedule) settle without moving time. */
const settle = () => vi.advanceTimersByTimeAsync(0);

beforeEach(() => {
  vi.useFakeTimers();
  children = [];
  states = [];
  now = 0;
});
afterEach(() => vi.useRealTimers());

describe('core supervisor', () => {
  it('doubles the respawn delay for a core that keeps dying, up to the maximum', async () => {
    const s = make();
    s.start();
    await settle();
    const gaps: number[] = [];
    for (let i = 0; i < 6; i++) {
      const before = children.length;
      children.at(-1)!.emit('exit', 1);
      await settle();
      let waited = 0;
      while (children.length === before) {
        await vi.advanceTimersByTimeAsync(50);
        waited += 50;
      }
      gaps.push(waited);
    }
    expect(gaps).toEqual([100, 200, 400, 800, 1600, 1600]);
    s.stop();
  });

  it('resets the backoff after a core that stayed up', async () => {
    const s = make();
    s.start();
    await settle();
    children[0]!.emit('exit', 1);
    await settle();
    await vi.advanceTimersByTimeAsync(100);
    children[1]!.emit('exit', 1);
    await settle();
    await vi.advanceTimersByTimeAsync(200);
    now = 60_000; // the third core lives a minute
    children[2]!.emit('exit', 1);
    await settle();
    await vi.advanceTimersByTimeAsync(100);
    expect(children.length).toBe(4);
    s.stop();
  });

  it('refuses calls until the core says ready, and reports up/down with the fatal reason', async () => {
    const s = make();
    s.start();
    expect(await s.call('kiosk:cmd:getStatus', undefined)).toMatchObject({
      ok: false,
      error: { code: 'INTERNAL' },
    });
    children[0]!.emit('message', { t: 'ready' });
    children[0]!.emit('message', { t: 'fatal', error: { code: 'STORE_CORRUPT', message: 'x' } });
    children[0]!.emit('exit', 3);
    expect(states).toEqual([
      [true, undefined],
      [false, 'STORE_CORRUPT'],
      [false, 'STORE_CORRUPT'],
    ]);
    s.stop();
  });

  it('a call the core never answers fails after its timeout instead of hanging the window', async () => {
    const s = new CoreSupervisor({
      spawn: () => {
        const c = new FakeChild();
        children.push(c);
        return c;
      },
      onEvent: () => {},
      onState: () => {},
      log: () => {},
      callTimeoutMs: 1000,
    });
    s.start();
    children[0]!.emit('message', { t: 'ready' });
    const answer = s.call('kiosk:cmd:getStatus', undefined);
    vi.advanceTimersByTime(1000);
    expect(await answer).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    s.stop();
  });

  it('a spawn that throws is retried, and stop ends respawning and tells the core to shut down', async () => {
    const failing = make({ spawnThrows: true });
    failing.start();
    await settle();
    await vi.advanceTimersByTimeAsync(100);
    expect(failing.spawns.length).toBe(2);
    failing.stop();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(failing.spawns.length).toBe(2);

    const s = make();
    s.start();
    const child = children[0]!;
    s.stop();
    expect(child.messages).toContainEqual({ t: 'shutdown' });
    expect(child.kill).toHaveBeenCalled();
    child.emit('exit', 0);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(children.length).toBe(1);
  });

  it('reports its health: starting until the core says ready, retrying with the reason after a death; retryNow respawns at once', async () => {
    const s = make();
    s.start();
    await settle();
    expect(s.health()).toMatchObject({ name: 'core', state: 'starting' });
    children[0]!.emit('message', { t: 'ready' });
    expect(s.health()).toMatchObject({ state: 'ready', error: null });
    children[0]!.emit('message', { t: 'fatal', error: { code: 'STORE_CORRUPT', message: 'x' } });
    children[0]!.emit('exit', 3);
    await settle();
    expect(s.health()).toMatchObject({
      state: 'retrying',
      failures: 1,
      retryAt: now + 100,
      error: { code: 'STORE_CORRUPT' },
    });
    s.retryNow();
    await settle();
    expect(children.length).toBe(2);
    expect(s.health().state).toBe('starting');
    s.stop();
    expect(s.health().state).toBe('stopped');
  });

  it('spreads respawns with full jitter', async () => {
    const s = new CoreSupervisor({
      spawn: () => {
        const c = new FakeChild();
        children.push(c);
        return c;
      },
      onEvent: () => {},
      onState: () => {},
      log: () => {},
      minDelayMs: 1_000,
      maxDelayMs: 8_000,
      now: () => now,
      random: () => 0.25,
    });
    s.start();
    await settle();
    children[0]!.emit('exit', 1);
    await settle();
    expect(s.health().retryAt).toBe(now + 250);
    await vi.advanceTimersByTimeAsync(249);
    expect(children.length).toBe(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(children.length).toBe(2);
    s.stop();
  });
});
