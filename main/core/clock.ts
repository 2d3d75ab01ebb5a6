// The clock decides ticket windows, certificate validity and data age, so a wrong clock is a fault, not
// a silent pass: a time before this build was made, a time behind the last hub time, or a skew from the
// hub beyond the configured limit stops decisions with CLOCK_FAULT until the clock is right.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KioskError } from '../../base/errors.js';
import { projectRoot } from '../../config/paths.js';

/** Floor for builds without build-info.json (source checkouts): the date this guard was written. */
export const SOURCE_TIME_FLOOR = Date.parse('2026-11-01T00:00:00Z');

export interface HubTimeObservation {
  /** The hub's time when the terminal last synced (ms). */
  hubTime: number;
  /** The terminal's wall clock at that moment (ms). */
  localTime: number;
}

export interface ClockGuardInput {
  now: number;
  buildTime: number;
  lastHub: HubTimeObservation | null;
  maxSkewSeconds: number;
}

export function clockFault(input: ClockGuardInput): KioskError | null {
  const { now, buildTime, lastHub, maxSkewSeconds } = input;
  const limit = maxSkewSeconds * 1000;
  if (now < buildTime) {
    return new KioskError(
      'CLOCK_FAULT',
      `system time ${new Date(now).toISOString()} is earlier than this build (${new Date(buildTime).toISOString()})`,
    );
  }
  if (lastHub) {
    const skew = lastHub.localTime - lastHub.hubTime;
    if (Math.abs(skew) > limit) {
      return new KioskError(
        'CLOCK_FAULT',
        `system clock was ${Math.round(skew / 1000)} s off the hub at the last sync (limit ${maxSkewSeconds} s)`,
      );
    }
    if (now < lastHub.hubTime - limit) {
      return new KioskError(
        'CLOCK_FAULT',
        `system time ${new Date(now).toISOString()} is behind the last hub time ${new Date(lastHub.hubTime).toISOString()}`,
      );
    }
  }
  return null;
}

let cachedBuildTime: number | undefined;

/** When this build was made: dist/build-info.json written by the build, else the source floor. */
export function buildTime(): number {
  if (cachedBuildTime !== undefined) return cachedBuildTime;
  try {
    const info = JSON.parse(readFileSync(join(projectRoot(), 'dist', 'build-info.json'), 'utf8')) as {
      builtAt?: string;
    };
    const parsed = info.builtAt ? Date.parse(info.builtAt) : NaN;
    cachedBuildTime = Number.isFinite(parsed) ? Math.max(parsed, SOURCE_TIME_FLOOR) : SOURCE_TIME_FLOOR;
  } catch {
    cachedBuildTime = SOURCE_TIME_FLOOR;
  }
  return cachedBuildTime;
}
