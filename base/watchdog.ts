// The systemd watchdog (sd_notify WATCHDOG=1) from a healthy event loop. Node has no unix datagram
// socket, so each ping runs `systemd-notify WATCHDOG=1` (NotifyAccess=all in the unit: the message comes
// from that child, in the service's cgroup). A ping goes out only when the timer that asks for it fired
// on time (the event loop is not stuck) and `healthy()` answers true within the interval; a wedged
// process therefore stops pinging and systemd restarts it after WatchdogSec. systemd-notify exits right
// after sending, and systemd can occasionally fail to attribute such a message (it reads the sender's
// cgroup after the fact), so the pings come three times per WatchdogSec: one lost ping never restarts.
import { spawn } from 'node:child_process';

export interface WatchdogOptions {
  env?: NodeJS.ProcessEnv;
  /** True while the process can do its job; a ping is skipped when it is false or slow. */
  healthy: () => boolean | Promise<boolean>;
  /** Sends one notification (default: systemd-notify); tests replace it. */
  notify?: (state: string) => void;
  onSkip?: (why: string) => void;
}

export interface Watchdog {
  intervalMs: number;
  stop(): void;
}

/** The ping interval from WATCHDOG_USEC (a third of it), or null when systemd asked for no watchdog. */
export function watchdogInterval(env: NodeJS.ProcessEnv): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.NOTIFY_SOCKET || !Number.isFinite(usec) || usec <= 0) return null;
  // WATCHDOG_PID names the process meant; a child that inherited the variables is not it.
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== process.pid && !env.JPKI_WATCHDOG_ANY_PID) return null;
  return Math.max(100, Math.floor(usec / 1000 / 3));
}

function systemdNotify(state: string): void {
  const child = spawn('systemd-notify', [state], { stdio: 'ignore' });
  child.on('error', () => undefined);
  child.unref();
}

export function startWatchdog(o: WatchdogOptions): Watchdog | null {
  const env = o.env ?? process.env;
  const intervalMs = watchdogInterval(env);
  if (intervalMs === null) return null;
  const notify = o.notify ?? systemdNotify;
  let expected = Date.now() + intervalMs;
  let stopped = false;
  const tick = async () => {
    const lag = Date.now() - expected;
    expected = Date.now() + intervalMs;
    if (lag > intervalMs) {
      o.onSkip?.(`event loop ${lag} ms late`);
      return;
    }
    const answer = await Promise.race([
      Promise.resolve()
        .then(o.healthy)
        .catch(() => false),
      new Promise<false>((r) => setTimeout(() => r(false), intervalMs).unref()),
    ]);
    if (!answer) o.onSkip?.('not healthy');
    else if (!stopped) notify('WATCHDOG=1');
  };
  const timer = setInterval(() => void tick(), intervalMs);
  timer.unref();
  return {
    intervalMs,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
