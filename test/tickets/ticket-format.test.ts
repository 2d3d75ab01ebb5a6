import { describe, expect, it } from 'vitest';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { signTicket, verifyTicket, type TicketFieldsInput } from '../../protocol/ticket.js';
import type { PublisherTrust } from '../../protocol/feed-format.js';
import { seededRandom } from '../support/seeded-random.js';

const publisher = generateKeyPairSync('ed25519').privateKey;
const trust: PublisherTrust = {
  publishers: [{ publicKey: createPublicKey(publisher), feeds: ['whitelist'] }],
};
const fields: TicketFieldsInput = {
  v: 1,
  id: 'T-000123',
  eventId: 'EV-2026',
  seat: 'A-1',
  zones: ['north'],
  gates: ['gate-a'],
  validFrom: '2026-01-01T00:00:00Z',
  validTo: '2027-01-01T00:00:00Z',
  entries: 1,
  language: 'vi',
};

describe('the QR ticket format', () => {
  it('verifies with the pinned publisher and gives the fields back', () => {
    const verdict = verifyTicket(signTicket(fields, publisher), trust);
    expect(verdict).toMatchObject({ ok: true, ticket: { id: 'T-000123', seat: 'A-1', language: 'vi' } });
  });

  it('any changed byte of the fields or the signature is refused (seeded)', () => {
    const text = signTicket(fields, publisher);
    const [prefix, body, kid, sig] = text.split('.') as [string, string, string, string];
    const random = seededRandom(33);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    for (let i = 0; i < 300; i++) {
      const part = random() < 0.5 ? 'body' : 'sig';
      const target = part === 'body' ? body : sig;
      const at = Math.floor(random() * target.length);
      const swapped = alphabet[(alphabet.indexOf(target[at]!) + 1 + Math.floor(random() * 62)) % 64]!;
      const changed = target.slice(0, at) + swapped + target.slice(at + 1);
      const forged = [prefix, part === 'body' ? changed : body, kid, part === 'sig' ? changed : sig].join(
        '.',
      );
      if (forged === text) continue;
      const verdict = verifyTicket(forged, trust);
      // A change in the last base64url character's unused bits decodes to the same bytes: still genuine.
      const sameBytes =
        Buffer.from(part === 'body' ? changed : body, 'base64url').equals(Buffer.from(body, 'base64url')) &&
        Buffer.from(part === 'sig' ? changed : sig, 'base64url').equals(Buffer.from(sig, 'base64url'));
      expect(verdict.ok, `${part}[${at}]`).toBe(sameBytes);
    }
  });

  it('refuses unknown publishers, publishers not allowed the whitelist, and malformed text', () => {
    const other = generateKeyPairSync('ed25519').privateKey;
    expect(verifyTicket(signTicket(fields, other), trust)).toEqual({ ok: false, why: 'unknown_publisher' });
    const revocationsOnly: PublisherTrust = {
      publishers: [{ publicKey: createPublicKey(publisher), feeds: ['revocations'] }],
    };
    expect(verifyTicket(signTicket(fields, publisher), revocationsOnly)).toEqual({
      ok: false,
      why: 'unknown_publisher',
    });
    for (const text of ['', 'JKT1', 'JKT2.a.b.c', 'JKT1.a.b', 'JKT1.!!.00.zz', 'x'.repeat(5000)])
      expect(verifyTicket(text, trust).ok, text.slice(0, 20)).toBe(false);
  });

  it('the signer refuses fields the terminal would refuse', () => {
    expect(() => signTicket({ ...fields, id: 'no spaces allowed' }, publisher)).toThrow();
    expect(() => signTicket({ ...fields, language: 'xx' as never }, publisher)).toThrow();
  });
});
