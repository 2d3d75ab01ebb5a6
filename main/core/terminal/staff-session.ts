// Staff mode: unlocked by the staff PIN (compared in constant time), open for five minutes after the
// last staff action, and locked out for a minute after five wrong PINs. All on the injected clock.
import { timingSafeEqual } from 'node:crypto';
import type { Clock } from '../../../base/clock.js';
import { KioskError } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import type { StaffSessionPort } from '../../api/staff-gate.js';

const log = getLogger('staff');

export const STAFF_UNLOCK_MS = 5 * 60_000;
export const STAFF_MAX_FAILURES = 5;
export const STAFF_LOCKOUT_MS = 60_000;

export interface StaffSessionOptions {
  clock: Clock;
  /** Reads the configured staff PIN when it is needed (a secret is not kept in memory longer). */
  expectedPin: () => string;
  onChange?: () => void;
}

export class StaffSession implements StaffSessionPort {
  private until = 0;
  private failures = 0;
  private lockedOutUntil = 0;

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
    if (now < this.lockedOutUntil)
      throw new KioskError('STAFF_LOCKED', 'too many wrong staff PINs; wait a minute');
    const expected = Buffer.from(this.options.expectedPin());
    const given = Buffer.from(pin);
    const match = expected.length === given.length && timingSafeEqual(expected, given);
    if (!match) {
      this.failures++;
      if (this.failures >= STAFF_MAX_FAILURES) {
        this.failures = 0;
        this.lockedOutUntil = now + STAFF_LOCKOUT_MS;
      }
      log.warn('wrong staff PIN');
      throw new KioskError('STAFF_CREDENTIAL_WRONG', 'wrong staff PIN');
    }
    this.failures = 0;
    this.until = now + STAFF_UNLOCK_MS;
    this.options.onChange?.();
    return this.until;
  }

  lock(): void {
    this.until = 0;
    this.options.onChange?.();
  }
}
