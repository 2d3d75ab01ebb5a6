// `hub import-crl`: a DER or PEM X.509 CRL as a platform operator receives it. Its signature must verify
// with one of the configured CA certificates and its number must not go backwards; the hub then
// publishes the difference against the previous CRL of that issuer.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { KioskError } from '../base/errors.js';
import { RevocationReasons, type RevocationReason } from '../protocol/feed-format.js';
import type { Publisher, PublishSummary, RevocationEntry } from './publisher.js';
import type { HubStore } from './store.js';

x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);

export interface ParsedCrl {
  issuer: string;
  issuerKeyId: string;
  crlNumber: bigint | null;
  thisUpdate: Date;
  nextUpdate: Date | null;
  entries: RevocationEntry[];
}

function crlNumberOf(crl: x509.X509Crl): bigint | null {
  const ext = crl.getExtension('2.5.29.20');
  if (!ext) return null;
  const v = Buffer.from(ext.value);
  if (v[0] !== 0x02 || v[1]! > 20) return null;
  return BigInt('0x' + (v.subarray(2, 2 + v[1]!).toString('hex') || '0'));
}

/** Parses and verifies a CRL against the CA certificates (PEM). CRL_INVALID on any failure. */
export async function readCrl(bytes: Buffer, caPems: readonly string[]): Promise<ParsedCrl> {
  let crl: x509.X509Crl;
  try {
    const text = bytes.subarray(0, 64).toString('latin1');
    crl = new x509.X509Crl(text.includes('-----BEGIN') ? bytes.toString('latin1') : new Uint8Array(bytes));
  } catch (error) {
    throw new KioskError('CRL_INVALID', 'not a DER or PEM X.509 CRL', undefined, { cause: error });
  }
  let signer: x509.X509Certificate | null = null;
  for (const pem of caPems) {
    let ca: x509.X509Certificate;
    try {
      ca = new x509.X509Certificate(pem);
    } catch {
      throw new KioskError('CONFIG_INVALID', 'a configured CA certificate cannot be parsed');
    }
    if (ca.subject !== crl.issuer) continue;
    let ok = false;
    try {
      ok = await crl.verify({ publicKey: ca.publicKey });
    } catch {
      ok = false;
    }
    if (ok) {
      signer = ca;
      break;
    }
  }
  if (!signer)
    throw new KioskError('CRL_INVALID', `the CRL of ${crl.issuer} is not signed by a configured CA`, {
      issuer: crl.issuer,
    });
  const ski = signer.getExtension(x509.SubjectKeyIdentifierExtension);
  if (!ski) throw new KioskError('CONFIG_INVALID', 'the CA certificate has no subject key identifier');
  const entries: RevocationEntry[] = [];
  for (const e of crl.entries) {
    const code = e.reason ?? 0;
    if (code === 8) continue; // removeFromCRL: the certificate is no longer revoked
    const reason: RevocationReason = RevocationReasons[code] ?? 'unspecified';
    entries.push({
      issuerKeyId: ski.keyId.toLowerCase(),
      serial: e.serialNumber.toLowerCase(),
      at: Math.floor(e.revocationDate.getTime() / 1000),
      reason,
    });
  }
  return {
    issuer: crl.issuer,
    issuerKeyId: ski.keyId.toLowerCase(),
    crlNumber: crlNumberOf(crl),
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate ?? null,
    entries,
  };
}

export interface CrlImportResult extends PublishSummary {
  issuer: string;
  crlNumber: string | null;
  entries: number;
}

export async function importCrl(
  store: HubStore,
  publisher: Publisher,
  bytes: Buffer,
  caPems: readonly string[],
  source: string,
): Promise<CrlImportResult> {
  const crl = await readCrl(bytes, caPems);
  const prior = store.crlState(crl.issuerKeyId);
  if (prior) {
    const older =
      crl.crlNumber !== null && prior.crlNumber !== null
        ? crl.crlNumber < BigInt(prior.crlNumber)
        : crl.thisUpdate.getTime() < prior.thisUpdate;
    if (older)
      throw new KioskError(
        'CRL_INVALID',
        `CRL number ${crl.crlNumber ?? '-'} of ${crl.thisUpdate.toISOString()} is older than the one already imported (${prior.crlNumber ?? '-'})`,
      );
  }
  const summary = publisher.publishRevocations(
    crl.issuerKeyId,
    crl.entries,
    `CRL ${crl.crlNumber ?? '-'} from ${source}`,
  );
  store.setCrlState(
    crl.issuerKeyId,
    crl.crlNumber === null ? null : crl.crlNumber.toString(),
    crl.thisUpdate.getTime(),
  );
  return {
    ...summary,
    issuer: crl.issuer,
    crlNumber: crl.crlNumber?.toString() ?? null,
    entries: crl.entries.length,
  };
}
