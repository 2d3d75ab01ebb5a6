// The systemd watchdog pings only from a healthy process: under systemd's variables it notifies
// WATCHDOG=1 while `healthy()` answers true, skips while it is false (or throws), and does nothing at all
// without the variables or for another process's WATCHDOG_PID.
import { describe, expect, it, vi } from 'vitest';
import { startWatchdog, watchdogInterval } from '../../base/watchdog.js';

const env = { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '300000' };

describe('watchdog', () => {
  it('takes its interval from WATCHDOG_USEC, and only for this process', () => {
    expect(watchdogInterval(env)).toBe(100);
    expect(watchdogInterval({})).toBeNull();
    expect(watchdogInterval({ ...env, WATCHDOG_PID: String(process.pid) })).toBe(100);
    expect(watchdogInterval({ ...env, WATCHDOG_PID: String(process.pid + 1) })).toBeNull();
    expect(startWatchdog({ env: {}, healthy: () => true })).toBeNull();
  });

  it('pings while healthy and stops pinging while not', async () => {
    let healthy = true;
    const sent: string[] = [];
    const skipped: string[] = [];
    const dog = startWatchdog({
      env,
      healthy: () => healthy,
      notify: (s) => sent.push(s),
      onSkip: (why) => skipped.push(why),
    })!;
    try {
      await vi.waitFor(() => expect(sent.length).toBeGreaterThanOrEqual(2), { timeout: 5_000 });
      expect(new Set(sent)).toEqual(new Set(['WATCHDOG=1']));
      healthy = false;
      await vi.waitFor(() => expect(skipped).toContain('not healthy'), { timeout: 5_000 });
      const count = sent.length;
      await vi.waitFor(() => expect(skipped.length).toBeGreaterThanOrEqual(3), { timeout: 5_000 });
      // At most one ping was already under way when health turned false.
      expect(sent.length - count).toBeLessThanOrEqual(1);
    } finally {
      dog.stop();
    }
  });
});
