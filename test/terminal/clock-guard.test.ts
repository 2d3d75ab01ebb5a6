import { describe, expect, it } from 'vitest';
import { clockFault } from '../../main/core/clock.js';

const build = Date.parse('2026-11-10T00:00:00Z');
const now = Date.parse('2026-11-21T09:00:00Z');

describe('clock guard', () => {
  it('passes a sane clock with or without a hub observation', () => {
    expect(clockFault({ now, buildTime: build, lastHub: null, maxSkewSeconds: 300 })).toBeNull();
    expect(
      clockFault({
        now,
        buildTime: build,
        lastHub: { hubTime: now - 60_000, localTime: now - 59_000 },
        maxSkewSeconds: 300,
      }),
    ).toBeNull();
  });

  it('faults a time before the build (a kiosk whose RTC battery died boots in 1970 or 2000)', () => {
    const fault = clockFault({
      now: Date.parse('2000-01-01T00:00:00Z'),
      buildTime: build,
      lastHub: null,
      maxSkewSeconds: 300,
    });
    expect(fault?.code).toBe('CLOCK_FAULT');
    expect(fault?.message).toContain('earlier than this build');
  });

  it('faults a clock that was far from the hub at the last sync, or has gone back behind it', () => {
    expect(
      clockFault({
        now,
        buildTime: build,
        lastHub: { hubTime: now - 3600_000, localTime: now },
        maxSkewSeconds: 300,
      })?.message,
    ).toContain('off the hub');
    expect(
      clockFault({
        now,
        buildTime: build,
        lastHub: { hubTime: now + 3600_000, localTime: now + 3600_000 },
        maxSkewSeconds: 300,
      })?.message,
    ).toContain('behind the last hub time');
  });
});
