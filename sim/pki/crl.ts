// CRLs signed by the demo user-authentication CA (demo-pki.ts), shaped like the ones platform operators
// receive from J-LIS: X.509 v2, sha256WithRSAEncryption, CRL number and authority key identifier.
// For tests and the demo: `demoCrl(dataDir, ['revoked'])` revokes named demo cards.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { demoCard, ensureDemoPki } from './demo-pki.js';

x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);

export interface CrlEntryInput {
  /** Certificate serial, hex. */
  serialHex: string;
  revokedAt: Date;
  /** RFC 5280 reason code (1 keyCompromise, 4 superseded, …); omitted: no reason extension. */
  reason?: number;
}

export interface IssueCrlOptions {
  caCertPem: string;
  caKeyPem: string;
  entries: Iterable<CrlEntryInput>;
  crlNumber: number;
  thisUpdate?: Date;
  nextUpdate?: Date;
  /** The signature's hash; JPKI uses SHA-256 (others exist to test that they are refused). */
  hash?: 'SHA-256' | 'SHA-1' | 'SHA-384';
}

function pemBody(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

/** Issues a CRL signed by the given CA; returns DER. */
export async function issueCrl(o: IssueCrlOptions): Promise<Buffer> {
  const ca = new x509.X509Certificate(o.caCertPem);
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    new Uint8Array(pemBody(o.caKeyPem)),
    { name: 'RSASSA-PKCS1-v1_5', hash: o.hash ?? 'SHA-256' },
    false,
    ['sign'],
  );
  const ski = ca.getExtension(x509.SubjectKeyIdentifierExtension);
  const thisUpdate = o.thisUpdate ?? new Date();
  const entries: x509.X509CrlEntryParams[] = [];
  for (const e of o.entries)
    entries.push({
      serialNumber: e.serialHex,
      revocationDate: e.revokedAt,
      ...(e.reason !== undefined ? { reason: e.reason as x509.X509CrlReason } : {}),
    });
  const crlNumber = new x509.Extension('2.5.29.20', false, new Uint8Array(encodeDerInteger(o.crlNumber)));
  const extensions: x509.Extension[] = [crlNumber];
  if (ski) extensions.push(new x509.AuthorityKeyIdentifierExtension(ski.keyId));
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.subjectName,
    thisUpdate,
    nextUpdate: o.nextUpdate ?? new Date(thisUpdate.getTime() + 36 * 3600_000),
    entries,
    extensions,
    signingAlgorithm: {
      name: 'RSASSA-PKCS1-v1_5',
      hash: o.hash ?? 'SHA-256',
    } as x509.X509CrlCreateParams['signingAlgorithm'],
    signingKey,
  });
  return Buffer.from(crl.rawData);
}

function encodeDerInteger(n: number): Buffer {
  let hex = n.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  let bytes = Buffer.from(hex, 'hex');
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.of(0), bytes]);
  return Buffer.concat([Buffer.of(0x02, bytes.length), bytes]);
}

export function toPem(der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN X509 CRL-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END X509 CRL-----\n`;
}

/**
 * A CRL of the demo CA revoking the named demo cards, written to `<dataDir>/demo/pki/<name>.crl` (PEM).
 * Returns the file path.
 */
export async function demoCrl(
  dataDir: string,
  cardNames: readonly string[] = ['revoked'],
  options: { crlNumber?: number; fileName?: string; thisUpdate?: Date } = {},
): Promise<string> {
  const set = await ensureDemoPki(dataDir);
  const entries = cardNames.map((name) => ({
    serialHex: demoCard(set, name).serialHex,
    revokedAt: new Date('2026-01-15T00:00:00Z'),
    reason: 1,
  }));
  const der = await issueCrl({
    caCertPem: readFileSync(set.caPemPath, 'utf8'),
    caKeyPem: readFileSync(join(set.dir, 'auth-ca-key.pem'), 'utf8'),
    entries,
    crlNumber: options.crlNumber ?? 1,
    ...(options.thisUpdate ? { thisUpdate: options.thisUpdate } : {}),
  });
  const file = join(set.dir, options.fileName ?? 'demo.crl');
  writeFileSync(file, toPem(der));
  return file;
}
