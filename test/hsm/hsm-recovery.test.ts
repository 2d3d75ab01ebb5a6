// Login failures and a token that disappears and comes back, in a process of their own (PKCS#11
// login state is per process: once any session logged in, every session of that token is).
import { cpSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { verify } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { isKioskError } from '../../base/errors.js';
import { Hsm, initToken } from '../../hsm/client.js';
import { dropTokenSessions, SOFTHSM_MODULE, tempSoftHsm } from '../support/softhsm.js';

const soft = tempSoftHsm();
const PIN = '975310';
const options = {
  module: SOFTHSM_MODULE,
  softhsmConf: soft.conf,
  tokenLabel: 'recovery-token',
  tokenSerial: null,
  retry: { baseMs: 40, capMs: 40 },
};

afterAll(() => soft.cleanup());

async function until(predicate: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('HSM as a supervised state', () => {
  it('a wrong PIN is HSM_LOGIN_FAILED and the HSM is unavailable, not crashed', async () => {
    await initToken(SOFTHSM_MODULE, soft.conf, 'recovery-token', '11223344', PIN);
    const wrong = new Hsm({ ...options, pin: () => '000000', retry: { baseMs: 60_000, capMs: 60_000 } });
    expect(await wrong.start()).toBe('unavailable');
    expect(wrong.status().error?.code).toBe('HSM_LOGIN_FAILED');
    await expect(wrong.sign('k', Buffer.from('x'))).rejects.toSatisfy((e) =>
      isKioskError(e, 'HSM_LOGIN_FAILED'),
    );
    await wrong.close();
    expect(wrong.state).toBe('stopped');
  });

  it('a missing PIN secret is a typed error, the HSM is unavailable', async () => {
    const noPin = new Hsm({
      ...options,
      pin: () => {
        throw Object.assign(new Error('unset'), { code: 'X' });
      },
      retry: { baseMs: 60_000, capMs: 60_000 },
    });
    expect(await noPin.start()).toBe('unavailable');
    expect(noPin.status().error?.code).toBe('HSM_UNAVAILABLE');
    await noPin.close();
  });

  it('reports the token gone, and recovers by itself when it comes back', async () => {
    const hsm = new Hsm({ ...options, pin: () => PIN });
    const states: string[] = [];
    hsm.on('state', (s) => states.push(s));
    expect(await hsm.start()).toBe('ready');
    await hsm.generateKey('k');
    const pub = await hsm.publicKey('k');

    // Pull the token out: its directory disappears and the module forgets the sessions.
    const tokenDir = join(soft.tokenDir);
    const aside = join(soft.dir, 'aside');
    cpSync(tokenDir, aside, { recursive: true });
    dropTokenSessions('recovery-token');
    renameSync(tokenDir, join(soft.dir, 'gone'));
    await expect(hsm.sign('k', Buffer.from('x'))).rejects.toSatisfy(
      (e) => isKioskError(e) && ['HSM_UNAVAILABLE', 'HSM_TOKEN_NOT_FOUND'].includes(e.code),
    );
    expect(hsm.state).toBe('unavailable');

    // Put it back: the retry timer rescans and reopens without anyone calling.
    renameSync(aside, tokenDir);
    await until(() => hsm.state === 'ready');
    const sig = await hsm.sign('k', Buffer.from('back'));
    expect(verify('sha256', Buffer.from('back'), pub.pem, sig)).toBe(true);
    expect(states).toContain('unavailable');
    expect(states.at(-1)).toBe('ready');
    await hsm.close();
  });

  it('reports health as a supervised part: a refused PIN is failed (no retry) until retryNow', async () => {
    let pin = '000000';
    const hsm = new Hsm({ ...options, pin: () => pin, retry: { baseMs: 60_000, capMs: 60_000 } });
    expect(await hsm.start()).toBe('unavailable');
    expect(hsm.health()).toMatchObject({
      name: 'hsm',
      state: 'failed',
      retryAt: null,
      error: { code: 'HSM_LOGIN_FAILED' },
    });
    pin = PIN;
    hsm.retryNow();
    await until(() => hsm.state === 'ready');
    expect(hsm.health()).toMatchObject({ state: 'ready', failures: 0, error: null });
    await hsm.close();
    expect(hsm.health().state).toBe('stopped');
  });
});
