// The PKCS#11 layer against a real SoftHSM2 token: keys born in the token and unexportable, the
// generic signer verifiable with node:crypto, typed failures, and a session that survives the token
// dropping it.
import { verify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hsm, initToken, listTokens } from '../../hsm/client.js';
import { dropTokenSessions, SOFTHSM_MODULE, tempSoftHsm } from '../support/softhsm.js';

const soft = tempSoftHsm();
const PIN = '246810';
let hsm: Hsm;

beforeAll(async () => {
  await initToken(SOFTHSM_MODULE, soft.conf, 'test-token', '13579111', PIN);
  hsm = new Hsm({
    module: SOFTHSM_MODULE,
    softhsmConf: soft.conf,
    tokenLabel: 'test-token',
    tokenSerial: null,
    pin: () => PIN,
    retry: { baseMs: 50, capMs: 50 },
  });
  expect(await hsm.start()).toBe('ready');
  await hsm.generateKey('ec-key', 'ec-p256');
  await hsm.generateKey('rsa-key', 'rsa-2048');
});

afterAll(async () => {
  await hsm?.close();
  soft.cleanup();
});

describe('token and keys', () => {
  it('lists the new token and finds it by label', async () => {
    const tokens = await listTokens(SOFTHSM_MODULE, soft.conf);
    const token = tokens.find((t) => t.label === 'test-token');
    expect(token?.initialized).toBe(true);
    expect(hsm.status().token?.serial).toBe(token?.serial);
  });

  it('finds the token by serial alone, and refuses a label/serial pair that does not match', async () => {
    const serial = hsm.status().token!.serial;
    const bySerial = new Hsm({ ...hsm.options, tokenLabel: null, tokenSerial: serial });
    expect(await bySerial.start()).toBe('ready');
    expect((await bySerial.publicKey('ec-key')).pem).toBe((await hsm.publicKey('ec-key')).pem);
    await bySerial.close();
    const mismatch = new Hsm({
      ...hsm.options,
      tokenSerial: '0000000000000000',
      retry: { baseMs: 60_000, capMs: 60_000 },
    });
    expect(await mismatch.start()).toBe('unavailable');
    expect(mismatch.status().error?.code).toBe('HSM_TOKEN_NOT_FOUND');
    await mismatch.close();
  });

  it('generates keys sensitive, non-extractable and private', async () => {
    for (const label of ['ec-key', 'rsa-key']) {
      const info = await hsm.keyInfo(label);
      expect(info).toMatchObject({
        present: true,
        sensitive: true,
        extractable: false,
        private: true,
        alwaysSensitive: true,
        neverExtractable: true,
      });
    }
  });

  it('refuses a second key with the same label', async () => {
    await expect(hsm.generateKey('ec-key')).rejects.toMatchObject({ code: 'HSM_FAILED' });
  });

  it('cannot be made to give out the private key in any form', async () => {
    for (const label of ['ec-key', 'rsa-key']) {
      const attempts = await hsm.auditExtraction(label);
      expect(attempts.map((a) => a.attempt)).toEqual([
        'read CKA_VALUE',
        'read CKA_PRIVATE_EXPONENT',
        'read CKA_PRIME_1',
        'wrap with a session AES key',
        'set CKA_EXTRACTABLE to true',
        'set CKA_SENSITIVE to false',
        'copy as an extractable, non-sensitive object',
      ]);
      for (const a of attempts) {
        expect(a.leaked, `${label}: ${a.attempt} → ${a.outcome}`).toBe(false);
        expect(a.outcome).toMatch(/^refused: CKR_/);
      }
      // and the key is still what it was
      expect(await hsm.keyInfo(label)).toMatchObject({ sensitive: true, extractable: false });
    }
  });
});

describe('generic signer', () => {
  it('signs with ECDSA P-256 verifiable by node:crypto against the exported SPKI', async () => {
    const pub = await hsm.publicKey('ec-key');
    expect(pub.kind).toBe('ec-p256');
    expect(pub.pem).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    const message = Buffer.from('journal entry 42');
    const sig = await hsm.sign('ec-key', message);
    expect(verify('sha256', message, pub.pem, sig)).toBe(true);
    expect(verify('sha256', Buffer.from('journal entry 43'), pub.pem, sig)).toBe(false);
  });

  it('signs with RSA PKCS#1 v1.5 verifiable by node:crypto', async () => {
    const pub = await hsm.publicKey('rsa-key');
    const message = Buffer.from('hub request');
    const sig = await hsm.sign('rsa-key', message);
    expect(sig.length).toBe(256);
    expect(verify('sha256', message, pub.pem, sig)).toBe(true);
  });

  it('answers HSM_KEY_NOT_FOUND for an unknown label', async () => {
    await expect(hsm.sign('nope', Buffer.from('x'))).rejects.toMatchObject({ code: 'HSM_KEY_NOT_FOUND' });
    expect(hsm.state).toBe('ready');
  });

  it('reopens the session transparently after the token dropped it', async () => {
    const states: string[] = [];
    const onState = (s: string) => states.push(s);
    hsm.on('state', onState);
    dropTokenSessions('test-token');
    const pub = await hsm.publicKey('ec-key');
    hsm.off('state', onState);
    // The loss was real (the session went), and seen as one: unavailable, reopened, ready.
    expect(states).toEqual(['unavailable', 'opening', 'ready']);
    const sig = await hsm.sign('ec-key', Buffer.from('after loss'));
    expect(verify('sha256', Buffer.from('after loss'), pub.pem, sig)).toBe(true);
    expect(hsm.state).toBe('ready');
  });

  it('keeps serving the event loop while signing', async () => {
    // Many signatures in flight; timers must still fire between them (work is on the worker).
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const sigs = await Promise.all(
      Array.from({ length: 200 }, (_, i) => hsm.sign('ec-key', Buffer.from(`m${i}`))),
    );
    clearInterval(timer);
    expect(sigs).toHaveLength(200);
    expect(ticks).toBeGreaterThan(0);
  });
});

describe('failures are typed states', () => {
  it('a missing token is HSM_TOKEN_NOT_FOUND', async () => {
    const missing = new Hsm({
      module: SOFTHSM_MODULE,
      softhsmConf: soft.conf,
      tokenLabel: 'no-such-token',
      tokenSerial: null,
      pin: () => PIN,
      retry: { baseMs: 60_000, capMs: 60_000 },
    });
    expect(await missing.start()).toBe('unavailable');
    expect(missing.status().error?.code).toBe('HSM_TOKEN_NOT_FOUND');
    await missing.close();
  });

  it('a second PKCS#11 configuration in the same process is refused', async () => {
    const other = new Hsm({
      module: SOFTHSM_MODULE,
      softhsmConf: '/elsewhere/softhsm2.conf',
      tokenLabel: 'test-token',
      tokenSerial: null,
      pin: () => PIN,
      retry: { baseMs: 60_000, capMs: 60_000 },
    });
    expect(await other.start()).toBe('unavailable');
    expect(other.status().error?.code).toBe('HSM_FAILED');
    await other.close();
  });
});
