// Stadium and venue gates: ticket validity window with tolerance, gates and zones, entry/exit lanes,
// anti-passback along the usual axes, re-entry rules, double touch counted once.
import type { Entitlement } from '../../../../whitelist/entitlements.js';
import type { PolicyInput, PolicyResult, PresenceRecord } from '../policy-types.js';

type Ticket = Extract<Entitlement, { kind: 'ticket' }>;

const MINUTE = 60_000;

/** The last daily reset instant at or before `now` (local time of the kiosk, HH:MM). */
export function lastDailyReset(now: Date, hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  const reset = new Date(now);
  reset.setHours(h, m, 0, 0);
  if (reset.getTime() > now.getTime()) reset.setDate(reset.getDate() - 1);
  return reset.getTime();
}

/** Presence as anti-passback sees it now: a daily reset forgets everything recorded before it. */
export function effectivePresence(input: PolicyInput): PresenceRecord | null {
  const presence = input.presence;
  if (!presence) return null;
  const apb = input.rules.stadium.antiPassback;
  if (apb.reset === 'daily' && presence.at < lastDailyReset(input.now, apb.dailyResetAt)) return null;
  return presence;
}

function inWindow(ticket: Ticket, now: number, toleranceMinutes: number): boolean {
  const tolerance = toleranceMinutes * MINUTE;
  return now >= Date.parse(ticket.validFrom) - tolerance && now <= Date.parse(ticket.validTo) + tolerance;
}

function fitsGate(ticket: Ticket, gateId: string, zone: string): boolean {
  return (
    (ticket.gates.length === 0 || ticket.gates.includes(gateId)) &&
    (ticket.zones.length === 0 || ticket.zones.includes(zone))
  );
}

function base(
  input: PolicyInput,
  direction: 'entry' | 'exit',
  ticket?: Ticket,
): Pick<PolicyResult, 'direction' | 'staffView' | 'presenceChange' | 'repeat'> {
  return {
    direction,
    presenceChange: null,
    repeat: false,
    staffView: {
      ...(input.record ? { subjectId: input.record.subject } : {}),
      ...(ticket
        ? {
            ticket: {
              eventId: ticket.eventId,
              ...(ticket.seat ? { seat: ticket.seat } : {}),
              zones: [...ticket.zones],
            },
          }
        : {}),
    },
  };
}

export function decideStadium(input: PolicyInput): PolicyResult {
  const rules = input.rules.stadium;
  const now = input.now.getTime();
  const direction: 'entry' | 'exit' =
    input.site.direction === 'exit'
      ? 'exit'
      : input.site.direction === 'both' && effectivePresence(input)?.state === 'inside'
        ? 'exit'
        : 'entry';
  const tickets = (input.record?.entitlements ?? []).filter((e): e is Ticket => e.kind === 'ticket');
  if (tickets.length === 0) {
    return {
      ...base(input, direction),
      outcome: 'refused',
      reasons: ['not_registered'],
      publicView: { headline: 'not_registered' },
    };
  }
  // Prefer a ticket that fits both this gate and the time; report the most specific failure otherwise.
  const timely = tickets.filter((t) => inWindow(t, now, rules.validityToleranceMinutes));
  const ticket = timely.find((t) => fitsGate(t, input.site.gateId, input.site.zone));
  if (!ticket) {
    const reason = timely.length === 0 ? 'outside_time_window' : 'wrong_gate';
    return {
      ...base(input, direction, timely[0] ?? tickets[0]),
      outcome: 'refused',
      reasons: [reason],
      publicView: { headline: reason },
    };
  }
  const view = { ...(ticket.seat ? { seat: ticket.seat } : {}), zone: input.site.zone };

  if (direction === 'exit') {
    // Exits are never refused: nobody is held inside by a data problem. Presence follows.
    return {
      ...base(input, 'exit', ticket),
      outcome: 'admitted',
      reasons: ['ok'],
      publicView: { headline: 'ok', ...view },
      presenceChange: { to: 'outside' },
    };
  }

  if (input.lastAdmittedAt !== null && now - input.lastAdmittedAt <= rules.doubleTouchSeconds * 1000) {
    return {
      ...base(input, 'entry', ticket),
      outcome: 'admitted',
      reasons: ['double_touch'],
      publicView: { headline: 'ok', ...view },
      repeat: true,
    };
  }

  const presence = effectivePresence(input);
  const apb = rules.antiPassback;
  const reasons: PolicyResult['reasons'] = [];
  if (presence?.state === 'inside' && apb.mode !== 'off') {
    const blocking =
      apb.scope === 'zone'
        ? presence.zone === input.site.zone
        : now - presence.at < apb.timedMinutes * MINUTE;
    if (blocking) {
      if (apb.mode === 'hard') {
        return {
          ...base(input, 'entry', ticket),
          outcome: 'refused',
          reasons: ['already_inside'],
          publicView: { headline: 'already_inside', ...view },
        };
      }
      reasons.push('already_inside'); // soft: admit and alert staff
    }
  }

  if (presence && presence.entries > 0) {
    const reentry = ticket.reentry ?? rules.reentry;
    const exhausted = ticket.entriesAllowed !== 0 && presence.entries >= ticket.entriesAllowed;
    const refusedReentry = reentry === 'deny' || (reentry === 'after-exit' && presence.state === 'inside');
    if (exhausted && refusedReentry && !reasons.includes('already_inside')) {
      return {
        ...base(input, 'entry', ticket),
        outcome: 'refused',
        reasons: ['already_inside'],
        publicView: { headline: 'already_inside', ...view },
      };
    }
  }

  return {
    ...base(input, 'entry', ticket),
    outcome: 'admitted',
    reasons: reasons.length ? reasons : ['ok'],
    publicView: { headline: 'ok', ...view },
    presenceChange: { to: 'inside' },
  };
}
