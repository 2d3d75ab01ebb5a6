import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.js';
import { decideForSite, type PolicyInput, type PresenceRecord } from '../../main/core/sites/policy.js';
import { lastDailyReset } from '../../main/core/sites/stadium-gate/policy.js';
import type { CardRecord } from '../../whitelist/entitlements.js';

const rules = loadConfig({ profile: 'stadium-gate', env: {} }).policy;
const now = new Date('2026-11-21T18:00:00+09:00');
const ticket = (over: Record<string, unknown> = {}): CardRecord =>
  ({
    subject: 'P-1',
    entitlements: [
      {
        kind: 'ticket',
        eventId: 'E1',
        seat: 'B-12',
        zones: ['main'],
        gates: ['gate-a'],
        validFrom: '2026-11-21T17:00:00+09:00',
        validTo: '2026-11-21T21:00:00+09:00',
        entriesAllowed: 1,
        ...over,
      },
    ],
  }) as CardRecord;

function input(over: Partial<PolicyInput> = {}): PolicyInput {
  return {
    now,
    site: { kind: 'stadium-gate', gateId: 'gate-a', zone: 'main', direction: 'entry' },
    rules,
    record: ticket(),
    presence: null,
    lastAdmittedAt: null,
    ...over,
  };
}
const inside = (over: Partial<PresenceRecord> = {}): PresenceRecord => ({
  state: 'inside',
  gateId: 'gate-a',
  zone: 'main',
  at: now.getTime() - 60_000,
  entries: 1,
  ...over,
});

describe('stadium gate', () => {
  it('admits a ticket for this gate in its window, shows the seat and no name, and moves presence inside', () => {
    const r = decideForSite(input());
    expect(r).toMatchObject({
      outcome: 'admitted',
      reasons: ['ok'],
      publicView: { headline: 'ok', seat: 'B-12' },
      presenceChange: { to: 'inside' },
    });
    expect(JSON.stringify(r.publicView)).not.toContain('P-1');
  });

  it('refuses a card with no ticket, a ticket for another gate, and one outside its window (with tolerance)', () => {
    expect(decideForSite(input({ record: null })).reasons).toEqual(['not_registered']);
    expect(decideForSite(input({ record: ticket({ gates: ['gate-b'] }) })).reasons).toEqual(['wrong_gate']);
    expect(decideForSite(input({ record: ticket({ validFrom: '2026-11-21T18:14:00+09:00' }) })).outcome).toBe(
      'admitted',
    );
    expect(
      decideForSite(input({ record: ticket({ validFrom: '2026-11-21T18:16:00+09:00' }) })).reasons,
    ).toEqual(['outside_time_window']);
    expect(
      decideForSite(input({ record: ticket({ validTo: '2026-11-21T17:44:00+09:00' }) })).reasons,
    ).toEqual(['outside_time_window']);
  });

  it('hard anti-passback refuses a second entry while inside; soft admits it flagged', () => {
    expect(decideForSite(input({ presence: inside() }))).toMatchObject({
      outcome: 'refused',
      reasons: ['already_inside'],
      presenceChange: null,
    });
    const soft = {
      ...rules,
      stadium: { ...rules.stadium, antiPassback: { ...rules.stadium.antiPassback, mode: 'soft' as const } },
    };
    expect(decideForSite(input({ presence: inside(), rules: soft }))).toMatchObject({
      outcome: 'admitted',
      reasons: ['already_inside'],
    });
  });

  it('zone anti-passback ignores presence in another zone; timed anti-passback expires', () => {
    expect(decideForSite(input({ presence: inside({ zone: 'north', entries: 0 }) })).outcome).toBe(
      'admitted',
    );
    const timed = {
      ...rules,
      stadium: {
        ...rules.stadium,
        reentry: 'allow' as const,
        antiPassback: { ...rules.stadium.antiPassback, scope: 'timed' as const, timedMinutes: 30 },
      },
    };
    expect(
      decideForSite(input({ rules: timed, presence: inside({ at: now.getTime() - 10 * 60_000 }) })).reasons,
    ).toEqual(['already_inside']);
    expect(
      decideForSite(input({ rules: timed, presence: inside({ at: now.getTime() - 31 * 60_000 }) })).outcome,
    ).toBe('admitted');
  });

  it('re-entry after exit is allowed by default, refused when the ticket says deny', () => {
    const out = inside({ state: 'outside' });
    expect(decideForSite(input({ presence: out })).outcome).toBe('admitted');
    expect(decideForSite(input({ presence: out, record: ticket({ reentry: 'deny' }) })).reasons).toEqual([
      'already_inside',
    ]);
  });

  it('a daily reset forgets presence recorded before it', () => {
    const reset = lastDailyReset(now, rules.stadium.antiPassback.dailyResetAt);
    expect(decideForSite(input({ presence: inside({ at: reset - 1000 }) })).outcome).toBe('admitted');
    expect(decideForSite(input({ presence: inside({ at: reset + 1000 }) })).outcome).toBe('refused');
  });

  it('counts a double touch within the window once, without changing presence', () => {
    const r = decideForSite(input({ presence: inside(), lastAdmittedAt: now.getTime() - 2000 }));
    expect(r).toMatchObject({
      outcome: 'admitted',
      reasons: ['double_touch'],
      repeat: true,
      presenceChange: null,
    });
    expect(decideForSite(input({ presence: inside(), lastAdmittedAt: now.getTime() - 6000 })).outcome).toBe(
      'refused',
    );
  });

  it('never refuses an exit lane and moves presence outside', () => {
    const r = decideForSite(
      input({
        site: { kind: 'stadium-gate', gateId: 'gate-a', zone: 'main', direction: 'exit' },
        presence: inside(),
      }),
    );
    expect(r).toMatchObject({ outcome: 'admitted', direction: 'exit', presenceChange: { to: 'outside' } });
  });
});

describe('hospital reception', () => {
  const site = {
    kind: 'hospital-reception' as const,
    gateId: 'desk-1',
    zone: 'main',
    direction: 'entry' as const,
  };
  const insured = (over: Record<string, unknown> = {}): CardRecord =>
    ({
      subject: 'P-9',
      entitlements: [
        {
          kind: 'insurance',
          insurerNumber: '06139999',
          symbol: '12',
          number: '3456',
          branch: '01',
          copayRatio: 0.3,
          validFrom: '2025-04-01',
          status: 'valid',
          ...over,
        },
      ],
    }) as CardRecord;

  it('shows a valid qualification with its details to staff', () => {
    const r = decideForSite(input({ site, record: insured() }));
    expect(r.outcome).toBe('admitted');
    expect(r.staffView.insurance).toEqual({
      status: 'valid',
      insurerNumber: '06139999',
      symbol: '12',
      number: '3456',
      branch: '01',
      copayRatio: 0.3,
      validFrom: '2025-04-01',
    });
  });

  it('reports expired (by date or status), superseded (for staff) and not found', () => {
    expect(decideForSite(input({ site, record: insured({ validTo: '2026-03-31' }) })).reasons).toEqual([
      'entitlement_expired',
    ]);
    expect(
      decideForSite(input({ site, record: insured({ status: 'expired' }) })).staffView.insurance?.status,
    ).toBe('expired');
    expect(decideForSite(input({ site, record: insured({ status: 'superseded' }) }))).toMatchObject({
      outcome: 'staff',
      reasons: ['entitlement_superseded'],
    });
    expect(decideForSite(input({ site, record: null })).staffView.insurance).toEqual({ status: 'not_found' });
  });
});

describe('shelter', () => {
  const site = { kind: 'shelter' as const, gateId: 'entrance', zone: 'gym', direction: 'both' as const };
  const resident: CardRecord = {
    subject: 'R-1',
    entitlements: [
      {
        kind: 'resident',
        residentId: 'R-1',
        householdId: 'H-7',
        displayName: '山田 花子',
        careNeeds: ['wheelchair'],
      },
    ],
  };

  it('checks a resident in, then out, with the household for staff', () => {
    const first = decideForSite(input({ site, record: resident }));
    expect(first).toMatchObject({
      outcome: 'admitted',
      direction: 'entry',
      presenceChange: { to: 'inside' },
      staffView: { householdId: 'H-7', displayName: '山田 花子' },
    });
    const second = decideForSite(
      input({ site, record: resident, presence: inside({ zone: 'gym', at: now.getTime() - 3600_000 }) }),
    );
    expect(second).toMatchObject({ direction: 'exit', presenceChange: { to: 'outside' } });
  });

  it('admits a genuine card that is not on the list as unregistered, flagged for staff', () => {
    expect(decideForSite(input({ site, record: null }))).toMatchObject({
      outcome: 'admitted',
      reasons: ['unregistered_admitted'],
      presenceChange: { to: 'inside' },
    });
  });
});

describe('convenience kiosk', () => {
  const site = {
    kind: 'convenience-kiosk' as const,
    gateId: 'mfp-1',
    zone: 'store',
    direction: 'entry' as const,
  };
  it('opens a timed session for a member, refuses a non-member and an expired membership', () => {
    const member: CardRecord = { subject: 'M-1', entitlements: [{ kind: 'member', memberId: 'M-1' }] };
    expect(decideForSite(input({ site, record: member }))).toMatchObject({
      outcome: 'admitted',
      sessionSeconds: 120,
    });
    expect(decideForSite(input({ site, record: null })).reasons).toEqual(['not_registered']);
    const expired: CardRecord = {
      subject: 'M-2',
      entitlements: [{ kind: 'member', memberId: 'M-2', validTo: '2026-01-01' }],
    };
    expect(decideForSite(input({ site, record: expired })).reasons).toEqual(['entitlement_expired']);
  });
});
