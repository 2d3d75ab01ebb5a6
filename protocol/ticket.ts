// The QR ticket: for people without a card. A ticket is its fields as JSON, signed with Ed25519 by a
// publisher key that may publish the whitelist feed (the same keys, pinned by the same root of trust),
// so a terminal checks it offline. On paper or a phone it is one line of text for a QR code:
//
//   JKT1.<base64url(fields JSON)>.<publisher key id>.<base64url(signature)>
//
// The signature covers TICKET_DOMAIN ‖ the exact field bytes, which are verified before they are parsed.
// A ticket is revoked through the revocation feed under TICKET_ISSUER_KEY_ID and its number as the
// serial (ticketRevocationSerial), so revoking needs nothing new at the hub or on the terminal.
import { createHash, verify as edVerify } from 'node:crypto';
import { z } from 'zod';
import { Languages } from '../base/languages.js';
import { asFeedSigner, type PublisherKey, type PublisherTrust, publisherKeyId } from './feed-format.js';

export const TICKET_PREFIX = 'JKT1';
const TICKET_DOMAIN = Buffer.from('jpki-kiosk ticket v1\n', 'utf8');

/** The "issuer" under which tickets sit in the revocation feed (hex of "qr-ticket"). */
export const TICKET_ISSUER_KEY_ID = Buffer.from('qr-ticket', 'utf8').toString('hex');

/** A ticket number as the revocation feed's serial: its UTF-8 bytes in hex. */
export function ticketRevocationSerial(ticketId: string): string {
  return Buffer.from(ticketId, 'utf8').toString('hex');
}

const IsoTime = z.iso.datetime({ offset: true });
const Short = z.string().min(1).max(32);

export const TicketFields = z
  .object({
    v: z.literal(1),
    /** The ticket number: printed on the ticket, what staff look a person up by. */
    id: z.string().regex(/^[A-Za-z0-9-]{4,32}$/, 'letters, digits and dashes (4–32)'),
    eventId: z.string().min(1).max(64),
    seat: Short.optional(),
    zones: z.array(Short).max(16).default([]),
    gates: z.array(Short).max(16).default([]),
    validFrom: IsoTime,
    validTo: IsoTime,
    /** Entries allowed; 0 = unlimited. */
    entries: z.number().int().min(0).max(255).default(1),
    language: z.enum(Languages).optional(),
  })
  .strict();
export type TicketFields = z.output<typeof TicketFields>;
export type TicketFieldsInput = z.input<typeof TicketFields>;

/** Publisher side: the QR text of a ticket. */
export function signTicket(fields: TicketFieldsInput, key: PublisherKey): string {
  const parsed = TicketFields.parse(fields);
  const payload = Buffer.from(JSON.stringify(parsed), 'utf8');
  const signer = asFeedSigner(key);
  const sig = signer.sign(Buffer.concat([TICKET_DOMAIN, payload]));
  return [TICKET_PREFIX, payload.toString('base64url'), signer.keyId, sig.toString('base64url')].join('.');
}

export type TicketVerdict =
  | { ok: true; ticket: TicketFields; kid: string }
  | { ok: false; why: 'malformed' | 'unknown_publisher' | 'bad_signature' };

/**
 * Terminal side: the signature against the pinned publishers (those that may publish the whitelist),
 * then the fields. Never throws on what a scanner hands in: any text is a verdict.
 */
export function verifyTicket(text: string, trust: PublisherTrust): TicketVerdict {
  const parts = text.trim().split('.');
  if (parts.length !== 4 || parts[0] !== TICKET_PREFIX) return { ok: false, why: 'malformed' };
  const [, body, kid, sigText] = parts as [string, string, string, string];
  if (!/^[A-Za-z0-9_-]+$/.test(body) || !/^[A-Za-z0-9_-]+$/.test(sigText) || body.length > 2000)
    return { ok: false, why: 'malformed' };
  const publisher = trust.publishers.find(
    (p) => publisherKeyId(p.publicKey) === kid && p.feeds.includes('whitelist'),
  );
  if (!publisher) return { ok: false, why: 'unknown_publisher' };
  const payload = Buffer.from(body, 'base64url');
  const sig = Buffer.from(sigText, 'base64url');
  let good = false;
  try {
    good =
      sig.length === 64 && edVerify(null, Buffer.concat([TICKET_DOMAIN, payload]), publisher.publicKey, sig);
  } catch {
    good = false;
  }
  if (!good) return { ok: false, why: 'bad_signature' };
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return { ok: false, why: 'malformed' };
  }
  const fields = TicketFields.safeParse(json);
  if (!fields.success) return { ok: false, why: 'malformed' };
  return { ok: true, ticket: fields.data, kid };
}

const TICKET_ROW_DOMAIN = Buffer.from('jpki-kiosk ticket row v1\n', 'utf8');

/** A ticket number as printed: letters, digits and dashes (the same rule as a ticket's `id`). */
export const TICKET_NUMBER = /^[A-Za-z0-9-]{4,32}$/;

/**
 * Where a ticket's holder row sits in the whitelist feed, so that staff can look a holder up by the
 * ticket number offline when the card is forgotten: the row key is the ticket's revocation key (the
 * ticket "issuer" and its number, so revoking the number covers the row), and the row is sealed under a
 * hash of the number in place of a card's SPKI hash — a copied store opens it only for someone who
 * already knows the number. The row is an ordinary card record (the holder's subject and the ticket
 * entitlement), so presence and anti-passback are shared with the holder's card.
 */
export function ticketRowIdentity(ticketNumber: string): {
  issuerKeyId: string;
  serial: string;
  spkiSha256: string;
} {
  return {
    issuerKeyId: TICKET_ISSUER_KEY_ID,
    serial: ticketRevocationSerial(ticketNumber),
    spkiSha256: createHash('sha256').update(TICKET_ROW_DOMAIN).update(ticketNumber, 'utf8').digest('hex'),
  };
}
