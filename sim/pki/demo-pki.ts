// Demo PKI: a mock JPKI user-authentication CA (O=JPKI-TEST, otherwise the real issuer's name) and
// user-authentication certificates shaped like real ones, plus the demo card set. Serials, subjects and
// validity are derived from the card names (reproducible); keys are generated fresh, once, and cached
// in <dataDir>/demo/pki/ (outside git). Every card's authentication PIN is 1234.
import 'reflect-metadata';
import { createHash, webcrypto } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { KioskError } from '../../base/errors.js';
import { CONTACTLESS_ATR, type CardProfileInput } from '../card/profile.js';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[1]);

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

export const DEMO_PIN = '1234';
export const DEMO_PKI_VERSION = 1;
export const AUTH_POLICY_OID = '1.2.392.200149.8.5.1.3.30';
export const TEST_CA_SUBJECT =
  'C=JP, O=JPKI-TEST, OU=JPKI for user authentication, OU=Japan Agency for Local Authority Information Systems';
export const ISSUER_ALT_NAME = 'C=JP, O=公的個人認証サービス';

export type DemoTrust = 'trusted' | 'untrusted-ca' | 'tampered' | 'clone';

export interface DemoCardSpec {
  name: string;
  purpose: string;
  /** Dates of the certificate (UTC, whole days). */
  notBefore: string;
  notAfter: string;
  /** Listed as revoked in the demo revocation data (the revocation store decides what that means). */
  revoked?: boolean;
  trust?: DemoTrust;
  pinTriesLeft?: number;
  tokenLabel?: string;
}

// Validity runs to a (fictitious) holder's 5th birthday after issuance, as real certificates do.
const VALID = { notBefore: '2025-02-10', notAfter: '2030-07-15' };

export const DEMO_CARD_SPECS: readonly DemoCardSpec[] = [
  { name: 'valid', purpose: 'registered ticket holder; admitted', ...VALID },
  { name: 'revoked', purpose: 'certificate revoked', ...VALID, revoked: true },
  { name: 'expired', purpose: 'certificate expired', notBefore: '2019-03-01', notAfter: '2024-06-20' },
  { name: 'unregistered', purpose: 'valid certificate, not in any whitelist', ...VALID },
  { name: 'wrong-gate', purpose: 'ticket for another gate', ...VALID },
  { name: 'already-inside', purpose: 'ticket holder already inside (anti-passback)', ...VALID },
  { name: 'insured', purpose: 'hospital patient with valid health insurance', ...VALID },
  { name: 'insurance-expired', purpose: 'hospital patient whose insurance has ended', ...VALID },
  { name: 'shelter-resident', purpose: 'registered resident of the shelter municipality', ...VALID },
  { name: 'kiosk-member', purpose: 'member of the convenience-kiosk service', ...VALID },
  { name: 'clone', purpose: "the 'valid' certificate copied onto another key", ...VALID, trust: 'clone' },
  { name: 'untrusted', purpose: 'signed by another CA with the same name', ...VALID, trust: 'untrusted-ca' },
  { name: 'tampered', purpose: 'certificate bytes altered after signing', ...VALID, trust: 'tampered' },
  { name: 'pin-blocked', purpose: 'valid card whose PIN is blocked', ...VALID, pinTriesLeft: 0 },
  { name: 'visitor-vi', purpose: 'ticket holder whose entry names Vietnamese', ...VALID },
];

export interface DemoCard {
  name: string;
  purpose: string;
  /** Certificate serial, lower-case hex without leading zero bytes (as the card reports it). */
  serialHex: string;
  subjectCn: string;
  notBefore: string;
  notAfter: string;
  /** Authority key identifier of the issuing CA (hex); the trusted demo CA's unless `untrusted`. */
  issuerKeyIdHex: string;
  revoked: boolean;
  trust: DemoTrust;
  /** Card profile file for `jpki-kiosk sim card --card <path>` and `SimulatedCard.fromFile()`. */
  profilePath: string;
  /** The authentication certificate as stored on the card (PEM of the DER, tampering included). */
  certPath: string;
}

export interface DemoCardSet {
  version: number;
  dir: string;
  caPemPath: string;
  caKeyIdHex: string;
  cards: DemoCard[];
}

function digest(label: string): Buffer {
  return createHash('sha256').update(`jpki-kiosk demo pki v${DEMO_PKI_VERSION}: ${label}`).digest();
}

/** A few bytes, positive, no leading zero: like real JPKI serials. */
export function demoSerialHex(name: string): string {
  const d = digest(`serial ${name}`);
  const bytes = Buffer.from(d.subarray(0, 4));
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return bytes.toString('hex');
}

/** An opaque identifier (no personal data), as the real subject CN is. */
export function demoSubjectCn(name: string): string {
  return digest(`cn ${name}`).toString('hex').toUpperCase().slice(0, 24);
}

const RSA = {
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
} as const;

async function newKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as CryptoKeyPair;
}

async function pkcs8Pem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END PRIVATE KEY-----\n`;
}

function pem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const b64 = Buffer.from(der).toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

async function makeCa(keys: CryptoKeyPair, serial: string): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial,
    name: TEST_CA_SUBJECT,
    notBefore: new Date('2023-01-01T00:00:00Z'),
    notAfter: new Date('2043-01-01T00:00:00Z'),
    keys,
    signingAlgorithm: RSA,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
}

async function makeUserCert(
  spec: DemoCardSpec,
  publicKey: CryptoKey,
  ca: x509.X509Certificate,
  caKey: CryptoKey,
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: demoSerialHex(spec.name),
    subject: `C=JP, CN=${demoSubjectCn(spec.name)}`,
    issuer: ca.subject,
    notBefore: new Date(`${spec.notBefore}T00:00:00Z`),
    notAfter: new Date(`${spec.notAfter}T14:59:59Z`),
    publicKey,
    signingKey: caKey,
    signingAlgorithm: RSA,
    extensions: [
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.CertificatePolicyExtension([AUTH_POLICY_OID]),
      new x509.IssuerAlternativeNameExtension([{ type: 'dn', value: ISSUER_ALT_NAME }]),
      await x509.AuthorityKeyIdentifierExtension.create(ca, false),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
}

function akiHex(cert: x509.X509Certificate): string {
  const ext = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  if (!ext) throw new Error('CA without subject key identifier');
  return ext.keyId.toLowerCase();
}

/** Flips one byte inside the subject CN (after signing): the DER still parses, the signature fails. */
function tamper(der: Uint8Array, cn: string): Uint8Array {
  const out = Uint8Array.from(der);
  const at = Buffer.from(out).indexOf(Buffer.from(cn, 'ascii'));
  if (at < 0) throw new Error('CN not found for tampering');
  out[at] = out[at] === 0x41 ? 0x42 : 0x41;
  return out;
}

async function generate(target: string): Promise<DemoCardSet> {
  mkdirSync(join(target, 'cards'), { recursive: true });
  const [caKeys, rogueKeys] = await Promise.all([newKeys(), newKeys()]);
  const ca = await makeCa(caKeys, '01');
  const rogue = await makeCa(rogueKeys, '02');
  writeFileSync(join(target, 'auth-ca.pem'), ca.toString('pem') + '\n');
  writeFileSync(join(target, 'auth-ca-key.pem'), await pkcs8Pem(caKeys.privateKey), { mode: 0o600 });
  writeFileSync(join(target, 'rogue-ca.pem'), rogue.toString('pem') + '\n');
  const caDer = new Uint8Array(ca.rawData);

  const keys = await Promise.all(DEMO_CARD_SPECS.map(() => newKeys()));
  const issued = new Map<string, x509.X509Certificate>();
  const cards: DemoCard[] = [];
  for (const [i, spec] of DEMO_CARD_SPECS.entries()) {
    const cardKeys = keys[i]!;
    const trust = spec.trust ?? 'trusted';
    let certDer: Uint8Array;
    let issuerKeyIdHex = akiHex(ca);
    let serialHex = demoSerialHex(spec.name);
    let subjectCn = demoSubjectCn(spec.name);
    if (trust === 'clone') {
      const original = issued.get('valid');
      if (!original) throw new Error("the 'clone' card needs 'valid' first");
      certDer = new Uint8Array(original.rawData);
      serialHex = demoSerialHex('valid');
      subjectCn = demoSubjectCn('valid');
    } else {
      const signer =
        trust === 'untrusted-ca'
          ? { cert: rogue, key: rogueKeys.privateKey }
          : { cert: ca, key: caKeys.privateKey };
      const cert = await makeUserCert(spec, cardKeys.publicKey, signer.cert, signer.key);
      issued.set(spec.name, cert);
      certDer = new Uint8Array(cert.rawData);
      if (trust === 'untrusted-ca') issuerKeyIdHex = akiHex(rogue);
      if (trust === 'tampered') certDer = tamper(certDer, subjectCn);
    }
    const profile: CardProfileInput = {
      format: 'jpki-kiosk-card/1',
      name: spec.name,
      description: spec.purpose,
      atr: CONTACTLESS_ATR,
      tokenLabel: spec.tokenLabel ?? 'JPKIAPICCTOKEN2',
      authCert: Buffer.from(certDer).toString('base64'),
      authCaCert: Buffer.from(caDer).toString('base64'),
      signCaCert: null,
      authKeyPem: await pkcs8Pem(cardKeys.privateKey),
      pins: { auth: { value: DEMO_PIN, triesLeft: spec.pinTriesLeft ?? 3, maxTries: 3 }, sign: null },
      timing: { preset: 'instant' },
    };
    const profileName = `cards/${spec.name}.card.json`;
    const certName = `cards/${spec.name}.auth-cert.pem`;
    writeFileSync(join(target, profileName), JSON.stringify(profile, null, 2) + '\n', { mode: 0o600 });
    writeFileSync(join(target, certName), pem(certDer));
    cards.push({
      name: spec.name,
      purpose: spec.purpose,
      serialHex,
      subjectCn,
      notBefore: spec.notBefore,
      notAfter: spec.notAfter,
      issuerKeyIdHex,
      revoked: spec.revoked ?? false,
      trust,
      profilePath: profileName,
      certPath: certName,
    });
  }
  const manifest = { version: DEMO_PKI_VERSION, caKeyIdHex: akiHex(ca), cards };
  writeFileSync(join(target, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return resolveSet(target, manifest);
}

interface Manifest {
  version: number;
  caKeyIdHex: string;
  cards: DemoCard[];
}

function resolveSet(dir: string, manifest: Manifest): DemoCardSet {
  return {
    version: manifest.version,
    dir,
    caPemPath: join(dir, 'auth-ca.pem'),
    caKeyIdHex: manifest.caKeyIdHex,
    cards: manifest.cards.map((c) => ({
      ...c,
      profilePath: join(dir, c.profilePath),
      certPath: join(dir, c.certPath),
    })),
  };
}

function readExisting(dir: string): DemoCardSet | null {
  const path = join(dir, 'manifest.json');
  if (!existsSync(path)) return null;
  try {
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as Manifest;
    if (manifest.version !== DEMO_PKI_VERSION) return null;
    const names = DEMO_CARD_SPECS.map((s) => s.name);
    if (names.some((n) => !manifest.cards.some((c) => c.name === n))) return null;
    const set = resolveSet(dir, manifest);
    if (!existsSync(set.caPemPath) || set.cards.some((c) => !existsSync(c.profilePath))) return null;
    return set;
  } catch {
    return null;
  }
}

/** Generates the demo PKI into `<dataDir>/demo/pki/` when missing; returns the card set. */
export async function ensureDemoPki(dataDir: string): Promise<DemoCardSet> {
  const dir = join(dataDir, 'demo', 'pki');
  const existing = readExisting(dir);
  if (existing) return existing;
  const staging = `${dir}.tmp-${process.pid}-${Date.now()}`;
  try {
    await generate(staging);
    const again = readExisting(dir); // another process may have won the race
    if (again) return again;
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  } catch (error) {
    throw new KioskError('INTERNAL', `demo PKI generation failed in ${dir}`, undefined, { cause: error });
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  const set = readExisting(dir);
  if (!set) throw new KioskError('INTERNAL', `demo PKI incomplete in ${dir}`);
  return set;
}

export function demoCard(set: DemoCardSet, name: string): DemoCard {
  const card = set.cards.find((c) => c.name === name);
  if (!card)
    throw new KioskError(
      'INVALID_REQUEST',
      `no demo card '${name}' (have: ${set.cards.map((c) => c.name).join(', ')})`,
    );
  return card;
}
