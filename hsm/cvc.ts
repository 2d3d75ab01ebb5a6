// Card-verifiable certificates (CVC) of a 特定機関 (special institution), in the style of BSI TR-03110
// CV certificates. The exact profile is this project's own design (docs/pinless-protocol.md): J-LIS
// has not published the real one. Pure code: used by the terminal (install, status), the mock CA
// (sim/institution-ca) and the virtual card (sim/card/terminal-auth.ts).
//
//   7F21 CV certificate
//     7F4E body
//       5F29 01 00                      profile identifier 0
//       42   CAR                        certification authority reference, ASCII
//       7F49 public key                 06 OID id-TA-ECDSA-SHA-256, 86 uncompressed P-256 point (65 bytes)
//       5F20 CHR                        holder reference = 特定機関コード, ASCII
//       7F4C CHAT                       53 01 <rights>; bit 0 = may unlock the user-authentication key
//       5F25 06 YYMMDD                  effective date, one digit per byte (0x00..0x09), UTC
//       5F24 06 YYMMDD                  expiry date, last valid day, UTC
//     5F37 40 r||s                      ECDSA P-256 / SHA-256 over the whole 7F4E TLV, by the CA
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { KioskError } from '../base/errors.js';

export const TAG = {
  cvCertificate: 0x7f21,
  body: 0x7f4e,
  profileId: 0x5f29,
  car: 0x42,
  publicKey: 0x7f49,
  oid: 0x06,
  ecPoint: 0x86,
  chr: 0x5f20,
  chat: 0x7f4c,
  rights: 0x53,
  effective: 0x5f25,
  expiry: 0x5f24,
  signature: 0x5f37,
} as const;

/** id-TA-ECDSA-SHA-256 (BSI TR-03110): 0.4.0.127.0.7.2.2.2.2.3 */
export const OID_TA_ECDSA_SHA256 = Uint8Array.from([
  0x04, 0x00, 0x7f, 0x00, 0x07, 0x02, 0x02, 0x02, 0x02, 0x03,
]);
/** CHAT right: the card may let its user-authentication key sign without the PIN (project's own bit). */
export const RIGHT_UNLOCK_AUTH_KEY = 0x01;

const REF_PATTERN = /^[0-9A-Z-]{1,16}$/;

export class CvcFormatError extends Error {
  override name = 'CvcFormatError';
}

// --- BER-TLV (tags of one or two bytes, definite lengths up to 0xFFFF) ------------------------

export interface Tlv {
  tag: number;
  value: Uint8Array;
  /** The whole encoding, tag and length included. */
  raw: Uint8Array;
}

export function encodeTlv(tag: number, value: Uint8Array): Uint8Array {
  const tagBytes = tag > 0xff ? [tag >> 8, tag & 0xff] : [tag];
  const n = value.length;
  if (n > 0xffff) throw new CvcFormatError('TLV value too long');
  const len = n < 0x80 ? [n] : n <= 0xff ? [0x81, n] : [0x82, n >> 8, n & 0xff];
  const out = new Uint8Array(tagBytes.length + len.length + n);
  out.set(tagBytes, 0);
  out.set(len, tagBytes.length);
  out.set(value, tagBytes.length + len.length);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Decodes a sequence of TLVs that must fill `bytes` exactly. */
export function decodeTlvs(bytes: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  let i = 0;
  while (i < bytes.length) {
    const start = i;
    let tag = bytes[i++]!;
    if ((tag & 0x1f) === 0x1f) {
      if (i >= bytes.length) throw new CvcFormatError('truncated tag');
      const next = bytes[i++]!;
      if (next & 0x80) throw new CvcFormatError('tags longer than two bytes are not used');
      tag = (tag << 8) | next;
    }
    if (i >= bytes.length) throw new CvcFormatError('truncated length');
    let len = bytes[i++]!;
    if (len === 0x81) {
      if (i + 1 > bytes.length) throw new CvcFormatError('truncated length');
      len = bytes[i++]!;
      if (len < 0x80) throw new CvcFormatError('non-minimal length');
    } else if (len === 0x82) {
      if (i + 2 > bytes.length) throw new CvcFormatError('truncated length');
      len = (bytes[i]! << 8) | bytes[i + 1]!;
      i += 2;
      if (len <= 0xff) throw new CvcFormatError('non-minimal length');
    } else if (len >= 0x80) {
      throw new CvcFormatError('unsupported length form');
    }
    if (i + len > bytes.length) throw new CvcFormatError('value runs past the end');
    out.push({ tag, value: bytes.subarray(i, i + len), raw: bytes.subarray(start, i + len) });
    i += len;
  }
  return out;
}

function one(bytes: Uint8Array, tag: number, what: string): Tlv {
  const tlvs = decodeTlvs(bytes);
  if (tlvs.length !== 1 || tlvs[0]!.tag !== tag)
    throw new CvcFormatError(`${what}: expected a single ${tag.toString(16)}`);
  return tlvs[0]!;
}

/** Children of a constructed value, in the exact order given (no extra, none missing). */
function ordered(value: Uint8Array, tags: readonly number[], what: string): Uint8Array[] {
  const tlvs = decodeTlvs(value);
  if (tlvs.length !== tags.length || tlvs.some((t, i) => t.tag !== tags[i]))
    throw new CvcFormatError(`${what}: unexpected structure`);
  return tlvs.map((t) => t.value);
}

// --- dates -----------------------------------------------------------------------------------

/** YYMMDD as six bytes 0..9 (TR-03110 style), UTC. */
export function encodeCvcDate(date: Date): Uint8Array {
  const s = date.toISOString();
  const digits = s.slice(2, 4) + s.slice(5, 7) + s.slice(8, 10);
  return Uint8Array.from([...digits].map((d) => Number(d)));
}

/** Midnight UTC at the start of the encoded day. */
export function decodeCvcDate(bytes: Uint8Array): Date {
  if (bytes.length !== 6 || bytes.some((b) => b > 9)) throw new CvcFormatError('a date is six digits 0..9');
  const n = (i: number) => bytes[i]! * 10 + bytes[i + 1]!;
  const [y, m, d] = [2000 + n(0), n(2), n(4)];
  const date = new Date(Date.UTC(y, m - 1, d));
  if (date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d)
    throw new CvcFormatError('not a calendar date');
  return date;
}

// --- the certificate -------------------------------------------------------------------------

export interface CvcBody {
  car: string;
  chr: string;
  /** Uncompressed P-256 point 04||X||Y. */
  publicPoint: Uint8Array;
  rights: number;
  effective: Date;
  expiry: Date;
}

export interface Cvc extends CvcBody {
  /** The 7F4E TLV exactly as signed. */
  signedBody: Uint8Array;
  /** r||s, 64 bytes. */
  signature: Uint8Array;
  /** The whole certificate. */
  raw: Uint8Array;
}

function checkRef(value: string, what: string): void {
  if (!REF_PATTERN.test(value)) throw new CvcFormatError(`${what} must be 1..16 of 0-9 A-Z -`);
}

function checkPoint(point: Uint8Array): void {
  if (point.length !== 65 || point[0] !== 0x04)
    throw new CvcFormatError('public key must be an uncompressed P-256 point');
}

export function encodeCvcBody(body: CvcBody): Uint8Array {
  checkRef(body.car, 'CAR');
  checkRef(body.chr, 'CHR');
  checkPoint(body.publicPoint);
  const ascii = (s: string) => new Uint8Array(Buffer.from(s, 'ascii'));
  return encodeTlv(
    TAG.body,
    concat([
      encodeTlv(TAG.profileId, Uint8Array.of(0)),
      encodeTlv(TAG.car, ascii(body.car)),
      encodeTlv(
        TAG.publicKey,
        concat([encodeTlv(TAG.oid, OID_TA_ECDSA_SHA256), encodeTlv(TAG.ecPoint, body.publicPoint)]),
      ),
      encodeTlv(TAG.chr, ascii(body.chr)),
      encodeTlv(TAG.chat, encodeTlv(TAG.rights, Uint8Array.of(body.rights & 0xff))),
      encodeTlv(TAG.effective, encodeCvcDate(body.effective)),
      encodeTlv(TAG.expiry, encodeCvcDate(body.expiry)),
    ]),
  );
}

export function assembleCvc(signedBody: Uint8Array, signature: Uint8Array): Uint8Array {
  if (signature.length !== 64) throw new CvcFormatError('signature must be r||s, 64 bytes');
  return encodeTlv(TAG.cvCertificate, concat([signedBody, encodeTlv(TAG.signature, signature)]));
}

/** Parses strictly; throws CvcFormatError on anything unexpected (a card answers 6A80 to that). */
export function parseCvc(bytes: Uint8Array): Cvc {
  const outer = one(bytes, TAG.cvCertificate, 'certificate');
  const parts = decodeTlvs(outer.value);
  if (parts.length !== 2 || parts[0]!.tag !== TAG.body || parts[1]!.tag !== TAG.signature)
    throw new CvcFormatError('certificate: expected body and signature');
  const [cpi, car, pk, chr, chat, eff, exp] = ordered(
    parts[0]!.value,
    [TAG.profileId, TAG.car, TAG.publicKey, TAG.chr, TAG.chat, TAG.effective, TAG.expiry],
    'body',
  ) as [Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array, Uint8Array];
  if (cpi.length !== 1 || cpi[0] !== 0) throw new CvcFormatError('unknown certificate profile');
  const [oid, point] = ordered(pk, [TAG.oid, TAG.ecPoint], 'public key') as [Uint8Array, Uint8Array];
  if (Buffer.compare(Buffer.from(oid), Buffer.from(OID_TA_ECDSA_SHA256)) !== 0)
    throw new CvcFormatError('unsupported public key algorithm');
  checkPoint(point);
  const [rights] = ordered(chat, [TAG.rights], 'CHAT') as [Uint8Array];
  if (rights.length !== 1) throw new CvcFormatError('CHAT rights are one byte');
  const text = (b: Uint8Array, what: string) => {
    const s = Buffer.from(b).toString('latin1');
    checkRef(s, what);
    return s;
  };
  const signature = parts[1]!.value;
  if (signature.length !== 64) throw new CvcFormatError('signature must be r||s, 64 bytes');
  const effective = decodeCvcDate(eff);
  const expiry = decodeCvcDate(exp);
  if (expiry < effective) throw new CvcFormatError('expiry before effective date');
  return {
    car: text(car, 'CAR'),
    chr: text(chr, 'CHR'),
    publicPoint: point,
    rights: rights[0]!,
    effective,
    expiry,
    signedBody: parts[0]!.raw,
    signature,
    raw: outer.raw,
  };
}

/** DER SubjectPublicKeyInfo header of an id-ecPublicKey / prime256v1 key; the 65-byte point follows. */
export const P256_SPKI_PREFIX = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');

export function p256PublicKey(point: Uint8Array): KeyObject {
  checkPoint(point);
  return createPublicKey({ key: Buffer.concat([P256_SPKI_PREFIX, point]), format: 'der', type: 'spki' });
}

/** ECDSA P-256 / SHA-256 with a raw r||s signature. */
export function verifyP256(
  point: Uint8Array | KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (signature.length !== 64) return false;
  const key = point instanceof Uint8Array ? p256PublicKey(point) : point;
  try {
    return cryptoVerify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

export function verifyCvcSignature(cvc: Cvc, caPoint: Uint8Array | KeyObject): boolean {
  return verifyP256(caPoint, cvc.signedBody, cvc.signature);
}

/** Valid from the start of the effective day to the end of the expiry day (UTC). */
export function cvcValidAt(cvc: CvcBody, at: Date): boolean {
  const end = cvc.expiry.getTime() + 24 * 3600 * 1000;
  return at.getTime() >= cvc.effective.getTime() && at.getTime() < end;
}

/** Parse for the terminal: a malformed file is HSM_CERT_INVALID. */
export function readInstitutionCvc(bytes: Uint8Array, source: string): Cvc {
  try {
    return parseCvc(bytes);
  } catch (error) {
    throw new KioskError(
      'HSM_CERT_INVALID',
      `${source}: not an institution CV certificate (${(error as Error).message})`,
      {
        source,
      },
    );
  }
}
