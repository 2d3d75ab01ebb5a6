// The signing side of a virtual card (署名用電子証明書): its key, certificate and CA certificate. The
// product never reads or uses them (the signing certificate carries name and address); they exist so
// that a JPKI client sees the whole applet. Made on first use, synchronously (the applet is a pure
// synchronous function), with a minimal DER writer: one test CA per process, one key per card.
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

function length(n: number): number[] {
  if (n < 0x80) return [n];
  if (n < 0x100) return [0x81, n];
  return [0x82, n >> 8, n & 0xff];
}

function tlv(tag: number, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag, ...length(body.length)]), body]);
}

const seq = (...parts: Buffer[]) => tlv(0x30, ...parts);

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const bytes = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift((v & 0x7f) | 0x80);
    out.push(...bytes);
  }
  return tlv(0x06, Buffer.from(out));
}

function integer(bytes: Buffer): Buffer {
  return tlv(0x02, bytes[0]! & 0x80 ? Buffer.concat([Buffer.of(0), bytes]) : bytes);
}

function name(cn: string): Buffer {
  const rdn = (type: string, value: Buffer) => tlv(0x31, seq(oid(type), value));
  return seq(
    rdn('2.5.4.6', tlv(0x13, Buffer.from('JP'))),
    rdn('2.5.4.10', tlv(0x13, Buffer.from('JPKI-TEST'))),
    rdn('2.5.4.3', tlv(0x0c, Buffer.from(cn, 'utf8'))),
  );
}

function utcTime(date: Date): Buffer {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ
  const text =
    iso.slice(2, 4) +
    iso.slice(5, 7) +
    iso.slice(8, 10) +
    iso.slice(11, 13) +
    iso.slice(14, 16) +
    iso.slice(17, 19) +
    'Z';
  return tlv(0x17, Buffer.from(text, 'ascii'));
}

const SHA256_RSA = seq(oid('1.2.840.113549.1.1.11'), Buffer.of(0x05, 0x00));

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [tlv(0x01, Buffer.of(0xff))] : []), tlv(0x04, value));
}

function certificate(options: {
  serial: Buffer;
  issuer: string;
  subject: string;
  publicKey: KeyObject;
  signer: KeyObject;
  ca: boolean;
}): Buffer {
  const spki = options.publicKey.export({ type: 'spki', format: 'der' });
  const keyUsage = options.ca
    ? tlv(0x03, Buffer.of(0x01, 0x06)) // keyCertSign, cRLSign
    : tlv(0x03, Buffer.of(0x06, 0xc0)); // digitalSignature, nonRepudiation
  const extensions = [
    ...(options.ca ? [extension('2.5.29.19', true, seq(tlv(0x01, Buffer.of(0xff))))] : []),
    extension('2.5.29.15', true, keyUsage),
  ];
  const tbs = seq(
    tlv(0xa0, integer(Buffer.of(2))),
    integer(options.serial),
    SHA256_RSA,
    name(options.issuer),
    seq(utcTime(new Date('2025-01-01T00:00:00Z')), utcTime(new Date('2035-01-01T00:00:00Z'))),
    name(options.subject),
    spki,
    tlv(0xa3, seq(...extensions)),
  );
  const signature = sign('sha256', tbs, options.signer);
  return seq(tbs, SHA256_RSA, tlv(0x03, Buffer.of(0), signature));
}

export interface SigningCa {
  certificate: Uint8Array;
  privateKey: KeyObject;
}

const CA_NAME = 'JPKI-TEST signing CA (virtual card)';
let ca: SigningCa | null = null;

/** The one signing CA of this process (O=JPKI-TEST: nobody mistakes it for J-LIS's). */
export function signingCa(): SigningCa {
  if (!ca) {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const der = certificate({
      serial: Buffer.of(0x01),
      issuer: CA_NAME,
      subject: CA_NAME,
      publicKey: keys.publicKey,
      signer: keys.privateKey,
      ca: true,
    });
    ca = { certificate: new Uint8Array(der), privateKey: keys.privateKey };
  }
  return ca;
}

export interface SigningIdentity {
  certificate: Uint8Array;
  privateKey: KeyObject;
}

/** A card's signing key and certificate (subject: a placeholder, not a person's name or address). */
export function newSigningIdentity(cardName: string): SigningIdentity {
  const authority = signingCa();
  const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const der = certificate({
    serial: createHash('sha256').update(`signing ${cardName}`).digest().subarray(0, 4),
    issuer: CA_NAME,
    subject: `DEMO SIGNER ${cardName}`.slice(0, 64),
    publicKey: keys.publicKey,
    signer: authority.privateKey,
    ca: false,
  });
  return { certificate: new Uint8Array(der), privateKey: keys.privateKey };
}
