// A venue delegation: the root of trust lends one site's checkpoints to a venue hub's own key. Signed by
// a threshold of the root keys of the root a terminal trusts, it names the site, the venue hub's terminal
// id at the central hub and its Ed25519 key, and a validity window. A terminal takes it only for its own
// site; with it, the venue key may sign what a relay must sign itself — pull checkpoints, push replies and
// the site's peer-entries batches — and nothing else: whitelist and revocation batches and snapshot
// manifests stay signed end to end by the central publisher (feed-format.ts refuses them from a venue key).
//
// Signed delegation = header line `{"signatures":[{"kid","sig"},…]}` + "\n" + payload JSON; each signature
// Ed25519 over DOMAIN ‖ payload bytes by a root key (the root's own layout, root-of-trust.ts).
import { createPublicKey, verify as edVerify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { KioskError } from '../base/errors.js';
import { Feeds, publisherKeyId, type FeedSigner, type PublisherTrust } from './feed-format.js';
import type { RootOfTrust } from './root-of-trust.js';

export const DELEGATION_FORMAT = 'jpki-kiosk/delegation/v1';
const DOMAIN = Buffer.from('jpki-kiosk/delegation/v1\n', 'utf8');
export const MAX_DELEGATION_BYTES = 16 * 1024;

export const DelegationPayload = z
  .object({
    format: z.literal(DELEGATION_FORMAT),
    /** The one site whose terminals may trust the venue key. */
    site: z.string().min(1).max(64),
    /** The venue hub's terminal id at the central hub (it forwards its site's journals under it). */
    venueId: z.string().min(1).max(64),
    venueKey: z
      .object({
        keyId: z.string().regex(/^[0-9a-f]{32}$/),
        publicKey: z
          .string()
          .regex(/^[A-Za-z0-9+/]*={0,2}$/)
          .max(1024),
      })
      .strict(),
    notBefore: z.iso.datetime({ offset: true }),
    expires: z.iso.datetime({ offset: true }),
  })
  .strict();
export type DelegationPayload = z.output<typeof DelegationPayload>;

export interface Delegation {
  site: string;
  venueId: string;
  venueKeyId: string;
  venueKey: KeyObject;
  notBefore: number;
  expires: number;
  bytes: Buffer;
}

const invalid = (message: string) => new KioskError('DELEGATION_INVALID', message);

/** Signs a delegation with root key(s) (the central hub's `hub venue delegate`). */
export function signDelegation(p: DelegationPayload, rootSigners: readonly FeedSigner[]): Buffer {
  const payload = Buffer.from(JSON.stringify(DelegationPayload.parse(p)), 'utf8');
  const signatures = rootSigners.map((s) => ({
    kid: s.keyId,
    sig: s.sign(Buffer.concat([DOMAIN, payload])).toString('base64'),
  }));
  return Buffer.concat([Buffer.from(JSON.stringify({ signatures }) + '\n', 'utf8'), payload]);
}

/**
 * Verifies a delegation against the trusted root (a threshold of its root keys), and that it is for
 * `site` (when given) and current at `now`. DELEGATION_INVALID otherwise.
 */
export function openDelegation(
  bytes: Uint8Array,
  root: RootOfTrust,
  expect: { site?: string | null; now: number },
): Delegation {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buf.length > MAX_DELEGATION_BYTES) throw invalid('delegation: too large');
  const nl = buf.indexOf(0x0a);
  if (nl <= 0) throw invalid('delegation: no header line');
  let header: { signatures?: unknown };
  let json: unknown;
  try {
    header = JSON.parse(buf.subarray(0, nl).toString('utf8')) as typeof header;
    json = JSON.parse(buf.subarray(nl + 1).toString('utf8'));
  } catch {
    throw invalid('delegation: not JSON');
  }
  const sigs = z
    .array(z.object({ kid: z.string().max(64), sig: z.string().max(128) }).strict())
    .max(32)
    .safeParse(header.signatures);
  if (!sigs.success) throw invalid('delegation: header lacks a signature list');
  const parsed = DelegationPayload.safeParse(json);
  if (!parsed.success) throw invalid(`delegation: ${parsed.error.issues[0]?.message ?? 'malformed'}`);
  const message = Buffer.concat([DOMAIN, buf.subarray(nl + 1)]);
  const signedBy = new Set<string>();
  for (const s of sigs.data) {
    const key = root.rootKeys.find((k) => k.keyId === s.kid);
    if (!key || signedBy.has(s.kid)) continue;
    const sig = Buffer.from(s.sig, 'base64');
    try {
      if (sig.length === 64 && edVerify(null, message, key.publicKey, sig)) signedBy.add(s.kid);
    } catch {
      // not a signature
    }
  }
  if (signedBy.size < root.threshold)
    throw invalid(
      `delegation for site ${parsed.data.site} is not signed by ${root.threshold} root key(s) of the trusted root v${root.version}`,
    );
  const p = parsed.data;
  let venueKey: KeyObject;
  try {
    venueKey = createPublicKey({
      key: Buffer.from(p.venueKey.publicKey, 'base64'),
      format: 'der',
      type: 'spki',
    });
  } catch {
    throw invalid('delegation: the venue key is not a public key');
  }
  if (venueKey.asymmetricKeyType !== 'ed25519' || publisherKeyId(venueKey) !== p.venueKey.keyId)
    throw invalid('delegation: the venue key is not the Ed25519 key its id names');
  if (root.publishers.some((k) => k.keyId === p.venueKey.keyId))
    throw invalid('delegation: a publisher key cannot also be a venue key');
  if (expect.site != null && p.site !== expect.site)
    throw invalid(`delegation is for site ${p.site}, this terminal is at site ${expect.site}`);
  const notBefore = Date.parse(p.notBefore);
  const expires = Date.parse(p.expires);
  if (!(expires > notBefore)) throw invalid('delegation: expires before it starts');
  if (expect.now < notBefore || expect.now > expires)
    throw invalid(`delegation for site ${p.site} is not valid now (${p.notBefore} – ${p.expires})`);
  return {
    site: p.site,
    venueId: p.venueId,
    venueKeyId: p.venueKey.keyId,
    venueKey,
    notBefore,
    expires,
    bytes: Buffer.from(buf),
  };
}

/**
 * `trust` plus the venue key, limited to its site (feed-format.ts reads `site`: peer-entries batches of
 * that site, checkpoints and push replies only). A delegation past its window adds nothing.
 */
export function withDelegation(trust: PublisherTrust, d: Delegation | null, now: number): PublisherTrust {
  if (!d || now < d.notBefore || now > d.expires) return trust;
  return { publishers: [...trust.publishers, { publicKey: d.venueKey, feeds: Feeds, site: d.site }] };
}
