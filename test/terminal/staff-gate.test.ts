// Staff mode is decided by the contract's `staff` flag alone: the one gate refuses every staff command
// while locked, in the real terminal and for a command nobody wrote a check for.
import { describe, expect, it } from 'vitest';
import { Commands, CommandNames } from '../../main/api/contract.js';
import { withStaffGate } from '../../main/api/staff-gate.js';
import type { KioskEvent } from '../../main/api/contract.js';
import type { Decision } from '../../base/decision.js';
import { makeDecision } from '../support/fake-core.js';
import { STAFF_PIN, unstartedTerminal } from './helpers.js';

describe('staff gate', () => {
  it('refuses a new staff command that has no hand-written check while locked, runs it when unlocked', async () => {
    const table = { ...Commands, wipeEverything: { staff: true }, ping: { staff: false } };
    let wiped = 0;
    let unlocked = false;
    let extended = 0;
    const core = {
      wipeEverything: async () => {
        wiped++;
        return { ok: true as const };
      },
      ping: async () => 'pong',
    };
    const gated = withStaffGate(core, { unlocked: () => unlocked, extend: () => void extended++ }, table);
    await expect(gated.wipeEverything()).rejects.toMatchObject({ code: 'STAFF_LOCKED' });
    expect(wiped).toBe(0);
    expect(await gated.ping()).toBe('pong');
    unlocked = true;
    expect(await gated.wipeEverything()).toEqual({ ok: true });
    expect({ wiped, extended }).toEqual({ wiped: 1, extended: 1 });
  });

  it('the terminal refuses every staff: true command of the contract while locked', async () => {
    const { terminal } = unstartedTerminal();
    const staffCommands = CommandNames.filter((name) => Commands[name].staff);
    expect(staffCommands.length).toBeGreaterThan(5);
    for (const name of staffCommands) {
      const run = terminal[name] as (request: unknown) => Promise<unknown>;
      await expect(run.call(terminal, undefined), name).rejects.toMatchObject({ code: 'STAFF_LOCKED' });
    }
    await terminal.close();
  });

  it('staff mode expires five minutes after the last staff command, on the terminal clock', async () => {
    const { terminal, clock } = unstartedTerminal();
    await terminal.staffUnlock({ method: 'pin', pin: STAFF_PIN });
    await clock.advance(4 * 60_000);
    // A staff command keeps staff mode open another five minutes.
    expect((await terminal.listSiteOptions(undefined)).siteKinds).toContain('shelter');
    await clock.advance(4 * 60_000);
    await terminal.setVolume({ volume: 0.5 });
    expect(terminal.status().staff.unlocked).toBe(true);
    await clock.advance(5 * 60_000);
    expect(terminal.status().staff).toEqual({ unlocked: false, until: null });
    await expect(terminal.setVolume({ volume: 0.4 })).rejects.toMatchObject({ code: 'STAFF_LOCKED' });
    await terminal.close();
  });

  it('decision events leave the core without the staff view while staff mode is locked', async () => {
    const { terminal } = unstartedTerminal();
    const seen: KioskEvent[] = [];
    terminal.subscribe((e) => seen.push(e));
    const decision = makeDecision({ staffView: { displayName: '山田 花子', careNeeds: ['insulin'] } });
    const emit = (terminal as unknown as { emitEvent(e: KioskEvent): void }).emitEvent.bind(terminal);
    emit({ name: 'decision', payload: decision });
    await terminal.staffUnlock({ method: 'pin', pin: STAFF_PIN });
    emit({ name: 'decision', payload: decision });
    const decisions = seen.filter((e) => e.name === 'decision').map((e) => e.payload as Decision);
    expect(decisions.map((d) => d.staffView)).toEqual([{}, decision.staffView]);
    expect(decisions[0]!.publicView).toEqual(decision.publicView);
    await terminal.close();
  });
});
