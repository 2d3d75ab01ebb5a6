// CRLs as a platform operator imports them into the hub: only sha256WithRSAEncryption, as JPKI signs
// them, is accepted; a CRL signed by the right CA key with another algorithm is refused, naming it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readCrl } from '../../hub/import-crl.js';
import { issueCrl } from '../../sim/pki/crl.js';
import type { DemoCardSet } from '../../sim/pki/demo-pki.js';
import { demoCards } from '../support/demo-cards.js';

let set: DemoCardSet;
let caPem: string;
let caKeyPem: string;

beforeAll(async () => {
  set = await demoCards();
  caPem = readFileSync(set.caPemPath, 'utf8');
  caKeyPem = readFileSync(join(set.dir, 'auth-ca-key.pem'), 'utf8');
});

const crl = (hash: 'SHA-256' | 'SHA-1' | 'SHA-384') =>
  issueCrl({ caCertPem: caPem, caKeyPem, entries: [], crlNumber: 7, hash });

describe('CRL signature algorithm', () => {
  it('accepts the CA’s sha256WithRSAEncryption CRL', async () => {
    await expect(readCrl(await crl('SHA-256'), [caPem])).resolves.toMatchObject({ crlNumber: 7n });
  });

  it.each([
    ['SHA-1', 'sha1WithRSAEncryption'],
    ['SHA-384', 'sha384WithRSAEncryption'],
  ] as const)('refuses a %s CRL signed by the same CA key with CRL_INVALID naming %s', async (hash, name) => {
    await expect(readCrl(await crl(hash), [caPem])).rejects.toMatchObject({
      code: 'CRL_INVALID',
      message: expect.stringContaining(name),
      detail: { algorithm: name },
    });
  });
});
