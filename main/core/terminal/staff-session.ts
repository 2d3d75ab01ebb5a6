// Staff mode: unlocked by the staff PIN (compared in constant time), open for five minutes after the
// last staff action. Wrong PINs lock staff mode out, longer each time: five wrong PINs → one minute,
// the next five → two, then four, … up to an hour; only a right PIN resets the ladder. With a 6-digit PIN
// that is about five guesses an hour once the ladder is up. The count and the lockout are kept by the
// terminal (terminal.db), so restarting the core does not reset them, and each lockout is journaled so
// the hub sees attempts at an unattended kiosk. All on the injected clock.
import { timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../../base/clock.js';
import { KioskError } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import type { StaffSessionPort } from '../../api/staff-gate.js';

const log = getLogger('staff');

export const STAFF_UNLOCK_MS = 5 * 60_000;
export const STAFF_MAX_FAILURES = 5;
/** The first lockout; each further one doubles, up to STAFF_LOCKOUT_MAX_MS. */
export const STAFF_LOCKOUT_MS = 60_000;
export const STAFF_LOCKOUT_MAX_MS = 60 * 60_000;

/** What survives a restart: wrong PINs since the last lockout, lockouts since the last right PIN. */
export interface StaffLockoutState {
  failures: number;
  lockouts: number;
  lockedOutUntil: number;
}

/** Where the lockout state is kept and lockouts are reported; absent: memory only (tests, CLI). */
export interface StaffLockoutStore {
  /** The stored state, or null when none is stored or the store is not open. */
  load(): StaffLockoutState | null;
  save(state: StaffLockoutState): void;
  /** A lockout began (journaled for the hub). */
  lockedOut(event: { failures: number; lockouts: number; untilMs: number }): void;
}

export interface StaffSessionOptions {
  clock: Clock;
  /** Reads the configured staff PIN when it is needed (a secret is not kept in memory longer). */
  expectedPin: () => string;
  onChange?: () => void;
  store?: StaffLockoutStore;
}

export function lockoutMs(lockouts: number): number {
  return Math.min(STAFF_LOCKOUT_MAX_MS, STAFF_LOCKOUT_MS * 2 ** Math.max(0, lockouts - 1));
}

export class StaffSession implements StaffSessionPort {
  private until = 0;
  private memory: StaffLockoutState = { failures: 0, lockouts: 0, lockedOutUntil: 0 };

  constructor(private readonly options: StaffSessionOptions) {}

  unlocked(): boolean {
    return this.options.clock.now() < this.until;
  }

  /** When staff mode locks again (epoch ms), or null while locked. */
  expiresAt(): number | null {
    return this.unlocked() ? this.until : null;
  }

  extend(): void {
    if (this.unlocked()) this.until = this.options.clock.now() + STAFF_UNLOCK_MS;
  }

  /** Checks the PIN; resolves the new expiry, or throws STAFF_CREDENTIAL_WRONG / STAFF_LOCKED. */
  unlockWithPin(pin: string): number {
    const now = this.options.clock.now();
    const state = this.load();
    if (now < state.lockedOutUntil) {
      const minutes = Math.ceil((state.lockedOutUntil - now) / 60_000);
      throw new KioskError(
        'STAFF_LOCKED',
        `too many wrong staff PINs; try again in ${minutes} minute${minutes === 1 ? '' : 's'}`,
      );
    }
    const expected = Buffer.from(this.options.expectedPin());
    const given = Buffer.from(pin);
    const match = expected.length === given.length && timingSafeEqual(expected, given);
    if (!match) {
      const next = { ...state, failures: state.failures + 1 };
      if (next.failures >= STAFF_MAX_FAILURES) {
        next.lockouts = state.lockouts + 1;
        next.lockedOutUntil = now + lockoutMs(next.lockouts);
        this.save({ ...next, failures: 0 });
        log.warn({ lockouts: next.lockouts, untilMs: next.lockedOutUntil }, 'staff PIN locked out');
        this.report({ failures: next.failures, lockouts: next.lockouts, untilMs: next.lockedOutUntil });
      } else {
        this.save(next);
        log.warn({ failures: next.failures }, 'wrong staff PIN');
      }
      throw new KioskError('STAFF_CREDENTIAL_WRONG', 'wrong staff PIN');
    }
    if (state.failures !== 0 || state.lockouts !== 0 || state.lockedOutUntil !== 0)
      this.save({ failures: 0, lockouts: 0, lockedOutUntil: 0 });
    this.until = now + STAFF_UNLOCK_MS;
    this.options.onChange?.();
    return this.until;
  }

  lock(): void {
    this.until = 0;
    this.options.onChange?.();
  }

  private load(): StaffLockoutState {
    try {
      const stored = this.options.store?.load();
      if (stored) this.memory = stored;
    } catch (error) {
      log.error({ err: (error as Error).message }, 'staff lockout state unreadable; using memory');
    }
    return this.memory;
  }

  private save(state: StaffLockoutState): void {
    this.memory = state;
    try {
      this.options.store?.save(state);
    } catch (error) {
      log.error({ err: (error as Error).message }, 'staff lockout state not saved; kept in memory');
    }
  }

  private report(event: { failures: number; lockouts: number; untilMs: number }): void {
    try {
      this.options.store?.lockedOut(event);
    } catch (error) {
      log.error({ err: (error as Error).message }, 'staff lockout not journaled');
    }
  }
}
