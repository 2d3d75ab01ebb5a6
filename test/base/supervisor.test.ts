import { describe, expect, it } from 'vitest';
import { KioskError } from '../../base/errors.js';
import { Backoff, firstFault, Supervisor, type Health } from '../../base/supervisor.js';
import { FakeClock } from '../support/fake-clock.js';

/** A seeded source of [0, 1): the same sequence on every run. */
function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('Backoff', () => {
  it('waits uniformly in [0, min(cap, base·2ⁿ⁻¹)] (full jitter)', () => {
    const b = new Backoff({ baseMs: 100, capMs: 1_000, random: seeded(7) });
    const ceilings = [100, 200, 400, 800, 1_000, 1_000];
    for (const ceiling of ceilings) {
      const wait = b.fail();
      expect(wait).toBeGreaterThanOrEqual(0);
      expect(wait).toBeLessThanOrEqual(ceiling);
    }
    expect(b.count).toBe(6);
    b.reset();
    expect(b.count).toBe(0);
  });

  it('spreads a fleet: 1,000 terminals failing together do not retry at one instant', () => {
    const random = seeded(42);
    const waits = Array.from({ length: 1_000 }, () => {
      const b = new Backoff({ baseMs: 1_000, capMs: 60_000, random });
      b.fail();
      b.fail();
      return b.fail();
    });
    // Uniform over [0, 4000]: about 25 per 100 ms window; a lockstep retry would put all 1,000 in one.
    const windows = new Map<number, number>();
    for (const w of waits) windows.set(Math.floor(w / 100), (windows.get(Math.floor(w / 100)) ?? 0) + 1);
    expect(Math.max(...windows.values())).toBeLessThan(60);
    expect(Math.max(...waits)).toBeLessThanOrEqual(4_000);
  });
});

describe('Supervisor', () => {
  it('retries on its own with backoff until the part opens, keeping the last error', async () => {
    const clock = new FakeClock();
    let opens = 0;
    const s = new Supervisor({
      name: 'reader',
      clock,
      backoff: { baseMs: 100, capMs: 1_000, random: () => 0.999 },
      open: async () => {
        opens++;
        if (opens < 3) throw new KioskError('PCSC_UNAVAILABLE', `attempt ${opens}`);
      },
    });
    const states: string[] = [];
    s.on('state', (h: Health) => states.push(h.state));
    expect(await s.start()).toBe('retrying');
    expect(s.health()).toMatchObject({ state: 'retrying', failures: 1, error: { code: 'PCSC_UNAVAILABLE' } });
    expect(s.health().retryAt).toBe(clock.time + 100);
    await clock.advance(100);
    expect(s.health()).toMatchObject({ state: 'retrying', failures: 2, error: { message: 'attempt 2' } });
    await clock.advance(200);
    expect(s.health()).toMatchObject({ state: 'ready', failures: 0, error: null, since: clock.time });
    expect(states).toEqual(['starting', 'retrying', 'starting', 'retrying', 'starting', 'ready']);
  });

  it('a loss closes the part and schedules a retry; retryNow skips the wait', async () => {
    const clock = new FakeClock();
    let closes = 0;
    const s = new Supervisor({
      name: 'hsm',
      clock,
      backoff: { baseMs: 60_000, capMs: 60_000, random: () => 0.5 },
      open: async () => undefined,
      close: () => {
        closes++;
      },
      errorCode: 'HSM_UNAVAILABLE',
    });
    await s.start();
    s.lost(new Error('session closed'));
    await new Promise((r) => setImmediate(r));
    expect(closes).toBe(1);
    expect(s.health()).toMatchObject({ state: 'retrying', error: { code: 'HSM_UNAVAILABLE' } });
    expect(clock.pending).toBe(1);
    s.retryNow();
    await new Promise((r) => setImmediate(r));
    expect(s.state).toBe('ready');
    expect(clock.pending).toBe(0);
  });

  it('gives up after maxFailures (failed) until told to retry', async () => {
    const clock = new FakeClock();
    let works = false;
    const s = new Supervisor({
      name: 'gate',
      clock,
      maxFailures: 2,
      backoff: { baseMs: 10, capMs: 10, random: () => 1 },
      open: async () => {
        if (!works) throw new KioskError('HID_UNAVAILABLE', 'no device');
      },
    });
    await s.start();
    await clock.advance(10);
    expect(s.state).toBe('failed');
    expect(clock.pending).toBe(0);
    works = true;
    s.retryNow();
    await new Promise((r) => setImmediate(r));
    expect(s.state).toBe('ready');
  });

  it('shows running while work is under way and ready after it', async () => {
    const s = new Supervisor({ name: 'sync', backoff: { baseMs: 1, capMs: 1 }, open: async () => undefined });
    await s.start();
    const endA = s.beginWork();
    const endB = s.beginWork();
    expect(s.state).toBe('running');
    endA();
    endA();
    expect(s.state).toBe('running');
    endB();
    expect(s.state).toBe('ready');
    await s.stop();
    expect(s.state).toBe('stopped');
  });

  it('out of service is the first required part that does not work', () => {
    const ok: Health = { name: 'a', state: 'ready', error: null, failures: 0, retryAt: null, since: 1 };
    const busy: Health = { ...ok, name: 'b', state: 'running' };
    const down: Health = {
      ...ok,
      name: 'c',
      state: 'retrying',
      error: { code: 'READER_NOT_FOUND', message: 'no reader' },
    };
    expect(firstFault([ok, busy])).toBeNull();
    expect(firstFault([ok, down, { ...down, error: null }])).toEqual(down.error);
    expect(firstFault([{ ...ok, state: 'stopped' }])).toMatchObject({ code: 'INTERNAL' });
  });
});

describe('Supervisor extensions', () => {
  it('a loss reported twice schedules one retry, and lost() resolves once it is scheduled', async () => {
    const clock = new FakeClock();
    let closes = 0;
    const s = new Supervisor({
      name: 'device',
      clock,
      backoff: { baseMs: 100, capMs: 100, random: () => 1 },
      open: async () => undefined,
      close: () => {
        closes++;
      },
    });
    await s.start();
    const first = s.lost(new KioskError('HID_FAILED', 'transport error'));
    const second = s.lost(new KioskError('HID_UNAVAILABLE', 'unplugged'));
    await Promise.all([first, second]);
    expect(s.health()).toMatchObject({
      state: 'retrying',
      retryAt: clock.time + 100,
      error: { code: 'HID_FAILED' },
    });
    expect(closes).toBe(1);
    expect(clock.pending).toBe(1);
  });

  it('stableAfterMs keeps the backoff growing for a part that dies soon after it opened', async () => {
    const clock = new FakeClock();
    const s = new Supervisor({
      name: 'core',
      clock,
      stableAfterMs: 10_000,
      backoff: { baseMs: 100, capMs: 1_600, random: () => 1 },
      open: async () => undefined,
    });
    await s.start();
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      await s.lost(new Error('exit 1'));
      waits.push(s.health().retryAt! - clock.time);
      await clock.advance(waits.at(-1)!);
      expect(s.state).toBe('ready');
    }
    expect(waits).toEqual([100, 200, 400]);
    // One that lived long enough starts over.
    await clock.advance(10_000);
    await s.lost(new Error('exit 1'));
    expect(s.health().retryAt! - clock.time).toBe(100);
  });

  it('poll: a failing check while working is a loss; a passing one polls again', async () => {
    const clock = new FakeClock();
    let present = true;
    let checks = 0;
    const s = new Supervisor({
      name: 'gate',
      clock,
      backoff: { baseMs: 50, capMs: 50, random: () => 1 },
      open: async () => undefined,
      poll: {
        everyMs: 1_000,
        check: async () => {
          checks++;
          if (!present) throw new KioskError('HID_UNAVAILABLE', 'unplugged');
        },
      },
    });
    await s.start();
    await clock.advance(1_000);
    await clock.advance(1_000);
    expect(checks).toBe(2);
    expect(s.state).toBe('ready');
    present = false;
    await clock.advance(1_000);
    expect(s.health()).toMatchObject({ state: 'retrying', error: { code: 'HID_UNAVAILABLE' } });
    expect(clock.pending).toBe(1); // the retry, and no poll while not working
    await s.stop();
    expect(clock.pending).toBe(0);
  });

  it('a part stopped while it was opening is closed again', async () => {
    let release!: () => void;
    let closes = 0;
    const s = new Supervisor({
      name: 'reader',
      backoff: { baseMs: 1, capMs: 1 },
      open: () => new Promise<void>((r) => (release = r)),
      close: () => {
        closes++;
      },
    });
    const started = s.start();
    await s.stop();
    release();
    await started;
    expect(s.state).toBe('stopped');
    expect(closes).toBe(1);
  });
});

describe('Supervisor giveUpOn', () => {
  it('a failure retrying cannot fix is failed at once, with no timer, until retryNow', async () => {
    const clock = new FakeClock();
    let pin = '0000';
    const s = new Supervisor({
      name: 'hsm',
      clock,
      backoff: { baseMs: 10, capMs: 10 },
      giveUpOn: (e) => e.code === 'HSM_LOGIN_FAILED',
      open: async () => {
        if (pin !== '1234') throw new KioskError('HSM_LOGIN_FAILED', 'wrong PIN');
      },
    });
    expect(await s.start()).toBe('failed');
    expect(s.health()).toMatchObject({ state: 'failed', retryAt: null, error: { code: 'HSM_LOGIN_FAILED' } });
    expect(clock.pending).toBe(0);
    pin = '1234';
    s.retryNow();
    await new Promise((r) => setImmediate(r));
    expect(s.state).toBe('ready');
  });
});

describe('Supervisor settled() and retryNow() during a loss', () => {
  it('settled() waits out an attempt; a retryNow() while a loss is closing retries right after', async () => {
    const clock = new FakeClock();
    let release!: () => void;
    let opens = 0;
    const s = new Supervisor({
      name: 'hsm',
      clock,
      backoff: { baseMs: 60_000, capMs: 60_000 },
      open: async () => {
        opens++;
      },
      close: () => new Promise<void>((r) => (release = r)),
    });
    await s.start();
    expect(await s.settled()).toBe('ready');
    const lost = s.lost(new Error('session closed'));
    const outcome = s.settled();
    s.retryNow();
    release();
    await lost;
    expect(await outcome).toBe('retrying');
    expect(await s.settled()).toBe('ready');
    expect(opens).toBe(2);
    expect(clock.pending).toBe(0);
  });
});
