// Staff mode on a fake clock: five minutes after the last staff action, a one-minute lockout after five
// wrong PINs, and the PIN compared whatever its length.
import { describe, expect, it } from 'vitest';
import {
  lockoutMs,
  StaffSession,
  STAFF_LOCKOUT_MAX_MS,
  STAFF_LOCKOUT_MS,
  STAFF_MAX_FAILURES,
  STAFF_UNLOCK_MS,
} from '../../main/core/terminal/staff-session.js';
import { createTerminal } from '../../main/core/terminal/index.js';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../config/load.js';
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

describe('staff lockout escalates and survives a restart', () => {
  it('each further lockout doubles, up to an hour; a right PIN resets the ladder', async () => {
    const { clock, staff } = session();
    const wrongFive = () => {
      for (let i = 0; i < STAFF_MAX_FAILURES; i++)
        expect(codeOf(() => staff.unlockWithPin('1111'))).toBe('STAFF_CREDENTIAL_WRONG');
    };
    const expected = [1, 2, 4, 8, 16, 32, 60, 60].map((m) => m * 60_000);
    for (const ms of expected) {
      wrongFive();
      await clock.advance(ms - 1);
      expect(codeOf(() => staff.unlockWithPin('2468'))).toBe('STAFF_LOCKED');
      await clock.advance(1);
    }
    expect(expected.map((_, i) => lockoutMs(i + 1))).toEqual(expected);
    expect(STAFF_LOCKOUT_MAX_MS).toBe(60 * 60_000);
    expect(codeOf(() => staff.unlockWithPin('2468'))).toBeUndefined();
    wrongFive();
    await clock.advance(STAFF_LOCKOUT_MS);
    expect(codeOf(() => staff.unlockWithPin('2468'))).toBeUndefined();
  });

  it('a restarted core keeps the count and the lockout (terminal.db), and the lockout is journaled', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jpki-staff-lockout-'));
    const file = join(dir, 'site.json');
    writeFileSync(
      file,
      JSON.stringify({
        profile: 'shelter',
        ui: { staffPin: { env: 'TEST_STAFF_PIN' } },
        data: { dir, indexKey: { env: 'TEST_INDEX_KEY' } },
      }),
    );
    const config = loadConfig({ file, env: {} });
    const pin = '246813';
    const env = { TEST_STAFF_PIN: pin, TEST_INDEX_KEY: 'ab'.repeat(32) };
    const clock = new FakeClock();
    const first = await createTerminal({ config, clock, env, autoCheck: false });
    try {
      for (let i = 0; i < STAFF_MAX_FAILURES - 1; i++)
        await expect(first.staffUnlock({ method: 'pin', pin: '1111' })).rejects.toMatchObject({
          code: 'STAFF_CREDENTIAL_WRONG',
        });
    } finally {
      await first.close();
    }
    // The fifth wrong PIN after a restart still completes the first five.
    const second = await createTerminal({ config, clock, env, autoCheck: false });
    try {
      await expect(second.staffUnlock({ method: 'pin', pin: '1111' })).rejects.toMatchObject({
        code: 'STAFF_CREDENTIAL_WRONG',
      });
      await expect(second.staffUnlock({ method: 'pin', pin })).rejects.toMatchObject({
        code: 'STAFF_LOCKED',
      });
      const journal = second.devices.stores().journal;
      const records = journal
        .readSince(0, 1000)
        .map((r) => JSON.parse(r.body) as { kind: string; note?: string });
      expect(records.filter((r) => r.kind === 'staff-lockout')).toEqual([
        expect.objectContaining({ kind: 'staff-lockout', note: expect.stringContaining('lockout 1') }),
      ]);
    } finally {
      await second.close();
    }
    const third = await createTerminal({ config, clock, env, autoCheck: false });
    try {
      await expect(third.staffUnlock({ method: 'pin', pin })).rejects.toMatchObject({
        code: 'STAFF_LOCKED',
      });
      await clock.advance(STAFF_LOCKOUT_MS);
      expect((await third.staffUnlock({ method: 'pin', pin })).unlocked).toBe(true);
    } finally {
      await third.close();
    }
  });
});
