// Enrolment takes the hub's root of trust from the hub's answer, so the exchange must not be open to
// anyone on the path: plain http: to a hub that is not on this machine is refused outside the demo
// profile before the proof is signed or anything is sent or kept — by the one enrolment path the CLI and
// the staff screen share (enrolTerminal) and by enrolAtHub itself.
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KioskConfig } from '../../config/load.js';
import { ENROLMENT_FILE, ENROLMENT_ROOT_FILE } from '../../config/enrolment.js';
import { enrolAtHub, enrolTerminal } from '../../main/core/sync/enrol.js';
import { enrolmentUri } from '../../protocol/enrolment.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function fakeKey() {
  return {
    publicKeyPem: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
      type: 'spki',
      format: 'pem',
    }) as string,
    sign: vi.fn(async () => new Uint8Array(64)),
  };
}

/** Only what the enrolment path reads of the configuration: the profile and the data folder. */
function configFor(profile: 'stadium-gate' | 'demo'): KioskConfig {
  const dir = mkdtempSync(join(tmpdir(), 'jpki-enrol-http-'));
  dirs.push(dir);
  return {
    source: { file: null, profile, packaged: false },
    data: { dir },
    sync: { caFile: null },
  } as unknown as KioskConfig;
}

describe('enrolment refuses plain http: to a hub elsewhere', () => {
  for (const hubUrl of ['http://192.0.2.10:8443', 'http://hub.example.jp', 'http://[2001:db8::1]:80']) {
    it(`${hubUrl}: refused before signing, sending or keeping anything`, async () => {
      const config = configFor('stadium-gate');
      const key = fakeKey();
      await expect(enrolTerminal({ config, hubUrl, code: 'ABCD-EFGH-JKLM', key })).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
        message: expect.stringContaining('https:'),
      });
      expect(key.sign).not.toHaveBeenCalled();
      expect(existsSync(join(config.data.dir, ENROLMENT_FILE))).toBe(false);
      expect(existsSync(join(config.data.dir, ENROLMENT_ROOT_FILE))).toBe(false);
      expect(readdirSync(config.data.dir)).toEqual([]);
    });
  }

  it('a QR code that names a plain-http hub elsewhere is refused the same way', async () => {
    const key = fakeKey();
    await expect(
      enrolAtHub({
        hubUrl: 'https://hub.example.jp',
        code: enrolmentUri('ABCDEFGHJKMN', 'http://192.0.2.10:8080'),
        publicKeyPem: key.publicKeyPem,
        sign: key.sign,
      }),
    ).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    expect(key.sign).not.toHaveBeenCalled();
  });

  it('plain http: to this machine is still an exchange that never leaves it (reaches the network step)', async () => {
    const config = configFor('stadium-gate');
    const key = fakeKey();
    // Port 9 on loopback: nothing listens, so the refusal is the connection's, after the transport check.
    await expect(
      enrolTerminal({ config, hubUrl: 'http://127.0.0.1:9', code: 'ABCD-EFGH-JKLM', key }),
    ).rejects.toMatchObject({ code: 'SYNC_UNREACHABLE' });
    expect(key.sign).toHaveBeenCalledTimes(1);
    expect(readdirSync(config.data.dir)).toEqual([]);
  });
});
