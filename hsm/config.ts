// The HSM and the PIN-less authenticator as the configuration describes them. The user PIN is read
// from the configured secret source only when a session opens, and never logged.
import { readFileSync } from 'node:fs';
import type { KioskConfig } from '../config/load.js';
import { readSecret } from '../config/secrets.js';
import { KioskError } from '../base/errors.js';
import { Hsm, type HsmOptions } from './client.js';
import { cvcValidAt, readInstitutionCvc, type Cvc } from './cvc.js';

/** Label of the terminal's own signing key (journal seals, hub request signatures). */
export const TERMINAL_KEY_LABEL = 'terminal-key';

type HsmConfig = KioskConfig['hsm'];

export function hsmOptionsFromConfig(hsm: HsmConfig, extra: Partial<HsmOptions> = {}): HsmOptions {
  return {
    module: hsm.module,
    tokenLabel: hsm.tokenLabel,
    tokenSerial: hsm.tokenSerial,
    softhsmConf: hsm.softhsmConf,
    pin: () => readSecret(hsm.userPin, 'HSM user PIN'),
    ...extra,
  };
}

export function hsmFromConfig(config: Pick<KioskConfig, 'hsm'>, extra: Partial<HsmOptions> = {}): Hsm {
  return new Hsm(hsmOptionsFromConfig(config.hsm, extra));
}

/** Reads the installed institution certificate; HSM_CERT_INVALID if missing or malformed. */
export function readInstalledCvc(hsm: HsmConfig): Cvc {
  if (!hsm.certificatePath)
    throw new KioskError('HSM_CERT_INVALID', 'no institution certificate configured (hsm.certificatePath)');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(hsm.certificatePath));
  } catch {
    throw new KioskError(
      'HSM_CERT_INVALID',
      `institution certificate ${hsm.certificatePath} cannot be read`,
      {
        source: hsm.certificatePath,
      },
    );
  }
  return readInstitutionCvc(bytes, hsm.certificatePath);
}

/** The institution key and certificate a PIN-less terminal signs with, checked against each other. */
export interface InstalledInstitutionKey {
  keyLabel: string;
  certificate: Uint8Array;
  institutionCode: string;
}

/**
 * Checks, before any card sees it, that the installed certificate is for the configured 特定機関コード,
 * currently valid, and for the key in the token.
 */
export async function installedInstitutionKey(
  config: Pick<KioskConfig, 'hsm'>,
  hsm: Hsm,
  now: Date = new Date(),
): Promise<InstalledInstitutionKey> {
  const cvc = readInstalledCvc(config.hsm);
  if (cvc.chr !== config.hsm.institutionCode)
    throw new KioskError(
      'HSM_CERT_INVALID',
      `the institution certificate is for ${cvc.chr}, the configuration says ${config.hsm.institutionCode}`,
    );
  if (!cvcValidAt(cvc, now))
    throw new KioskError(
      'HSM_CERT_INVALID',
      `the institution certificate is valid ${cvc.effective.toISOString().slice(0, 10)} to ${cvc.expiry.toISOString().slice(0, 10)}`,
    );
  const key = await hsm.keyInfo(config.hsm.keyLabel);
  if (!key.present)
    throw new KioskError('HSM_KEY_NOT_FOUND', `no key labelled ${config.hsm.keyLabel} in the token`);
  if (!key.publicPoint || Buffer.compare(Buffer.from(key.publicPoint), Buffer.from(cvc.publicPoint)) !== 0)
    throw new KioskError(
      'HSM_CERT_INVALID',
      'the institution certificate is for another key than the token holds',
    );
  return { keyLabel: config.hsm.keyLabel, certificate: cvc.raw, institutionCode: config.hsm.institutionCode };
}
