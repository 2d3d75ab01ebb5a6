// Offline verification of a JPKI user-authentication certificate against the configured trust anchors,
// and of the card's signature over the terminal's fresh nonce. Each failure maps to one reason code.
import 'reflect-metadata';
import {
  constants,
  createPublicKey,
  createHash,
  verify as verifySignature,
  type KeyObject,
  type webcrypto,
} from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  AuthorityKeyIdentifierExtension,
  BasicConstraintsExtension,
  CertificatePolicyExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  SubjectKeyIdentifierExtension,
  X509Certificate,
} from '@peculiar/x509';
import type { ReasonCode } from '../../../base/decision.js';
import { KioskError } from '../../../base/errors.js';
import { requireSha256WithRsa } from '../../../base/signature-algorithm.js';

export interface TrustAnchor {
  certificate: X509Certificate;
  subject: string;
  /** Subject key identifier (hex), or the SHA-1 of the public key when the extension is absent. */
  keyId: string;
  isTestCa: boolean;
  file: string;
  /** The anchor's key imported once: importing it for every tap costs more than the RSA check itself. */
  verifyKey?: Promise<webcrypto.CryptoKey>;
}

export interface VerifiedCertificate {
  /** Serial as upper-case hex, as issued (leading zeros kept off). */
  serialHex: string;
  /** The issuing anchor's key id: with the serial, the whitelist and revocation key. */
  issuerKeyId: string;
  subjectCn: string;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 of the SubjectPublicKeyInfo (hex): derives the whitelist payload key. */
  spkiSha256: string;
  publicKey: KeyObject;
  der: Uint8Array;
}

export type CertificateVerdict =
  { ok: true; certificate: VerifiedCertificate } | { ok: false; reason: ReasonCode; detail: string };

const TEST_CA_MARKER = 'O=JPKI-TEST';

export function loadTrustAnchors(files: readonly string[], allowTestCa: boolean): TrustAnchor[] {
  return files.map((file) => {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(readFileSync(file));
    } catch (error) {
      throw new KioskError(
        'CONFIG_INVALID',
        `trust anchor ${file} is not a readable X.509 certificate`,
        { file },
        { cause: error },
      );
    }
    const isTestCa = certificate.subject.includes(TEST_CA_MARKER);
    if (isTestCa && !allowTestCa) {
      throw new KioskError(
        'CONFIG_INVALID',
        `trust anchor ${file} is a test CA (${TEST_CA_MARKER}); only the demo profile may trust it`,
        { file },
      );
    }
    return { certificate, subject: certificate.subject, keyId: keyIdOf(certificate), isTestCa, file };
  });
}

function keyIdOf(certificate: X509Certificate): string {
  const ski = certificate.getExtension(SubjectKeyIdentifierExtension);
  if (ski) return ski.keyId.toLowerCase();
  return createHash('sha1').update(Buffer.from(certificate.publicKey.rawData)).digest('hex');
}

function authorityKeyIdOf(certificate: X509Certificate): string | null {
  const aki = certificate.getExtension(AuthorityKeyIdentifierExtension);
  return aki?.keyId ? aki.keyId.toLowerCase() : null;
}

function commonName(subject: string): string {
  const match = /(?:^|,\s*)CN=([^,]+)/.exec(subject);
  return match?.[1] ?? '';
}

export function normalizeSerial(hex: string): string {
  const trimmed = hex.replace(/^(00)+(?=.)/, '').toUpperCase();
  return trimmed === '' ? '00' : trimmed;
}

export interface VerifyOptions {
  anchors: readonly TrustAnchor[];
  now: Date;
  /** Required certificate policy OID, or null to accept any. */
  requiredPolicy: string | null;
}

/** Verifies a DER user-authentication certificate. Never throws for a bad certificate: returns a verdict. */
export async function verifyUserCertificate(
  der: Uint8Array,
  options: VerifyOptions,
): Promise<CertificateVerdict> {
  let certificate: X509Certificate;
  try {
    // A fresh copy: an ArrayBuffer-backed view satisfies both the Node and the DOM typings of BufferSource.
    certificate = new X509Certificate(new Uint8Array(der));
  } catch (error) {
    return {
      ok: false,
      reason: 'cert_tampered',
      detail: `not a parseable certificate: ${(error as Error).message}`,
    };
  }
  // JPKI issues sha256WithRSAEncryption only: a weaker (SHA-1) or different algorithm is not a JPKI
  // certificate, whatever its signature says.
  const algorithm = requireSha256WithRsa(der);
  if (!algorithm.ok) return { ok: false, reason: 'cert_untrusted', detail: algorithm.detail };
  const aki = authorityKeyIdOf(certificate);
  const candidates = options.anchors.filter(
    (a) => a.subject === certificate.issuer && (aki === null || aki === a.keyId),
  );
  if (candidates.length === 0) {
    return {
      ok: false,
      reason: 'cert_untrusted',
      detail: `issuer ${certificate.issuer} is not a configured trust anchor`,
    };
  }
  let issuer: TrustAnchor | undefined;
  for (const anchor of candidates) {
    anchor.verifyKey ??= anchor.certificate.publicKey.export();
    if (await certificate.verify({ publicKey: await anchor.verifyKey, signatureOnly: true })) {
      issuer = anchor;
      break;
    }
  }
  // The issuer name and key id match a trusted CA but its signature does not verify: the bytes were altered.
  if (!issuer)
    return {
      ok: false,
      reason: 'cert_tampered',
      detail: 'the CA signature over the certificate does not verify',
    };

  const now = options.now.getTime();
  if (now < certificate.notBefore.getTime())
    return {
      ok: false,
      reason: 'cert_not_yet_valid',
      detail: `valid from ${certificate.notBefore.toISOString()}`,
    };
  if (now > certificate.notAfter.getTime())
    return { ok: false, reason: 'cert_expired', detail: `expired ${certificate.notAfter.toISOString()}` };
  if (now > issuer.certificate.notAfter.getTime() || now < issuer.certificate.notBefore.getTime()) {
    return { ok: false, reason: 'cert_expired', detail: `issuing CA ${issuer.file} is outside its validity` };
  }

  // A user certificate is an end entity: a CA certificate (even one the anchor issued) is not a card's.
  if (certificate.getExtension(BasicConstraintsExtension)?.ca)
    return {
      ok: false,
      reason: 'cert_untrusted',
      detail: 'basicConstraints says CA: not an end-entity certificate',
    };

  const keyUsage = certificate.getExtension(KeyUsagesExtension);
  if (!keyUsage || (keyUsage.usages & KeyUsageFlags.digitalSignature) === 0) {
    return { ok: false, reason: 'cert_untrusted', detail: 'key usage does not allow digitalSignature' };
  }
  if (options.requiredPolicy) {
    const policies = certificate.getExtension(CertificatePolicyExtension)?.policies ?? [];
    if (!policies.includes(options.requiredPolicy)) {
      return {
        ok: false,
        reason: 'cert_untrusted',
        detail: `certificate policy ${options.requiredPolicy} missing`,
      };
    }
  }

  const spki = Buffer.from(certificate.publicKey.rawData);
  return {
    ok: true,
    certificate: {
      serialHex: normalizeSerial(certificate.serialNumber),
      issuerKeyId: issuer.keyId,
      subjectCn: commonName(certificate.subject),
      notBefore: certificate.notBefore,
      notAfter: certificate.notAfter,
      spkiSha256: createHash('sha256').update(spki).digest('hex'),
      publicKey: createPublicKey({ key: spki, format: 'der', type: 'spki' }),
      der,
    },
  };
}

/** DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1): what the card is asked to sign. */
export const SHA256_DIGEST_INFO_PREFIX = Buffer.from('3031300d060960864801650304020105000420', 'hex');

export function sha256DigestInfo(message: Uint8Array): Buffer {
  return Buffer.concat([SHA256_DIGEST_INFO_PREFIX, createHash('sha256').update(message).digest()]);
}

/** True when `signature` is the certificate key's PKCS#1 v1.5 SHA-256 signature over `message`. */
export function verifyCardSignature(
  publicKey: KeyObject,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  try {
    return verifySignature(
      'sha256',
      message,
      { key: publicKey, padding: constants.RSA_PKCS1_PADDING },
      signature,
    );
  } catch {
    return false;
  }
}
