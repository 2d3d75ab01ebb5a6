// The hub's own defences against a request or a journal it should not trust: a request signed
// for another hub is refused (RFC 9421 "@authority" checked against the hub's configured name, never the
// Host header); a request replayed after a hub restart is still refused (nonces kept in hub.db); presence
// and double-entry conflicts use the gate the terminal was registered at and clamp the record's claimed
// time, so a far-future time cannot pin someone "inside" and a claimed gate id cannot frame another gate.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openHubDir, type HubDir } from '../../hub/hub-dir.js';
import { createHub, type Hub, type HubOptions } from '../../hub/server.js';
import { signRequest, softwareSigner, type RequestSigner } from '../../protocol/http-signature.js';
import { PROTOCOL_VERSION, type PushRecord } from '../../protocol/sync.js';
import { SqliteHubStore } from '../../hub/sqlite-store.js';
import { chainHash } from '../../whitelist/journal.js';
import { cleanup, newTerminalKey, register, tempDir } from '../sync/helpers.js';

interface Running {
  dir: HubDir;
  hub: Hub;
  port: number;
  stop(): Promise<void>;
}

/** A hub on a free loopback port (port 0: the OS picks one). */
async function start(root: string, options: Partial<HubOptions> = {}): Promise<Running> {
  const dir = openHubDir(join(root, 'hub'), { indexKeyFile: null, keyStore: 'file' });
  const hub = createHub({ store: dir.store, publisher: dir.publisher, hubId: dir.hubId, ...options });
  await hub.app.listen({ host: '127.0.0.1', port: 0 });
  const port = (hub.app.server.address() as AddressInfo).port;
  return {
    dir,
    hub,
    port,
    stop: async () => {
      await hub.close();
      dir.close();
    },
  };
}

interface Sent {
  method: 'GET' | 'POST';
  target: string;
  body?: Buffer;
  headers: Record<string, string>;
}

/** A signed request as a terminal would make it, for `authority`; kept so that it can be sent again. */
async function signed(
  signer: RequestSigner,
  authority: string,
  method: 'GET' | 'POST',
  target: string,
  body?: Buffer,
): Promise<Sent> {
  const headers = await signRequest(signer, { method, authority, target, body: body ?? null });
  if (body) headers['content-type'] = 'application/json';
  return { method, target, headers, ...(body ? { body } : {}) };
}

/** Sends on node:http so that the Host header can be anything. */
function send(
  port: number,
  r: Sent,
  host?: string,
): Promise<{
  status: number;
  json: { error?: { code: string; message: string } } & Record<string, unknown>;
}> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: r.method,
        path: r.target,
        headers: { ...r.headers, ...(host ? { host } : {}), 'accept-encoding': 'identity' },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let json = {};
          try {
            json = JSON.parse(text) as object;
          } catch {
            // a feed answer is frames, not JSON
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('error', reject);
    req.end(r.body);
  });
}

describe('hub: request signatures cover @authority', () => {
  let root: string;
  let running: Running | null = null;
  beforeEach(() => {
    root = tempDir('authority');
  });
  afterEach(async () => {
    await running?.stop();
    running = null;
    cleanup(root);
  });

  it('refuses a request signed for another hub, whatever the Host header says', async () => {
    running = await start(root, { authority: 'hub-a.example:8630' });
    const { key, publicPem } = newTerminalKey();
    register(running.dir, 'term-1', publicPem);
    const signer = softwareSigner('term-1', key);

    const mine = await signed(signer, 'hub-a.example:8630', 'GET', '/v1/feeds/whitelist?after=0');
    expect((await send(running.port, mine)).status).toBe(200);

    // Captured on its way to hub B (which knows the same terminal) and replayed here.
    const forB = await signed(signer, 'hub-b.example:8630', 'GET', '/v1/feeds/whitelist?after=0');
    const refused = await send(running.port, forB, 'hub-b.example:8630');
    expect(refused.status).toBe(401);
    expect(refused.json.error).toMatchObject({ code: 'SYNC_REFUSED' });
    expect(refused.json.error?.message).toMatch(/does not verify/);

    // The Host header is not what is checked: a request signed for this hub passes whatever Host says.
    const viaProxy = await signed(signer, 'hub-a.example:8630', 'GET', '/v1/feeds/whitelist?after=0');
    expect((await send(running.port, viaProxy, 'hub-b.example:8630')).status).toBe(200);
  });

  it('a configured name with the default port matches a URL without it (TLS ending in a proxy in front)', async () => {
    running = await start(root, { authority: ['HUB.example:443'] });
    const { key, publicPem } = newTerminalKey();
    register(running.dir, 'term-1', publicPem);
    const signer = softwareSigner('term-1', key);
    // What a terminal with sync.hubUrl https://hub.example/ signs.
    const viaProxy = await signed(signer, 'hub.example', 'GET', '/v1/feeds/whitelist?after=0');
    expect((await send(running.port, viaProxy)).status).toBe(200);
    const otherPort = await signed(signer, 'hub.example:8443', 'GET', '/v1/feeds/whitelist?after=0');
    expect((await send(running.port, otherPort)).status).toBe(401);
  });

  it('without a configured name, the authority is the bound address', async () => {
    running = await start(root);
    const { key, publicPem } = newTerminalKey();
    register(running.dir, 'term-1', publicPem);
    const signer = softwareSigner('term-1', key);
    const ok = await signed(signer, `127.0.0.1:${running.port}`, 'GET', '/v1/feeds/whitelist?after=0');
    expect((await send(running.port, ok)).status).toBe(200);
    const other = await signed(signer, `localhost:${running.port + 1}`, 'GET', '/v1/feeds/whitelist?after=0');
    expect((await send(running.port, other)).status).toBe(401);
  });
});

describe('hub: the nonce cache survives a restart', () => {
  let root: string;
  beforeEach(() => {
    root = tempDir('nonces');
  });
  afterEach(() => cleanup(root));

  it('a request replayed after the hub restarted (within the skew window) is refused', async () => {
    const authority = 'hub.test';
    let running = await start(root, { authority });
    const { key, publicPem } = newTerminalKey();
    register(running.dir, 'term-1', publicPem);
    const signer = softwareSigner('term-1', key);
    const request = await signed(signer, authority, 'GET', '/v1/feeds/revocations?after=0');
    expect((await send(running.port, request)).status).toBe(200);
    const again = await send(running.port, request);
    expect(again.status).toBe(401);
    expect(again.json.error?.message).toBe('request replayed');

    await running.stop();
    running = await start(root, { authority });
    try {
      const afterRestart = await send(running.port, request);
      expect(afterRestart.status).toBe(401);
      expect(afterRestart.json.error).toMatchObject({ code: 'SYNC_REFUSED', message: 'request replayed' });
      // A fresh request of the same terminal still passes.
      const fresh = await signed(signer, authority, 'GET', '/v1/feeds/revocations?after=0');
      expect((await send(running.port, fresh)).status).toBe(200);
    } finally {
      await running.stop();
    }
  });

  it('a nonce recorded by a hub process that is then SIGKILLed is still there when the hub comes back', () => {
    // The child runs outside vitest: bundled, packages external and resolved from the project.
    const bundle = join(root, 'child.cjs');
    buildSync({
      entryPoints: [resolve(import.meta.dirname, 'nonce-crash-child.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      packages: 'external',
      outfile: bundle,
      logLevel: 'error',
    });
    const file = join(root, 'crash', 'hub.db');
    const child = spawnSync(process.execPath, [bundle, file, 'term-1', 'nonce-before-crash'], {
      env: { ...process.env, NODE_PATH: resolve(import.meta.dirname, '../../node_modules') },
      encoding: 'utf8',
    });
    expect(child.signal, child.stderr).toBe('SIGKILL');
    expect(child.stdout).toBe('USED\n');
    const store = new SqliteHubStore(file);
    try {
      expect(store.useNonce('term-1', 'nonce-before-crash', Date.now() + 600_000)).toBe(false);
    } finally {
      store.close();
    }
  });

  it('nonces past their expiry are pruned from hub.db', async () => {
    const running = await start(root);
    try {
      const store = running.dir.store;
      expect(store.useNonce('t', 'n-old', 1_000)).toBe(true);
      expect(store.useNonce('t', 'n-old', 1_000)).toBe(false);
      expect(store.useNonce('t', 'n-new', 10_000)).toBe(true);
      expect(store.useNonce('u', 'n-new', 10_000)).toBe(true); // per terminal
      expect(store.pruneNonces(5_000)).toBe(1);
      expect(store.useNonce('t', 'n-new', 10_000)).toBe(false);
    } finally {
      await running.stop();
    }
  });
});

/** A terminal's hash-chained journal as it pushes it; the gate id and wall time are whatever it claims. */
class ClaimingJournal {
  readonly rows: PushRecord[] = [];
  private prev: Buffer = Buffer.alloc(32);
  constructor(
    readonly terminalId: string,
    readonly siteId: string,
  ) {}
  append(fields: {
    kind: string;
    direction: 'entry' | 'exit';
    gateId: string;
    wall: number;
    subject?: string;
    ref?: number;
  }): number {
    const seq = this.rows.length + 1;
    const body = JSON.stringify({
      seq,
      terminalId: this.terminalId,
      siteId: this.siteId,
      reasons: [],
      mono: seq,
      boot: 'test-boot',
      ...fields,
      wall: new Date(fields.wall).toISOString(),
    });
    this.prev = chainHash(this.prev, body);
    this.rows.push({ seq, body, hash: this.prev.toString('hex') });
    return seq;
  }
}

describe('hub: presence and conflicts trust the registration and the receive time', () => {
  let root: string;
  let running: Running;
  const authority = 'hub.test';
  const SKEW = 300_000;
  beforeEach(async () => {
    root = tempDir('presence');
    running = await start(root, { authority, maxSkewSeconds: SKEW / 1000 });
  });
  afterEach(async () => {
    await running.stop();
    cleanup(root);
  });

  async function push(signer: RequestSigner, journal: ClaimingJournal, records: PushRecord[]) {
    const body = Buffer.from(
      JSON.stringify({
        v: PROTOCOL_VERSION,
        terminalId: journal.terminalId,
        records,
        status: { version: 't', queueLength: 0, dataAgeSeconds: null, feeds: {}, lastError: null },
      }),
    );
    const r = await send(running.port, await signed(signer, authority, 'POST', '/v1/journal', body));
    expect(r.status, JSON.stringify(r.json)).toBe(200);
  }

  it('uses the registered gate and clamps a far-future time: a later exit still counts, the conflict names the real gate', async () => {
    const a = newTerminalKey();
    const b = newTerminalKey();
    register(running.dir, 'gate-a-term', a.publicPem, 'stadium-1', 'north', 'stadium-gate');
    register(running.dir, 'gate-b-term', b.publicPem, 'stadium-1', 'south', 'stadium-gate');
    const signerA = softwareSigner('gate-a-term', a.key);
    const signerB = softwareSigner('gate-b-term', b.key);
    const ja = new ClaimingJournal('gate-a-term', 'stadium-1');
    const jb = new ClaimingJournal('gate-b-term', 'stadium-1');
    const subject = createHash('sha256').update('subject').digest('hex').slice(0, 16);
    const now = Date.now();

    // Gate A admits the subject now.
    ja.append({ kind: 'grant', direction: 'entry', gateId: 'north', wall: now - 1_000, subject });
    await push(signerA, ja, ja.rows);

    // Gate B (south) admits the same subject claiming to be gate "north" and a time 30 days ahead.
    const future = now + 30 * 24 * 3_600_000;
    const lieSeq = jb.append({ kind: 'grant', direction: 'entry', gateId: 'north', wall: future, subject });
    const before = Date.now();
    await push(signerB, jb, jb.rows);
    const after = Date.now();

    const stored = running.dir.store.presence('stadium-1').find((p) => p.subject === subject)!;
    expect(stored).toMatchObject({ state: 'inside', terminalId: 'gate-b-term', gateId: 'south' });
    expect(stored.at).toBeGreaterThanOrEqual(before + SKEW);
    expect(stored.at).toBeLessThanOrEqual(after + SKEW);

    const conflicts = running.dir.store.conflicts({ siteId: 'stadium-1' });
    expect(conflicts).toHaveLength(1);
    expect(conflicts[0]!.later).toMatchObject({
      terminalId: 'gate-b-term',
      gateId: 'south',
      journalSeq: lieSeq,
    });
    expect(conflicts[0]!.later.at).toBeLessThanOrEqual(after + SKEW);
    expect(conflicts[0]!.earlier).toMatchObject({ terminalId: 'gate-a-term', gateId: 'north' });

    // The record itself is kept as pushed (the claimed gate and time are evidence).
    const row = running.dir
      .sqlite!.db.prepare('SELECT body FROM journal WHERE terminal_id = ? AND seq = ?')
      .get('gate-b-term', lieSeq) as { body: string };
    expect(JSON.parse(row.body)).toMatchObject({ gateId: 'north', wall: new Date(future).toISOString() });

    // The subject leaves through gate B later (a true time, beyond the clamp bound): presence follows.
    jb.append({
      kind: 'grant',
      direction: 'exit',
      gateId: 'south',
      wall: Date.now() + SKEW + 10_000,
      subject,
    });
    await push(signerB, jb, jb.rows.slice(1));
    const left = running.dir.store.presence('stadium-1').find((p) => p.subject === subject)!;
    expect(left.state).toBe('outside');
  });

  it('clamps a time before the terminal was registered (a clock reset to 1970) to the registration', async () => {
    const a = newTerminalKey();
    register(running.dir, 'gate-a-term', a.publicPem, 'stadium-1', 'north', 'stadium-gate');
    const registeredAt = running.dir.store.terminal('gate-a-term')!.registeredAt;
    const ja = new ClaimingJournal('gate-a-term', 'stadium-1');
    ja.append({ kind: 'grant', direction: 'entry', gateId: 'north', wall: 5_000, subject: 'S-1970' });
    await push(softwareSigner('gate-a-term', a.key), ja, ja.rows);
    const stored = running.dir.store.presence('stadium-1').find((p) => p.subject === 'S-1970')!;
    expect(stored.at).toBe(registeredAt - SKEW);
  });
});
