// Time and timers, injected. Every part that reads the time or waits (staff expiry, PIN and kiosk
// session timeouts, backoff, data age) takes a Clock, so that each timeout can be tested on a fake clock
// and the terminal has one notion of "now".

export interface Clock {
  /** Wall-clock milliseconds since the epoch. */
  now(): number;
  /** Runs `fn` once after `ms`; the handle is opaque. Timers never keep the process alive. */
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    const handle = setTimeout(fn, ms);
    handle.unref?.();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
