// The demo's whitelist and revocation data: what each demo card is entitled to, so that every outcome
// of every site kind can be shown with the demo card set (sim/pki). Rows are built exactly as a hub
// builds them (keyed row hash, entitlement sealed under the card's SPKI hash) and applied as signed
// batches from the demo publisher key.
import type { CardRecordInput } from '../../whitelist/entitlements.js';

/** Demo event: wide validity so that the demo keeps working for years without regeneration. */
const EVENT = {
  eventId: 'DEMO-2026-FINAL',
  validFrom: '2026-01-01T00:00:00+09:00',
  validTo: '2030-12-31T23:59:59+09:00',
};

const ticket = (subject: string, seat: string, gates: string[]): CardRecordInput => ({
  subject,
  entitlements: [{ kind: 'ticket', ...EVENT, seat, zones: ['main'], gates, entriesAllowed: 1 }],
});

/** Demo card name → whitelist record. Cards not listed (unregistered, untrusted, tampered) have no row. */
export const DEMO_RECORDS: Readonly<Record<string, CardRecordInput>> = {
  valid: ticket('DEMO-P-0001', '1塁側 A-12', ['gate-a', 'gate-b']),
  revoked: ticket('DEMO-P-0002', '1塁側 A-13', ['gate-a']),
  expired: ticket('DEMO-P-0003', '1塁側 A-14', ['gate-a']),
  'wrong-gate': ticket('DEMO-P-0004', '3塁側 C-3', ['gate-c']),
  'already-inside': ticket('DEMO-P-0005', '外野 R-40', ['gate-a']),
  'pin-blocked': ticket('DEMO-P-0006', '1塁側 A-15', ['gate-a']),
  // A foreign visitor: the entry names Vietnamese, so the result screen speaks it for this person.
  'visitor-vi': { ...ticket('DEMO-P-0007', '1塁側 A-16', ['gate-a', 'gate-b']), language: 'vi' },
  insured: {
    subject: 'DEMO-H-0001',
    entitlements: [
      {
        kind: 'insurance',
        insurerNumber: '06139999',
        symbol: '東京12',
        number: '3456',
        branch: '01',
        copayRatio: 0.3,
        validFrom: '2025-04-01',
        status: 'valid',
      },
    ],
  },
  'insurance-expired': {
    subject: 'DEMO-H-0002',
    entitlements: [
      {
        kind: 'insurance',
        insurerNumber: '01130012',
        symbol: '札幌3',
        number: '778',
        copayRatio: 0.3,
        validFrom: '2022-04-01',
        validTo: '2026-03-31',
        status: 'expired',
      },
    ],
  },
  'shelter-resident': {
    subject: 'DEMO-R-0001',
    entitlements: [
      {
        kind: 'resident',
        residentId: 'R-0001',
        householdId: 'H-0007',
        displayName: '山田 花子',
        careNeeds: ['車椅子'],
      },
    ],
  },
  'kiosk-member': {
    subject: 'DEMO-M-0001',
    entitlements: [{ kind: 'member', memberId: 'M-0001', tier: 'standard' }],
  },
};

/** Demo QR tickets (people without a card): numbers the demo signs; the second is on the revocation list. */
export const DEMO_TICKETS = [
  { id: 'DEMO-T-0001', seat: '1塁側 B-1' },
  { id: 'DEMO-T-0002', seat: '1塁側 B-2' },
] as const;
export const DEMO_REVOKED_TICKETS = ['DEMO-T-0002'] as const;

/**
 * Ticket numbers staff may look up when the card is forgotten (holder rows in the whitelist feed,
 * protocol/ticket.ts ticketRowIdentity): the 'valid' card holder's ticket, under the same subject, so
 * the card and the number share one presence.
 */
export const DEMO_TICKET_NUMBERS: ReadonlyArray<{ number: string; record: CardRecordInput }> = [
  { number: 'TK-1001', record: DEMO_RECORDS.valid! },
  // The revoked QR ticket's number: revoking the number covers its holder row too.
  { number: 'DEMO-T-0002', record: ticket('ticket:DEMO-T-0002', '1塁側 B-2', ['gate-a']) },
];

/** Demo cards on the revocation list. */
export const DEMO_REVOKED = ['revoked'] as const;

/** Demo cards whose subject is inside at every demo start (anti-passback). */
export const DEMO_INSIDE = ['already-inside'] as const;
