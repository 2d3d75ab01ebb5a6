// The venue roster: the central hub's answer to a venue hub asking which terminals its site has, with
// each terminal's key and state. A venue admits its site's terminals on the LAN by this list alone, so the
// list is signed by the central publisher and bound to the venue's request nonce: a man in the middle (a
// TLS-terminating proxy, a mis-issued certificate) can neither add a terminal key nor replay an old list
// to bring back a key the operator rotated or a terminal the operator disabled.
import { z } from 'zod';
import { KioskError } from '../base/errors.js';
import { openBlob, signBlob, type PublisherKey, type PublisherTrust } from './feed-format.js';

const VENUE_ROSTER_DOMAIN = Buffer.from('jpki-kiosk/venue-roster/v1\n', 'utf8');
export const VENUE_ROSTER_FORMAT = 'jpki-kiosk/venue-roster/v1';

/** What the operator has set for a terminal (hub `terminals disable|enable|retire`). */
export const TerminalStates = ['active', 'disabled', 'retiring', 'retired'] as const;
export type TerminalState = (typeof TerminalStates)[number];

const RosterTerminal = z
  .object({
    terminalId: z.string().min(1).max(64),
    publicKeyPem: z.string().min(1).max(4096),
    siteId: z.string().min(1).max(64),
    gateId: z.string().max(64),
    zone: z.string().max(64),
    siteKind: z.string().max(64),
    state: z.enum(TerminalStates),
    stateReason: z.string().max(512).nullable(),
  })
  .strict();
export type RosterTerminal = z.output<typeof RosterTerminal>;

export const SignedVenueRoster = z
  .object({
    format: z.literal(VENUE_ROSTER_FORMAT),
    publisherKeyId: z.string().regex(/^[0-9a-f]{32}$/),
    venueId: z.string().min(1).max(64),
    nonce: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
    site: z.string().min(1).max(64),
    hubTime: z.number().int().nonnegative(),
    terminals: z.array(RosterTerminal).max(100_000),
  })
  .strict();
export type SignedVenueRoster = z.output<typeof SignedVenueRoster>;

export function signVenueRoster(r: SignedVenueRoster, key: PublisherKey): Buffer {
  return signBlob(VENUE_ROSTER_DOMAIN, Buffer.from(JSON.stringify(r), 'utf8'), key);
}

/**
 * Verifies the central publisher's signature and that the roster answers this venue's request for its
 * site; SYNC_REPLY_INVALID otherwise. `trust` is the central root without any delegation: a venue key
 * never speaks for the roster.
 */
export function openVenueRoster(
  bytes: Uint8Array,
  trust: PublisherTrust,
  expect: { nonce: string; venueId: string; site: string },
): SignedVenueRoster {
  const opened = openBlob(bytes, VENUE_ROSTER_DOMAIN, trust, {
    malformed: 'SYNC_REPLY_INVALID',
    signature: 'SYNC_REPLY_INVALID',
    publisher: 'SYNC_REPLY_INVALID',
  });
  if (opened.site !== null)
    throw new KioskError('SYNC_REPLY_INVALID', 'venue roster signed by a delegated key, not the publisher');
  const parsed = SignedVenueRoster.safeParse(opened.payload);
  if (!parsed.success) throw new KioskError('SYNC_REPLY_INVALID', 'venue roster: malformed');
  const r = parsed.data;
  if (r.publisherKeyId !== opened.kid)
    throw new KioskError('SYNC_REPLY_INVALID', 'venue roster names a publisher other than its signer');
  if (r.nonce !== expect.nonce || r.venueId !== expect.venueId)
    throw new KioskError('SYNC_REPLY_INVALID', 'venue roster answers another request (replayed)');
  if (r.site !== expect.site || r.terminals.some((t) => t.siteId !== expect.site))
    throw new KioskError(
      'SYNC_REPLY_INVALID',
      `venue roster lists terminals of a site other than ${expect.site}`,
    );
  return r;
}
