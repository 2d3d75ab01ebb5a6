// Staff mode on a fake clock: five minutes after the last staff action, a one-minute lockout after five
// wrong PINs, and the PIN compared whatever its length.
import { describe, expect, it } from 'vitest';
import { StaffSession, STAFF_LOCKOUT_MS, STAFF_UNLOCK_MS } from '../../main/core/terminal/staff-session.js';
import { FakeClock } from '../support/fake-clock.js';

function session() {
  const clock = new FakeClock();
  return { clock, staff: new StaffSession({ clock, expectedPin: () => '2468' }) };
}

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return undefined;
}

describe('staff session', () => {
  it('unlocks for five minutes, and each staff action pushes the expiry back', async () => {
    const { clock, staff } = session();
    expect(STAFF_UNLOCK_MS).toBe(5 * 60_000);
    expect(staff.unlocked()).toBe(false);
    const until = staff.unlockWithPin('2468');
    expect(until).toBe(clock.now() + STAFF_UNLOCK_MS);
    expect(staff.expiresAt()).toBe(until);
    await clock.advance(STAFF_UNLOCK_MS - 1);
    expect(staff.unlocked()).toBe(true);
    staff.extend();
    await clock.advance(STAFF_UNLOCK_MS - 1);
    expect(staff.unlocked()).toBe(true);
    await clock.advance(1);
    expect(staff.unlocked()).toBe(false);
    expect(staff.expiresAt()).toBeNull();
    // Extending a locked session does not reopen it.
    staff.extend();
    expect(staff.unlocked()).toBe(false);
  });

  it('locks out for one minute after five wrong PINs, even for the right PIN', async () => {
    const { clock, staff } = session();
    for (let i = 0; i < 4; i++)
      expect(codeOf(() => staff.unlockWithPin('1111'))).toBe('STAFF_CREDENTIAL_WRONG');
    // A shorter or longer PIN is wrong too (constant-time compare needs equal lengths first).
    expect(codeOf(() => staff.unlockWithPin('24680'))).toBe('STAFF_CREDENTIAL_WRONG');
    expect(codeOf(() => staff.unlockWithPin('2468'))).toBe('STAFF_LOCKED');
    await clock.advance(STAFF_LOCKOUT_MS - 1);
    expect(codeOf(() => staff.unlockWithPin('2468'))).toBe('STAFF_LOCKED');
    await clock.advance(1);
    expect(codeOf(() => staff.unlockWithPin('2468'))).toBeUndefined();
    expect(staff.unlocked()).toBe(true);
  });

  it('a right PIN resets the count of wrong ones', () => {
    const { staff } = session();
    for (let i = 0; i < 4; i++)
      expect(codeOf(() => staff.unlockWithPin('0000'))).toBe('STAFF_CREDENTIAL_WRONG');
    staff.unlockWithPin('2468');
    staff.lock();
    expect(staff.unlocked()).toBe(false);
    for (let i = 0; i < 4; i++)
      expect(codeOf(() => staff.unlockWithPin('0000'))).toBe('STAFF_CREDENTIAL_WRONG');
    expect(codeOf(() => staff.unlockWithPin('2468'))).toBeUndefined();
  });
});
