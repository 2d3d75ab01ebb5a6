// One way to say "how long ago" in any language, through Intl.RelativeTimeFormat. Browser-safe.
// A time in the future (a clock a little ahead of ours) reads as "now", never as negative minutes.

// Each unit: how many of it make the next, and below how many we still say it (48 hours, not 2 days).
const units: [Intl.RelativeTimeFormatUnit, number, number][] = [
  ['second', 60, 60],
  ['minute', 60, 60],
  ['hour', 24, 48],
];

/** "3 minutes ago", "3 分前", "há 3 minutos"; `atMs` later than `nowMs` is "now". */
export function relativeTime(atMs: number, nowMs: number, locale: string): string {
  const format = new Intl.RelativeTimeFormat(locale, { numeric: 'auto' });
  let amount = Math.max(0, (nowMs - atMs) / 1000);
  for (const [unit, perNext, below] of units) {
    if (amount < below) {
      const whole = Math.floor(amount);
      // Under ten seconds is "now": a tap's own clock jitter is not worth a number.
      if (unit === 'second' && whole < 10) return format.format(0, 'second');
      return format.format(-whole, unit);
    }
    amount /= perNext;
  }
  return format.format(-Math.floor(amount), 'day');
}

/** The same for an ISO time; null or unparsable → null (the caller says "never" in its own words). */
export function relativeTimeIso(iso: string | null, nowMs: number, locale: string): string | null {
  if (!iso) return null;
  const at = Date.parse(iso);
  return Number.isFinite(at) ? relativeTime(at, nowMs, locale) : null;
}
