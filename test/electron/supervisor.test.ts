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
  });
}

beforeEach(() => {
  vi.useFakeTimers();
  children = [];
  states = [];
  now = 0;
});
afterEach(() => vi.useRealTimers());

describe('core supervisor', () => {
  it('doubles the respawn delay for a core that keeps dying, up to the maximum', () => {
    const s = make();
    s.start();
    const gaps: number[] = [];
    for (let i = 0; i < 6; i++) {
      const before = children.length;
      children.at(-1)!.emit('exit', 1);
      let waited = 0;
      while (children.length === before) {
        vi.advanceTimersByTime(50);
        waited += 50;
      }
      gaps.push(waited);
    }
    expect(gaps).toEqual([100, 200, 400, 800, 1600, 1600]);
    s.stop();
  });

  it('resets the backoff after a core that stayed up', () => {
    const s = make();
    s.start();
    children[0]!.emit('exit', 1);
    vi.advanceTimersByTime(100);
    children[1]!.emit('exit', 1);
    vi.advanceTimersByTime(200);
    now = 60_000; // the third core lives a minute
    children[2]!.emit('exit', 1);
    vi.advanceTimersByTime(100);
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

  it('a spawn that throws is retried, and stop ends respawning and tells the core to shut down', () => {
    const failing = make({ spawnThrows: true });
    failing.start();
    vi.advanceTimersByTime(100);
    expect(failing.spawns.length).toBe(2);
    failing.stop();
    vi.advanceTimersByTime(10_000);
    expect(failing.spawns.length).toBe(2);

    const s = make();
    s.start();
    const child = children[0]!;
    s.stop();
    expect(child.messages).toContainEqual({ t: 'shutdown' });
    expect(child.kill).toHaveBeenCalled();
    child.emit('exit', 0);
    vi.advanceTimersByTime(10_000);
    expect(children.length).toBe(1);
  });
});
