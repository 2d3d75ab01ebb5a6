// One scanned QR ticket, one decision, under the same rules as a card: the clock, the site's choice to
// accept tickets, the signature (offline, the pinned publishers of the whitelist), the revocation feed
// and its freshness policy, then the site policy with presence (anti-passback), the time window and the
// gates — the ticket's fields stand in for the whitelist row a card would have. The result commits
// through the same entry ledger, so the journal and the hub see it as another credential kind.
import type { AuthPath, ReasonCode } from '../../../base/decision.js';
import { getLogger } from '../../../base/log.js';
import type { CardRecord } from '../../../whitelist/entitlements.js';
import { KioskError } from '../../../base/errors.js';
import {
  TICKET_NUMBER,
  ticketRowIdentity,
  verifyTicket,
  type TicketFields,
} from '../../../protocol/ticket.js';
import { clockFault } from '../clock.js';
import { decideForSite } from '../sites/policy.js';
import {
  buildDecision,
  presenceFor,
  stalePolicyReasons,
  startTimer,
  type CheckContext,
  type CheckResult,
  type Timer,
} from './pipeline.js';

const log = getLogger('ticket');

export type TicketCheckContext = Pick<
  CheckContext,
  'config' | 'site' | 'data' | 'buildTime' | 'lastHub' | 'recentAdmits' | 'now'
>;

/** The subject a ticket's presence and journal records go under (never a card's platform id). */
export function ticketSubject(ticketId: string): string {
  return `ticket:${ticketId}`;
}

/** What a ticket entitles to, in the whitelist's own terms, so the site policies apply unchanged. */
export function ticketRecord(ticket: TicketFields): CardRecord {
  return {
    subject: ticketSubject(ticket.id),
    entitlements: [
      {
        kind: 'ticket',
        eventId: ticket.eventId,
        ...(ticket.seat ? { seat: ticket.seat } : {}),
        zones: ticket.zones,
        gates: ticket.gates,
        validFrom: ticket.validFrom,
        validTo: ticket.validTo,
        entriesAllowed: ticket.entries,
      },
    ],
    ...(ticket.language ? { language: ticket.language } : {}),
  };
}

/** A refused (or, for a wrong clock, error) decision on a ticket, with nothing of a person in it. */
function ticketRefusal(
  ctx: TicketCheckContext,
  parts: { direction: 'entry' | 'exit'; timer: Timer; at: Date; authPath?: AuthPath },
): (reason: ReasonCode, extra?: Partial<CheckResult>) => CheckResult {
  return (reason, extra = {}) => ({
    decision: {
      ...buildDecision(ctx, {
        outcome: reason === 'clock_fault' ? 'error' : 'refused',
        reasons: [reason],
        degraded: false,
        ...parts,
      }),
      credential: 'qr_ticket',
    },
    policy: null,
    subject: null,
    serialRef: null,
    record: null,
    ...extra,
  });
}

/** The same clock guard as a card's: a clock behind the build or the hub decides nothing. */
function ticketClockFault(ctx: TicketCheckContext, at: Date): boolean {
  return (
    clockFault({
      now: at.getTime(),
      buildTime: ctx.buildTime,
      lastHub: ctx.lastHub(),
      maxSkewSeconds: ctx.config.clock.maxSkewSeconds,
    }) !== null
  );
}

export function runTicketCheck(ctx: TicketCheckContext, scanned: string): CheckResult {
  const at = (ctx.now ?? (() => new Date()))();
  const timer = startTimer();
  const direction: 'entry' | 'exit' = ctx.site.direction === 'exit' ? 'exit' : 'entry';
  const fail = ticketRefusal(ctx, { direction, timer, at });

  if (ticketClockFault(ctx, at)) return fail('clock_fault');
  if (!ctx.config.site.tickets.accept) return fail('ticket_not_accepted');

  const verdict = verifyTicket(scanned, ctx.data.requireTrust(at.getTime()));
  timer.mark('signature');
  if (!verdict.ok) {
    // The scanned text is not logged: it is a bearer credential.
    log.info({ why: verdict.why }, 'ticket refused');
    return fail('ticket_invalid');
  }
  const ticket = verdict.ticket;
  // The revocation key of the ticket's number; a holder row under it (staff lookup) opens, unused.
  const lookup = ctx.data.lookup(ticketRowIdentity(ticket.id));
  const stale = stalePolicyReasons(ctx, at.getTime());
  timer.mark('revocation');
  if (lookup.revoked) return fail('revoked', { serialRef: lookup.serialRef });
  if (stale.refuse) return fail(stale.refuse, { serialRef: lookup.serialRef });

  const record = ticketRecord(ticket);
  timer.mark('whitelist');
  const policy = decideForSite({
    now: at,
    site: ctx.site,
    rules: ctx.config.policy,
    record,
    presence: presenceFor(ctx, record.subject),
    lastAdmittedAt: ctx.recentAdmits.get(lookup.serialRef) ?? null,
  });
  let outcome = policy.outcome;
  const reasons = [...policy.reasons];
  if (stale.staff && outcome === 'admitted') {
    outcome = 'staff';
    reasons.push('data_too_old');
  }
  if (stale.degraded) reasons.push('degraded');
  const shown = record.language
    ? { ...policy, publicView: { ...policy.publicView, language: record.language } }
    : policy;
  timer.mark('policy');
  return {
    decision: {
      ...buildDecision(ctx, {
        outcome,
        reasons,
        degraded: stale.degraded,
        direction: policy.direction,
        policy: shown,
        timer,
        at,
      }),
      credential: 'qr_ticket',
    },
    policy,
    subject: record.subject,
    serialRef: lookup.serialRef,
    record,
  };
}

/**
 * Staff look a holder up by ticket number (the card forgotten): the ticket's holder row in the whitelist
 * feed (protocol/ticket.ts ticketRowIdentity), the revocation feed under the same key and its freshness
 * policy, then the site policy with the holder's presence — the same rules as the card. The decision's
 * auth path is `staff-visual`: staff, not a card or a signature, vouch for the person, and the journal
 * says so. A number that is not well formed is INVALID_REQUEST (nothing is journaled).
 */
export function runTicketLookup(ctx: TicketCheckContext, ticketNumber: string): CheckResult {
  const number = ticketNumber.trim();
  if (!TICKET_NUMBER.test(number))
    throw new KioskError('INVALID_REQUEST', 'a ticket number is 4–32 letters, digits and dashes');
  const at = (ctx.now ?? (() => new Date()))();
  const timer = startTimer();
  const direction: 'entry' | 'exit' = ctx.site.direction === 'exit' ? 'exit' : 'entry';
  const fail = ticketRefusal(ctx, { direction, timer, at, authPath: 'staff-visual' });
  if (ticketClockFault(ctx, at)) return fail('clock_fault');
  const lookup = ctx.data.lookup(ticketRowIdentity(number));
  const stale = stalePolicyReasons(ctx, at.getTime());
  timer.mark('revocation');
  if (lookup.revoked) return fail('revoked', { serialRef: lookup.serialRef });
  if (stale.refuse) return fail(stale.refuse, { serialRef: lookup.serialRef });
  const record = lookup.card;
  timer.mark('whitelist');
  if (!record) return fail('not_registered', { serialRef: lookup.serialRef });
  const policy = decideForSite({
    now: at,
    site: ctx.site,
    rules: ctx.config.policy,
    record,
    presence: presenceFor(ctx, record.subject),
    lastAdmittedAt: ctx.recentAdmits.get(lookup.serialRef) ?? null,
  });
  let outcome = policy.outcome;
  const reasons = [...policy.reasons];
  if (stale.staff && outcome === 'admitted') {
    outcome = 'staff';
    reasons.push('data_too_old');
  }
  if (stale.degraded) reasons.push('degraded');
  timer.mark('policy');
  return {
    decision: {
      ...buildDecision(ctx, {
        outcome,
        reasons,
        degraded: stale.degraded,
        direction: policy.direction,
        policy,
        authPath: 'staff-visual',
        timer,
        at,
      }),
      credential: 'qr_ticket',
    },
    policy,
    subject: record.subject,
    serialRef: lookup.serialRef,
    record,
  };
}
