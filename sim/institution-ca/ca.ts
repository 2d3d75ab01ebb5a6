// The mock 特定機関 CA (TEST): issues card-verifiable certificates to institutions for the demo and the
// tests. Its key is an ordinary file (it is a test CA, never a production one); its public part is what
// the virtual card trusts behind EF 0016. Its reference says TEST so nobody mistakes it for J-LIS's.
import { generateKeyPairSync, createPrivateKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KioskError } from '../../base/errors.js';
import { assembleCvc, encodeCvcBody, RIGHT_UNLOCK_AUTH_KEY, type CvcBody } from '../../hsm/cvc.js';
import {
  INSTITUTION_CA_FORMAT,
  loadTrustedCa,
  type InstitutionCaFile,
  type TrustedInstitutionCa,
} from '../../hsm/trusted-ca.js';

// The public half (ca.json) is the product's format: hsm/trusted-ca.ts reads it.
export { loadTrustedCa, type TrustedInstitutionCa };

export const MOCK_CA_LABEL = 'Mock 特定機関 CA — TEST ONLY, not J-LIS';
export const DEFAULT_MOCK_CAR = 'JPTEST-ICA-01';

export interface MockInstitutionCa extends TrustedInstitutionCa {
  key: KeyObject;
}

export function publicPointOf(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || !jwk.x || !jwk.y) throw new Error('not a P-256 key');
  return Uint8Array.from([0x04, ...Buffer.from(jwk.x, 'base64url'), ...Buffer.from(jwk.y, 'base64url')]);
}

/** A fresh CA in memory (tests). */
export function createMockCa(car = DEFAULT_MOCK_CAR): MockInstitutionCa {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { car, key: privateKey, publicPoint: publicPointOf(privateKey) };
}

/** Loads the CA from `dir`, creating it the first time (idempotent). */
export function ensureMockCa(dir: string, car = DEFAULT_MOCK_CAR): MockInstitutionCa {
  const keyFile = join(dir, 'ca-key.pem');
  if (existsSync(keyFile)) return loadMockCa(dir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const ca = createMockCa(car);
  writeFileSync(keyFile, ca.key.export({ format: 'pem', type: 'pkcs8' }), { mode: 0o600 });
  chmodSync(keyFile, 0o600);
  const file: InstitutionCaFile = {
    format: INSTITUTION_CA_FORMAT,
    label: MOCK_CA_LABEL,
    car,
    publicPoint: Buffer.from(ca.publicPoint).toString('hex'),
  };
  writeFileSync(join(dir, 'ca.json'), JSON.stringify(file, null, 2) + '\n');
  return ca;
}

export function loadMockCa(dir: string): MockInstitutionCa {
  const trusted = loadTrustedCa(dir);
  const key = createPrivateKey(readFileSync(join(dir, 'ca-key.pem'), 'utf8'));
  if (Buffer.compare(Buffer.from(publicPointOf(key)), Buffer.from(trusted.publicPoint)) !== 0)
    throw new KioskError('HSM_CERT_INVALID', `${dir}: ca-key.pem does not match ca.json`);
  return { ...trusted, key };
}

export interface IssueOptions {
  chr: string;
  publicPoint: Uint8Array;
  effective?: Date;
  expiry?: Date;
  rights?: number;
}

/** Issues an institution CVC signed by the CA (ECDSA P-256 / SHA-256, r||s). */
export function issueInstitutionCvc(ca: MockInstitutionCa, options: IssueOptions): Uint8Array {
  const effective = options.effective ?? new Date();
  const body: CvcBody = {
    car: ca.car,
    chr: options.chr,
    publicPoint: options.publicPoint,
    rights: options.rights ?? RIGHT_UNLOCK_AUTH_KEY,
    effective,
    expiry: options.expiry ?? new Date(effective.getTime() + 365 * 24 * 3600 * 1000),
  };
  const signedBody = encodeCvcBody(body);
  const signature = cryptoSign('sha256', signedBody, { key: ca.key, dsaEncoding: 'ieee-p1363' });
  return assembleCvc(signedBody, signature);
}
