// Enrolling a terminal with a one-time code: what the terminal sends to POST /v1/enrol and what the hub
// answers. The terminal proves it holds the private key it offers by signing (in its HSM) a message that
// binds the code, the key and the hub it meant, so a request captured on its way to one hub cannot enrol
// the key at another, and nobody can enrol a key they do not hold.
import { createHash, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { z } from 'zod';

/** Crockford base32 without the look-alikes (I, L, O, U): what an operator can read out or type. */
export const ENROL_CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
/** 12 characters, 60 bits: shown as XXXX-XXXX-XXXX. */
export const ENROL_CODE_LENGTH = 12;

/** Upper case, dashes and spaces dropped, look-alikes mapped (O→0, I/L→1); null when not a code. */
export function normalizeEnrolmentCode(input: string): string | null {
  const c = input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (c.length !== ENROL_CODE_LENGTH) return null;
  for (const ch of c) if (!ENROL_CODE_ALPHABET.includes(ch)) return null;
  return c;
}

export function formatEnrolmentCode(code: string): string {
  return code.match(/.{1,4}/g)!.join('-');
}

/** What a QR code on the hub operator's screen carries: the code and, when known, the hub's URL. */
export function enrolmentUri(code: string, hubUrl: string | null): string {
  const q = new URLSearchParams({ code: formatEnrolmentCode(code) });
  if (hubUrl) q.set('hub', hubUrl);
  return `jpki-enrol:?${q.toString()}`;
}

/** Reads a scanned or typed QR payload (or a bare code). */
export function parseEnrolmentInput(input: string): { code: string; hubUrl: string | null } | null {
  const text = input.trim();
  if (text.startsWith('jpki-enrol:?')) {
    const q = new URLSearchParams(text.slice('jpki-enrol:?'.length));
    const code = normalizeEnrolmentCode(q.get('code') ?? '');
    return code ? { code, hubUrl: q.get('hub') } : null;
  }
  const code = normalizeEnrolmentCode(text);
  return code ? { code, hubUrl: null } : null;
}

export const ENROL_PROOF_DOMAIN = 'jpki-kiosk enrol v1';

/** The SPKI DER digest that names a key in the proof. */
export function keyDigest(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex');
}

/** The bytes the terminal signs with the key it offers (ECDSA P-256, SHA-256). */
export function enrolProofMessage(p: {
  code: string;
  publicKeyPem: string;
  authority: string;
  terminalId: string;
}): Buffer {
  return Buffer.from(
    [ENROL_PROOF_DOMAIN, p.code, keyDigest(p.publicKeyPem), p.authority, p.terminalId].join('\n'),
    'utf8',
  );
}

/** The terminal id a key gets when the terminal proposes none: stable for the key, unique per key. */
export function terminalIdForKey(publicKeyPem: string): string {
  return `t-${keyDigest(publicKeyPem).slice(0, 16)}`;
}

export const EnrolRequest = z
  .object({
    v: z.literal(1),
    code: z.string().min(1).max(64),
    /** SPKI PEM of the terminal's HSM key (ECDSA P-256). */
    publicKey: z.string().min(1).max(4096),
    terminalId: z
      .string()
      .regex(/^[A-Za-z0-9._-]{1,64}$/)
      .nullable(),
    /** The authority the terminal signed for (its configured hub URL's host and port). */
    authority: z.string().min(1).max(300),
    /** Raw r‖s, base64. */
    proof: z.string().min(1).max(200),
    /** The terminal software's version, for the fleet view. */
    version: z.string().max(64).optional(),
  })
  .strict();
export type EnrolRequest = z.infer<typeof EnrolRequest>;

export const EnrolAnswer = z
  .object({
    v: z.literal(1),
    hubId: z.string(),
    terminalId: z.string(),
    siteId: z.string(),
    gateId: z.string(),
    zone: z.string(),
    siteKind: z.string(),
    /** The hub's current signed root of trust (root.json bytes, base64). */
    root: z.string().nullable(),
  })
  .strict();
export type EnrolAnswer = z.infer<typeof EnrolAnswer>;

/** True when `proof` (raw r‖s) verifies over the message with the offered key. */
export function verifyEnrolProof(message: Buffer, publicKeyPem: string, proof: Buffer): boolean {
  try {
    return nodeVerify(
      'sha256',
      message,
      { key: createPublicKey(publicKeyPem), dsaEncoding: 'ieee-p1363' },
      proof,
    );
  } catch {
    return false;
  }
}
