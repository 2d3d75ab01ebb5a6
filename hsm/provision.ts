// Provisioning: the token, the keys, the institution certificate request and install, and
// `jpki-kiosk hsm status`. Each step is idempotent: running it again changes nothing that is still
// good. The demo's unattended provisioning with its mock 特定機関 CA is built from these steps in
// main/demo/hsm.ts.
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import type { KioskConfig } from '../config/load.js';
import { readSecret } from '../config/secrets.js';
import { KioskError, toKioskError } from '../base/errors.js';
import type { TrustedInstitutionCa } from './trusted-ca.js';
import { initToken, listTokens, type Hsm, type KeyInfo } from './client.js';
import { hsmFromConfig, readInstalledCvc, TERMINAL_KEY_LABEL } from './config.js';
import {
  assembleCvc,
  cvcValidAt,
  encodeCvcBody,
  readInstitutionCvc,
  RIGHT_UNLOCK_AUTH_KEY,
  verifyCvcSignature,
  verifyP256,
  type Cvc,
} from './cvc.js';

const DAY = 24 * 3600 * 1000;

type HsmConfig = KioskConfig['hsm'];

export function softhsmConfText(tokenDir: string): string {
  return [
    '# SoftHSM2 configuration written by jpki-kiosk (development/demo token store)',
    `directories.tokendir = ${tokenDir}`,
    'objectstore.backend = file',
    'log.level = ERROR',
    'slots.removable = false',
    '',
  ].join('\n');
}

/** Writes a SoftHSM2 configuration and its token folder next to it, if not there yet. */
export function ensureSoftHsmConf(confPath: string): { created: boolean; tokenDir: string } {
  const tokenDir = join(dirname(confPath), 'tokens');
  mkdirSync(tokenDir, { recursive: true, mode: 0o700 });
  if (existsSync(confPath)) return { created: false, tokenDir };
  writeFileSync(confPath, softhsmConfText(tokenDir), { mode: 0o600 });
  return { created: true, tokenDir };
}

/** A fresh random secret written to `file` with mode 0600 (only if the file does not exist). */
export function ensureSecretFile(file: string, bytes = 12): boolean {
  if (existsSync(file)) return false;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, randomBytes(bytes).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
  return true;
}

/** The key labelled `label`, generated (ECDSA P-256) if the token has none; `done` records it. */
export async function ensureKey(hsm: Hsm, label: string, done: string[]): Promise<KeyInfo> {
  const info = await hsm.keyInfo(label);
  if (info.present) return info;
  done.push(`generated key ${label} (ECDSA P-256) in the token`);
  return hsm.generateKey(label, 'ec-p256');
}

export function samePoint(a: Uint8Array | undefined, b: Uint8Array): boolean {
  return a !== undefined && Buffer.compare(Buffer.from(a), Buffer.from(b)) === 0;
}

/**
 * The SoftHSM2 configuration and token folder, a random user PIN in the PIN file and a random SO PIN
 * next to the configuration (both 0600), and the token named by hsm.tokenLabel. Only for a profile
 * whose HSM is a SoftHSM2 store it owns (development and the demo); returns what it did.
 */
export async function ensureSoftHsmToken(h: HsmConfig): Promise<string[]> {
  if (!h.softhsmConf || !h.tokenLabel || !('file' in h.userPin))
    throw new KioskError(
      'CONFIG_INVALID',
      'a SoftHSM2 token needs hsm.softhsmConf, hsm.tokenLabel and a file for hsm.userPin',
    );
  const actions: string[] = [];
  if (ensureSoftHsmConf(h.softhsmConf).created) actions.push(`wrote ${h.softhsmConf}`);
  if (ensureSecretFile(h.userPin.file)) actions.push(`wrote a random user PIN to ${h.userPin.file} (0600)`);
  const soPinFile = join(dirname(h.softhsmConf), 'so-pin');
  if (ensureSecretFile(soPinFile)) actions.push(`wrote a random SO PIN to ${soPinFile} (0600)`);

  const tokens = await listTokens(h.module, h.softhsmConf);
  if (!tokens.some((t) => t.initialized && t.label === h.tokenLabel)) {
    const userPin = readSecret(h.userPin, 'HSM user PIN');
    const soPin = readSecret({ file: soPinFile }, 'HSM SO PIN');
    const token = await initToken(h.module, h.softhsmConf, h.tokenLabel, soPin, userPin);
    actions.push(`created SoftHSM2 token ${token.label} (serial ${token.serial})`);
  }
  return actions;
}

/**
 * Runs `fn` while holding a lock folder: two processes provisioning at once (the kiosk starting while
 * a CLI command runs) would both create a token with the same label.
 */
export async function withProvisioningLock<T>(
  lock: string,
  fn: () => Promise<T>,
  waitMs = 60_000,
): Promise<T> {
  mkdirSync(dirname(lock), { recursive: true, mode: 0o700 });
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      // a lock left by a crashed process is taken over after two minutes
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 120_000) rmSync(lock, { recursive: true, force: true });
      else if (Date.now() > deadline)
        throw new KioskError(
          'HSM_FAILED',
          `another process holds ${lock}; remove it if no provisioning runs`,
        );
      else await new Promise((r) => setTimeout(r, 50));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

// --- request and install -------------------------------------------------------------------

/**
 * A certificate request: a CVC-shaped structure for the institution key, self-signed in the token
 * (CAR = CHR, proof of possession). The 特定機関 CA checks the self-signature and issues the real one.
 */
export async function createCertificateRequest(
  hsm: Hsm,
  h: HsmConfig,
  now = new Date(),
): Promise<Uint8Array> {
  const key = await hsm.keyInfo(h.keyLabel);
  if (!key.present || key.kind !== 'ec-p256')
    throw new KioskError('HSM_KEY_NOT_FOUND', `no ECDSA P-256 key labelled ${h.keyLabel} in the token`);
  const body = encodeCvcBody({
    car: h.institutionCode,
    chr: h.institutionCode,
    publicPoint: key.publicPoint!,
    rights: RIGHT_UNLOCK_AUTH_KEY,
    effective: now,
    expiry: now,
  });
  const signature = await hsm.signDigest(h.keyLabel, createHash('sha256').update(body).digest());
  return assembleCvc(body, signature);
}

/** Checks a request's self-signature (what the CA does before issuing). */
export function verifyCertificateRequest(bytes: Uint8Array): Cvc {
  const req = readInstitutionCvc(bytes, 'certificate request');
  if (req.car !== req.chr || !verifyP256(req.publicPoint, req.signedBody, req.signature))
    throw new KioskError('HSM_CERT_INVALID', 'certificate request: the self-signature does not verify');
  return req;
}

export interface InstallOptions {
  /** The CA's public key; when given, the certificate's signature is checked before install. */
  ca?: TrustedInstitutionCa;
  now?: Date;
}

/** Validates an issued certificate against the token and configuration and copies it into place. */
export async function installCertificate(
  hsm: Hsm,
  h: HsmConfig,
  file: string,
  options: InstallOptions = {},
): Promise<Cvc> {
  if (!h.certificatePath) throw new KioskError('CONFIG_INVALID', 'hsm.certificatePath is not set');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch {
    throw new KioskError('HSM_CERT_INVALID', `${file} cannot be read`);
  }
  const cvc = readInstitutionCvc(bytes, file);
  const key = await hsm.keyInfo(h.keyLabel);
  if (!key.present) throw new KioskError('HSM_KEY_NOT_FOUND', `no key labelled ${h.keyLabel} in the token`);
  if (!samePoint(key.publicPoint, cvc.publicPoint))
    throw new KioskError('HSM_CERT_INVALID', `${file} certifies another key than ${h.keyLabel}`);
  if (cvc.chr !== h.institutionCode)
    throw new KioskError(
      'HSM_CERT_INVALID',
      `${file} is for ${cvc.chr}, the configuration says ${h.institutionCode}`,
    );
  if (!cvcValidAt(cvc, options.now ?? new Date()))
    throw new KioskError('HSM_CERT_INVALID', `${file} is not valid today`);
  if (options.ca) {
    if (options.ca.car !== cvc.car || !verifyCvcSignature(cvc, options.ca.publicPoint))
      throw new KioskError('HSM_CERT_INVALID', `${file} is not signed by CA ${options.ca.car}`);
  }
  mkdirSync(dirname(h.certificatePath), { recursive: true });
  if (file !== h.certificatePath) copyFileSync(file, h.certificatePath);
  return cvc;
}

// --- status ----------------------------------------------------------------------------------

export interface KeyStatus {
  label: string;
  present: boolean;
  kind?: string;
  sensitive?: boolean;
  extractable?: boolean;
}

export interface HsmStatusReport {
  ok: boolean;
  state: string;
  module: { path: string; library: string | null };
  token: { label: string | null; serial: string | null; present: boolean; model?: string };
  keys: KeyStatus[];
  institutionCode: string;
  certificate: {
    path: string | null;
    present: boolean;
    valid: boolean;
    holder?: string;
    authority?: string;
    effective?: string;
    expiry?: string;
    daysLeft?: number;
    matchesKey?: boolean;
    matchesInstitutionCode?: boolean;
  };
  problems: { code: string; message: string }[];
}

function keyStatus(label: string, info: KeyInfo): KeyStatus {
  if (!info.present) return { label, present: false };
  return {
    label,
    present: true,
    kind: info.kind!,
    sensitive: info.sensitive!,
    extractable: info.extractable!,
  };
}

/** Everything `jpki-kiosk hsm status` reports; never throws for a missing device. */
export async function hsmStatus(
  config: Pick<KioskConfig, 'hsm'>,
  now = new Date(),
): Promise<HsmStatusReport> {
  const h = config.hsm;
  const problems: HsmStatusReport['problems'] = [];
  const hsm = hsmFromConfig(config, { retry: { baseMs: 60_000, capMs: 60_000 } });
  const report: HsmStatusReport = {
    ok: false,
    state: 'stopped',
    module: { path: h.module, library: null },
    token: { label: h.tokenLabel, serial: h.tokenSerial, present: false },
    keys: [],
    institutionCode: h.institutionCode,
    certificate: { path: h.certificatePath, present: false, valid: false },
    problems,
  };
  let institutionPoint: Uint8Array | undefined;
  try {
    await hsm.start();
    const status = hsm.status();
    report.state = status.state;
    if (status.library) report.module.library = `${status.library.library} ${status.library.version}`;
    if (status.token) {
      report.token = {
        label: status.token.label,
        serial: status.token.serial,
        present: true,
        model: status.token.model,
      };
      for (const label of [h.keyLabel, TERMINAL_KEY_LABEL]) {
        const info = await hsm.keyInfo(label);
        report.keys.push(keyStatus(label, info));
        if (label === h.keyLabel) institutionPoint = info.publicPoint;
        if (!info.present) problems.push({ code: 'HSM_KEY_NOT_FOUND', message: `no key labelled ${label}` });
        else if (!info.sensitive || info.extractable)
          problems.push({ code: 'HSM_FAILED', message: `key ${label} is extractable or not sensitive` });
      }
    } else if (status.error) {
      problems.push(status.error);
    }
  } catch (error) {
    problems.push(toKioskError(error, 'HSM_FAILED').toPayload());
  } finally {
    await hsm.close();
  }

  if (!h.certificatePath) {
    problems.push({ code: 'HSM_CERT_INVALID', message: 'no institution certificate configured' });
  } else if (!existsSync(h.certificatePath)) {
    problems.push({
      code: 'HSM_CERT_INVALID',
      message: `institution certificate ${h.certificatePath} is missing`,
    });
  } else {
    report.certificate.present = true;
    try {
      const cvc = readInstalledCvc(h);
      const valid = cvcValidAt(cvc, now);
      const matchesCode = cvc.chr === h.institutionCode;
      const matchesKey =
        institutionPoint === undefined ? undefined : samePoint(institutionPoint, cvc.publicPoint);
      Object.assign(report.certificate, {
        holder: cvc.chr,
        authority: cvc.car,
        effective: cvc.effective.toISOString().slice(0, 10),
        expiry: cvc.expiry.toISOString().slice(0, 10),
        daysLeft: Math.floor((cvc.expiry.getTime() + DAY - now.getTime()) / DAY),
        matchesInstitutionCode: matchesCode,
        ...(matchesKey === undefined ? {} : { matchesKey }),
        valid: valid && matchesCode && matchesKey !== false,
      });
      if (!valid)
        problems.push({
          code: 'HSM_CERT_INVALID',
          message: 'the institution certificate is not valid today',
        });
      if (!matchesCode)
        problems.push({
          code: 'HSM_CERT_INVALID',
          message: `the certificate is for ${cvc.chr}, not ${h.institutionCode}`,
        });
      if (matchesKey === false)
        problems.push({
          code: 'HSM_CERT_INVALID',
          message: `the certificate is for another key than ${h.keyLabel}`,
        });
    } catch (error) {
      problems.push(toKioskError(error, 'HSM_CERT_INVALID').toPayload());
    }
  }
  report.ok = problems.length === 0;
  return report;
}
