// Who may read the status page (it lists shelter rosters): open on loopback without a token; with a token,
// only Bearer or Basic carrying it (401 with a Basic challenge otherwise); reachable from the network
// without a token → 403. The terminals' /v1 API is never affected. Token files follow the secret rules.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../main/cli/hub-command.js';
import {
  isLoopbackHost,
  presentsStatusToken,
  readStatusToken,
  statusAccessPolicy,
  statusTokenDigest,
} from '../../hub/status-access.js';
import { cleanup, startHub, tempDir, type TestHub } from '../sync/helpers.js';

const TOKEN = 'k3y-for-the-status-page-0123456789';
const CHALLENGE = 'Basic realm="jpki-kiosk hub", charset="UTF-8"';
const basic = (user: string, password: string) =>
  `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

let root: string;
beforeAll(() => {
  root = tempDir('status-access');
});
afterAll(() => cleanup(root));

describe('status page access policy', () => {
  it('is open only on loopback addresses when no token is configured', () => {
    for (const host of [
      '127.0.0.1',
      '127.0.0.2',
      '::1',
      '[::1]',
      'localhost',
      'LOCALHOST',
      '::ffff:127.0.0.1',
    ])
      expect([host, statusAccessPolicy(host, null).kind]).toEqual([host, 'open']);
    for (const host of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.5', '::ffff:10.0.0.5', 'hub.example.jp'])
      expect([host, statusAccessPolicy(host, null).kind]).toEqual([host, 'refused-no-token']);
    // Not on a TCP address at all (inject, a Unix socket): no other machine can connect.
    expect(statusAccessPolicy(null, null).kind).toBe('open');
    expect(isLoopbackHost('127.0.0.1.example.jp')).toBe(false);
  });

  it('requires the token on every address once one is configured', () => {
    const token = statusTokenDigest(TOKEN);
    expect(statusAccessPolicy('127.0.0.1', token).kind).toBe('token-required');
    expect(statusAccessPolicy('0.0.0.0', token).kind).toBe('token-required');
    expect(statusAccessPolicy(null, token).kind).toBe('token-required');
  });

  it('accepts the token as Bearer or as the Basic password with any user name, nothing else', () => {
    const token = statusTokenDigest(TOKEN);
    expect(presentsStatusToken(`Bearer ${TOKEN}`, token)).toBe(true);
    expect(presentsStatusToken(`bearer ${TOKEN}`, token)).toBe(true);
    expect(presentsStatusToken(basic('anyone', TOKEN), token)).toBe(true);
    expect(presentsStatusToken(basic('', TOKEN), token)).toBe(true);
    expect(presentsStatusToken(undefined, token)).toBe(false);
    expect(presentsStatusToken('', token)).toBe(false);
    expect(presentsStatusToken(`Bearer ${TOKEN}x`, token)).toBe(false);
    expect(presentsStatusToken(`Bearer ${TOKEN.slice(0, -1)}`, token)).toBe(false);
    expect(presentsStatusToken(`Token ${TOKEN}`, token)).toBe(false);
    expect(presentsStatusToken(basic(TOKEN, ''), token)).toBe(false);
    expect(presentsStatusToken(basic('operator', 'wrong-token-of-some-length'), token)).toBe(false);
    expect(presentsStatusToken(`Basic ${Buffer.from(TOKEN).toString('base64')}`, token)).toBe(false);
  });
});

describe('status page over HTTP', () => {
  let open: TestHub;
  let guarded: TestHub;
  beforeAll(async () => {
    open = await startHub(join(root, 'open'), 0);
    guarded = await startHub(join(root, 'guarded'), 0, { statusToken: statusTokenDigest(TOKEN) });
  });
  afterAll(async () => {
    await open?.stop();
    await guarded?.stop();
  });

  it('is served without credentials on loopback when no token is configured', async () => {
    expect((await fetch(`${open.url}/status.json`)).status).toBe(200);
    expect((await fetch(`${open.url}/`)).status).toBe(200);
  });

  it('answers 401 with a Basic challenge without credentials or with a wrong token', async () => {
    for (const path of ['/', '/status.json']) {
      const res = await fetch(`${guarded.url}${path}`);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(CHALLENGE);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('HUB_STATUS_AUTH');
      expect(JSON.stringify(body)).not.toContain(TOKEN);
    }
    const wrongBearer = await fetch(`${guarded.url}/status.json`, {
      headers: { authorization: 'Bearer not-the-status-token-at-all' },
    });
    expect(wrongBearer.status).toBe(401);
    const wrongBasic = await fetch(`${guarded.url}/`, {
      headers: { authorization: basic('operator', 'not-the-status-token-at-all') },
    });
    expect(wrongBasic.status).toBe(401);
    expect(wrongBasic.headers.get('www-authenticate')).toBe(CHALLENGE);
    const head = await fetch(`${guarded.url}/`, { method: 'HEAD' });
    expect(head.status).toBe(401);
  });

  it('serves the page with the token as Bearer or as the Basic password', async () => {
    const json = await fetch(`${guarded.url}/status.json`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(json.status).toBe(200);
    expect(json.headers.get('cache-control')).toBe('no-store');
    expect(await json.json()).toMatchObject({ terminals: [], shelters: [] });
    const html = await fetch(`${guarded.url}/`, { headers: { authorization: basic('city-office', TOKEN) } });
    expect(html.status).toBe(200);
    expect(await html.text()).toContain('<h1>jpki-kiosk hub</h1>');
  });

  it('leaves the terminal API to its own signatures', async () => {
    const time = await fetch(`${guarded.url}/v1/time`);
    expect(time.status).toBe(200);
    expect(time.headers.get('www-authenticate')).toBeNull();
    // Unsigned: refused by the signature check (401 SYNC_REFUSED), not by the status token.
    const pull = await fetch(`${guarded.url}/v1/feeds/whitelist?after=0`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    expect(pull.status).toBe(401);
    expect(((await pull.json()) as { error: { code: string } }).error.code).toBe('SYNC_REFUSED');
  });

  it('answers 403 when bound to a non-loopback address without a token', async () => {
    // Binding a public address is not done in tests: the bound address the hub reads is stubbed instead.
    const spy = vi
      .spyOn(open.hub.app.server, 'address')
      .mockReturnValue({ address: '0.0.0.0', family: 'IPv4', port: open.port });
    try {
      for (const path of ['/', '/status.json']) {
        const res = await open.hub.app.inject({ method: 'GET', url: path });
        expect(res.statusCode).toBe(403);
        expect(res.headers['www-authenticate']).toBeUndefined();
        expect(res.json()).toMatchObject({ error: { code: 'HUB_STATUS_AUTH' } });
        expect(res.json<{ error: { message: string } }>().error.message).toContain('status token');
      }
      expect((await open.hub.app.inject({ method: 'GET', url: '/v1/time' })).statusCode).toBe(200);
    } finally {
      spy.mockRestore();
    }
    expect((await open.hub.app.inject({ method: 'GET', url: '/status.json' })).statusCode).toBe(200);
  });
});

describe('status token file', () => {
  const tokenFile = (name: string, content: string, mode: number) => {
    const file = join(root, name);
    writeFileSync(file, content, { mode });
    chmodSync(file, mode);
    return file;
  };
  const serve = (file: string) => {
    const indexKey = tokenFile('index-key', 'ab'.repeat(32) + '\n', 0o600);
    return run([
      'serve',
      '--dir',
      join(root, 'cli-hub'),
      '--index-key',
      indexKey,
      '--port',
      '0',
      '--status-token-file',
      file,
    ]);
  };

  it('reads an owner-only token, newline and all', () => {
    const digest = readStatusToken(tokenFile('good-token', `${TOKEN}\n`, 0o600));
    expect(presentsStatusToken(`Bearer ${TOKEN}`, digest)).toBe(true);
  });

  it('refuses at start a token shorter than 16 characters', async () => {
    const short = 'fifteen-chars!!';
    expect(short).toHaveLength(15);
    const refusal = serve(tokenFile('short-token', `${short}\n`, 0o600));
    await expect(refusal).rejects.toMatchObject({ code: 'SECRET_INSECURE' });
    await expect(refusal).rejects.not.toHaveProperty('message', expect.stringContaining(short));
    expect(() => statusTokenDigest('sixteen-chars!!!')).not.toThrow();
  });

  it('refuses at start a token file other users can read', async () => {
    const refusal = serve(tokenFile('shared-token', `${TOKEN}\n`, 0o644));
    await expect(refusal).rejects.toMatchObject({ code: 'SECRET_INSECURE' });
    await expect(refusal).rejects.toHaveProperty('message', expect.stringContaining('chmod 600'));
    await expect(refusal).rejects.not.toHaveProperty('message', expect.stringContaining(TOKEN));
  });
});
