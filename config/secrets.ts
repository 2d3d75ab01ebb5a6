// Secrets (HSM user PIN, staff PIN, index key) come from the environment or from a file that only
// its owner can read. They are returned as values to the caller and never logged.
import { readFileSync, statSync } from 'node:fs';
import { KioskError } from '../base/errors.js';
import type { SecretRef } from './schema.js';

export function describeSecretRef(ref: SecretRef): string {
  return 'env' in ref ? `environment variable ${ref.env}` : `file ${ref.file}`;
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
  let mode: number;
  try {
    mode = statSync(ref.file).mode;
  } catch {
    throw new KioskError('SECRET_MISSING', `${purpose}: secret file ${ref.file} does not exist`, {
      source: ref.file,
    });
  }
  // Anything other users could read or change is refused: a PIN in a world-readable file is a PIN
  // every account on the kiosk knows.
  if ((mode & 0o007) !== 0 || (mode & 0o020) !== 0) {
    throw new KioskError(
      'SECRET_INSECURE',
      `${purpose}: secret file ${ref.file} has mode ${(mode & 0o777).toString(8)}; allow only its owner (chmod 600)`,
      { source: ref.file },
    );
  }
  const value = readFileSync(ref.file, 'utf8').replace(/\r?\n$/, '');
  if (value === '')
    throw new KioskError('SECRET_MISSING', `${purpose}: secret file ${ref.file} is empty`, {
      source: ref.file,
    });
  return value;
}
