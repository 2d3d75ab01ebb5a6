// Secrets (HSM user PIN, staff PIN, index key, hub keys, status token) come from the environment or
// from a file that only the running user can read: mode 0600 (or stricter) and owned by that user.
// Trust files (anchors, the pinned hub root) are public but must not be writable by anyone else.
// Values are returned to the caller and never logged; refusals name the file and the fix.
import { readFileSync, statSync, type Stats } from 'node:fs';
import { KioskError } from '../base/errors.js';
import type { SecretRef } from './schema.js';

export function describeSecretRef(ref: SecretRef): string {
  return 'env' in ref ? `environment variable ${ref.env}` : `file ${ref.file}`;
}

function statOrMissing(file: string, purpose: string): Stats {
  try {
    return statSync(file);
  } catch {
    throw new KioskError('SECRET_MISSING', `${purpose}: secret file ${file} does not exist`, {
      source: file,
    });
  }
}

function runningUid(): number | null {
  return typeof process.getuid === 'function' ? process.getuid() : null;
}

/**
 * Refuses a secret file that anyone but its owner may read or change, or that another user owns (they
 * could loosen its mode or swap its content at any time).
 */
export function checkSecretFile(file: string, purpose: string): void {
  const stat = statOrMissing(file, purpose);
  const mode = stat.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new KioskError(
      'SECRET_INSECURE',
      `${purpose}: secret file ${file} has mode ${mode.toString(8)}; allow only its owner: chmod 600 ${file}`,
      { source: file },
    );
  }
  const uid = runningUid();
  if (uid !== null && stat.uid !== uid) {
    throw new KioskError(
      'SECRET_INSECURE',
      `${purpose}: secret file ${file} belongs to uid ${stat.uid}, not to the user running the kiosk (uid ${uid}): chown ${uid} ${file}`,
      { source: file },
    );
  }
}

/** The bytes of a secret file (a PEM key, a token) after checkSecretFile. */
export function readSecretFile(file: string, purpose: string): Buffer {
  checkSecretFile(file, purpose);
  return readFileSync(file);
}

/**
 * Refuses a trust file (trust anchor, pinned hub root) that its group or everyone may write: whoever
 * can write it decides which cards or which hub the terminal believes.
 */
export function checkTrustFile(file: string, purpose: string): void {
  let stat: Stats;
  try {
    stat = statSync(file);
  } catch {
    return; // a missing file is reported by whoever reads it, with its own code
  }
  const mode = stat.mode & 0o777;
  if ((mode & 0o022) !== 0) {
    throw new KioskError(
      'CONFIG_INVALID',
      `${purpose}: ${file} has mode ${mode.toString(8)}; group or others may change it: chmod go-w ${file}`,
      { source: file },
    );
  }
}

export function readSecret(ref: SecretRef, purpose: string, env: NodeJS.ProcessEnv = process.env): string {
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined || value === '') {
      throw new KioskError('SECRET_MISSING', `${purpose}: set the environment variable ${ref.env}`, {
        source: ref.env,
      });
    }
    return value;
  }
  const value = readSecretFile(ref.file, purpose)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (value === '')
    throw new KioskError('SECRET_MISSING', `${purpose}: secret file ${ref.file} is empty`, {
      source: ref.file,
    });
  return value;
}

/** Shortest staff PIN outside the demo profile (the demo's is printed on its screen). */
export const StaffPinMinDigits = 6;

/** Null when `pin` is an acceptable staff PIN for the profile, else what is wrong with it. */
export function staffPinProblem(pin: string, demo: boolean): string | null {
  const min = demo ? 4 : StaffPinMinDigits;
  if (!/^[0-9]+$/.test(pin)) return 'must be digits only';
  if (pin.length < min || pin.length > 12)
    return `must be ${min} to 12 digits${demo ? '' : ' outside the demo profile'} (found ${pin.length})`;
  return null;
}

/** The configured staff PIN, refused with CONFIG_INVALID (key ui.staffPin) when too short for the profile. */
export function readStaffPin(
  config: { ui: { staffPin: SecretRef }; source: { profile: string } },
  env: NodeJS.ProcessEnv = process.env,
): string {
  const pin = readSecret(config.ui.staffPin, 'staff PIN (ui.staffPin)', env);
  const problem = staffPinProblem(pin, config.source.profile === 'demo');
  if (problem)
    throw new KioskError('CONFIG_INVALID', `key ui.staffPin: the staff PIN ${problem}`, {
      key: 'ui.staffPin',
    });
  return pin;
}
