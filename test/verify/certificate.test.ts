// Certificate verdicts at unit level, including the one no demo card shows (not yet valid), against
// a CA generated here so that each rule is isolated.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  loadTrustAnchors,
  verifyUserCertificate,
  type TrustAnchor,
} from '../../main/core/verify/certificate.js';

const alg = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
};
const CA_NAME =
  'C=JP, O=JPKI-TEST, OU=JPKI for user authentication, OU=Japan Agency for Local Authority Information Systems';
const POLICY = '1.2.392.200149.8.5.1.3.30';
const now = new Date('2026-11-21T03:00:00Z');
let caKeys: CryptoKeyPair;
let anchors: TrustAnchor[];

async function userCert(options: {
  notBefore?: Date;
  notAfter?: Date;
  usage?: x509.KeyUsageFlags;
  policy?: string | null;
  /** The CA's key as the given algorithm (its hash or padding differs from the CA's own). */
  signing?: { algorithm: RsaHashedImportParams & Partial<RsaPssParams>; key: CryptoKey };
  basicConstraints?: x509.BasicConstraintsExtension;
}) {
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '0a1b2c',
    issuer: CA_NAME,
    subject: 'C=JP, CN=ABCDEF0123456789',
    notBefore: options.notBefore ?? new Date('2025-01-01T00:00:00Z'),
    notAfter: options.notAfter ?? new Date('2030-01-01T00:00:00Z'),
    signingAlgorithm: options.signing?.algorithm ?? alg,
    publicKey: keys.publicKey,
    signingKey: options.signing?.key ?? caKeys.privateKey,
    extensions: [
      ...(options.basicConstraints ? [options.basicConstraints] : []),
      new x509.KeyUsagesExtension(options.usage ?? x509.KeyUsageFlags.digitalSignature, true),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
      ...(options.policy === null ? [] : [new x509.CertificatePolicyExtension([options.policy ?? POLICY])]),
    ],
  });
  return new Uint8Array(cert.rawData);
}

beforeAll(async () => {
  caKeys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: CA_NAME,
    notBefore: new Date('2024-01-01T00:00:00Z'),
    notAfter: new Date('2034-01-01T00:00:00Z'),
    keys: caKeys,
    signingAlgorithm: alg,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const file = join(mkdtempSync(join(tmpdir(), 'jpki-ca-')), 'ca.pem');
  writeFileSync(file, ca.toString('pem'));
  anchors = loadTrustAnchors([file], true);
});

const verify = (der: Uint8Array, requiredPolicy: string | null = POLICY) =>
  verifyUserCertificate(der, { anchors, now, requiredPolicy });

describe('user-authentication certificate verdicts', () => {
  it('accepts a good certificate and derives the whitelist key material', async () => {
    const verdict = await verify(await userCert({}));
    expect(verdict.ok).toBe(true);
    if (verdict.ok) {
      expect(verdict.certificate.serialHex).toBe('0A1B2C');
      expect(verdict.certificate.subjectCn).toBe('ABCDEF0123456789');
      expect(verdict.certificate.issuerKeyId).toBe(anchors[0]!.keyId);
      expect(verdict.certificate.spkiSha256).toMatch(/^[0-9a-f]{64}$/);
    }
  });

  it('refuses a certificate that is not yet valid, and one that has expired', async () => {
    expect(await verify(await userCert({ notBefore: new Date('2027-01-01T00:00:00Z') }))).toMatchObject({
      ok: false,
      reason: 'cert_not_yet_valid',
    });
    expect(await verify(await userCert({ notAfter: new Date('2026-11-20T00:00:00Z') }))).toMatchObject({
      ok: false,
      reason: 'cert_expired',
    });
  });

  it('refuses a key usage other than digitalSignature, and a missing policy when one is required', async () => {
    expect(await verify(await userCert({ usage: x509.KeyUsageFlags.keyEncipherment }))).toMatchObject({
      ok: false,
      reason: 'cert_untrusted',
    });
    expect(await verify(await userCert({ policy: null }))).toMatchObject({
      ok: false,
      reason: 'cert_untrusted',
    });
    expect((await verify(await userCert({ policy: null }), null)).ok).toBe(true);
  });

  it('calls altered bytes tampered and garbage tampered, never a crash', async () => {
    const der = await userCert({});
    const altered = Uint8Array.from(der);
    altered[200] = altered[200]! ^ 0x01;
    expect(await verify(altered)).toMatchObject({ ok: false, reason: 'cert_tampered' });
    expect(await verify(new Uint8Array([0x30, 0x82, 0x01]))).toMatchObject({
      ok: false,
      reason: 'cert_tampered',
    });
  });

  it('refuses a certificate signed by the trusted CA with SHA-1, or with RSA-PSS, naming the algorithm', async () => {
    const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', caKeys.privateKey);
    const sha1 = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-1' };
    const pss = { name: 'RSA-PSS', hash: 'SHA-256', saltLength: 32 };
    const sha1Key = await webcrypto.subtle.importKey('pkcs8', pkcs8, sha1, false, ['sign']);
    const pssKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, pss, false, ['sign']);
    expect(await verify(await userCert({ signing: { algorithm: sha1, key: sha1Key } }))).toEqual({
      ok: false,
      reason: 'cert_untrusted',
      detail: 'signature algorithm sha1WithRSAEncryption is not sha256WithRSAEncryption',
    });
    expect(await verify(await userCert({ signing: { algorithm: pss, key: pssKey } }))).toMatchObject({
      ok: false,
      reason: 'cert_untrusted',
      detail: expect.stringContaining('RSASSA-PSS'),
    });
  });

  it('refuses a leaf whose basicConstraints say CA, and accepts an explicit end entity', async () => {
    expect(
      await verify(
        await userCert({ basicConstraints: new x509.BasicConstraintsExtension(true, undefined, true) }),
      ),
    ).toMatchObject({
      ok: false,
      reason: 'cert_untrusted',
      detail: expect.stringContaining('basicConstraints'),
    });
    expect(
      (
        await verify(
          await userCert({ basicConstraints: new x509.BasicConstraintsExtension(false, undefined, true) }),
        )
      ).ok,
    ).toBe(true);
  });

  it('refuses a test CA as a trust anchor outside the demo', () => {
    expect(() => loadTrustAnchors([anchors[0]!.file], false)).toThrow(/test CA/);
  });
});
