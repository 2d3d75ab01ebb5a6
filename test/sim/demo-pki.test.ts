import 'reflect-metadata';
import { createPublicKey, publicEncrypt, privateDecrypt, constants } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCardProfile } from '../../sim/card/profile.js';
import {
  AUTH_POLICY_OID,
  DEMO_CARD_SPECS,
  demoCard,
  ensureDemoPki,
  type DemoCardSet,
} from '../../sim/pki/demo-pki.js';

let dataDir: string;
let set: DemoCardSet;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'jpki-pki-test-'));
  set = await ensureDemoPki(dataDir);
}, 60_000);
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function cert(name: string) {
  const profile = loadCardProfile(demoCard(set, name).profilePath);
  return { profile, cert: new x509.X509Certificate(new Uint8Array(profile.authCert)) };
}

describe('demo PKI', () => {
  it('writes the CA where the demo profile trusts it and one profile per card', () => {
    expect(set.caPemPath).toBe(join(dataDir, 'demo/pki/auth-ca.pem'));
    const ca = new x509.X509Certificate(readFileSync(set.caPemPath, 'utf8'));
    expect(ca.subject).toBe(
      'C=JP, O=JPKI-TEST, OU=JPKI for user authentication, OU=Japan Agency for Local Authority Information Systems',
    );
    expect(set.cards.map((c) => c.name)).toEqual(DEMO_CARD_SPECS.map((s) => s.name));
    for (const required of ['valid', 'revoked', 'expired', 'unregistered', 'clone', 'untrusted', 'tampered'])
      expect(set.cards.some((c) => c.name === required)).toBe(true);
    // the card's private key is in the profile: not world-readable
    expect(statSync(demoCard(set, 'valid').profilePath).mode & 0o077).toBe(0);
  });

  it('issues user-authentication certificates shaped like real ones', async () => {
    const { cert: c, profile } = cert('valid');
    const entry = demoCard(set, 'valid');
    expect(c.subject).toBe(`C=JP, CN=${entry.subjectCn}`);
    expect(c.serialNumber.toLowerCase()).toBe(entry.serialHex);
    expect(entry.serialHex.length).toBeLessThanOrEqual(8);
    expect(c.notAfter.toISOString().slice(0, 10)).toBe(entry.notAfter);
    const ku = c.getExtension(x509.KeyUsagesExtension)!;
    expect(ku.critical).toBe(true);
    expect(ku.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    expect(c.getExtension(x509.CertificatePolicyExtension)!.policies).toEqual([AUTH_POLICY_OID]);
    const ian = c.getExtension(x509.IssuerAlternativeNameExtension)!;
    expect(JSON.stringify(ian.names.toJSON())).toContain('公的個人認証サービス');
    expect((c.publicKey.algorithm as { modulusLength?: number }).modulusLength).toBe(2048);
    expect((c.signatureAlgorithm as { name?: string }).name).toBe('RSASSA-PKCS1-v1_5');
    const ca = new x509.X509Certificate(new Uint8Array(profile.authCaCert));
    expect(await c.verify({ publicKey: ca.publicKey, signatureOnly: true })).toBe(true);
    expect(profile.pins.auth).toEqual({ value: '1234', triesLeft: 3, maxTries: 3 });
    expect(Buffer.from(profile.authCert.subarray(0, 2)).toString('hex')).toBe('3082');
  });

  it('makes the attack cards fail in the way their names say', async () => {
    const ca = new x509.X509Certificate(readFileSync(set.caPemPath, 'utf8'));
    const tampered = cert('tampered').cert;
    expect(await tampered.verify({ publicKey: ca.publicKey, signatureOnly: true })).toBe(false);
    const untrusted = cert('untrusted').cert;
    expect(untrusted.issuer).toBe(ca.subject); // same name, other key
    expect(await untrusted.verify({ publicKey: ca.publicKey, signatureOnly: true })).toBe(false);
    // clone: the valid certificate, but the card's key does not match it
    const clone = cert('clone');
    const valid = cert('valid');
    expect(Buffer.from(clone.profile.authCert).equals(Buffer.from(valid.profile.authCert))).toBe(true);
    const pub = createPublicKey({
      key: Buffer.from(valid.cert.publicKey.rawData),
      format: 'der',
      type: 'spki',
    });
    const secret = publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_OAEP_PADDING }, Buffer.from('x'));
    expect(() =>
      privateDecrypt({ key: clone.profile.authKey, padding: constants.RSA_PKCS1_OAEP_PADDING }, secret),
    ).toThrow();
    expect(
      privateDecrypt(
        { key: valid.profile.authKey, padding: constants.RSA_PKCS1_OAEP_PADDING },
        secret,
      ).toString(),
    ).toBe('x');
    expect(new Date(demoCard(set, 'expired').notAfter) < new Date()).toBe(true);
    expect(demoCard(set, 'revoked').revoked).toBe(true);
  });

  it('reuses the cached set and is reproducible in serials, subjects and validity', async () => {
    const again = await ensureDemoPki(dataDir);
    expect(readFileSync(again.caPemPath, 'utf8')).toBe(readFileSync(set.caPemPath, 'utf8'));
    const other = mkdtempSync(join(tmpdir(), 'jpki-pki-test-'));
    try {
      const fresh = await ensureDemoPki(other);
      const shape = (s: DemoCardSet) =>
        s.cards.map((c) => [c.name, c.serialHex, c.subjectCn, c.notBefore, c.notAfter]);
      expect(shape(fresh)).toEqual(shape(set));
      expect(readFileSync(fresh.caPemPath, 'utf8')).not.toBe(readFileSync(set.caPemPath, 'utf8')); // fresh keys
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  }, 60_000);
});
