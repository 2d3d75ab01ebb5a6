// The public half of a 特定機関 CA: its reference (CAR) and P-256 point, read from a `ca.json`
// (format `jpki-kiosk-institution-ca/1`). `jpki-kiosk hsm install-cert --ca DIR` checks an issued
// institution certificate against it; a virtual card trusts it behind EF 0016.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KioskError } from '../base/errors.js';

export const INSTITUTION_CA_FORMAT = 'jpki-kiosk-institution-ca/1';

export interface TrustedInstitutionCa {
  car: string;
  /** Uncompressed P-256 point. */
  publicPoint: Uint8Array;
}

export interface InstitutionCaFile {
  format: typeof INSTITUTION_CA_FORMAT;
  label: string;
  car: string;
  publicPoint: string;
}

/** The CA's public half from `dir/ca.json`. */
export function loadTrustedCa(dir: string): TrustedInstitutionCa {
  const path = join(dir, 'ca.json');
  let file: InstitutionCaFile;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as InstitutionCaFile;
  } catch (error) {
    throw new KioskError('CONFIG_NOT_FOUND', `institution CA not found at ${path}`, undefined, {
      cause: error,
    });
  }
  if (file.format !== INSTITUTION_CA_FORMAT || !/^04[0-9a-f]{128}$/.test(file.publicPoint))
    throw new KioskError('CONFIG_INVALID', `${path}: not an institution CA file`);
  return { car: file.car, publicPoint: new Uint8Array(Buffer.from(file.publicPoint, 'hex')) };
}
