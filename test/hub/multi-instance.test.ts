// Two hub instances (child processes) on one PostgreSQL database behind a real nginx load balancer
// (round robin, terminals not pinned): a long poll held by A is answered at once when B takes a journal
// that changes the feed; a terminal enrolled through the balancer is served, disabled and enabled at both
// (the operator's commands on the shared database); a request nonce used at A is refused at B; two instances asked for the same
// snapshot at once build it once; killing an instance (SIGKILL) in the middle of pushes loses nothing and
// doubles nothing, the terminals retrying through the balancer.
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHubDir, type HubDir } from '../../hub/hub-dir.js';
import { signRequest, softwareSigner, type RequestSigner } from '../../protocol/http-signature.js';
import { PROTOCOL_VERSION, type PushRecord } from '../../protocol/sync.js';
import { chainHash } from '../../whitelist/journal.js';
import { startNginx, type Nginx } from '../support/nginx.js';
import { startPostgres, type PgCluster } from '../support/postgres.js';
import { seededRandom } from '../support/seeded-random.js';
import { cardRow, cleanup, freePort, newTerminalKey, tempDir } from '../sync/helpers.js';
import { bundleInstanceChild, spawnInstance, stopInstance } from './instances.js';
import { run } from '../../main/cli/hub-command.js';
import { captureStdout } from '../support/capture-stdout.js';
import { enrolAtHub } from '../../main/core/sync/enrol.js';

interface Answer {
  status: number;
  body: Buffer;
  json: { error?: { code: string; message: string } } & Record<string, unknown>;
}

function send(
  port: number,
  method: 'GET' | 'POST',
  target: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<Answer> {
  return new Promise((resolvePromise, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method,
        path: target,
        headers: { ...headers, 'accept-encoding': 'identity' },
        agent: false,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const all = Buffer.concat(parts);
          let json = {};
          try {
            json = JSON.parse(all.toString('utf8')) as object;
          } catch {
            // a feed answer is gzip frames
          }
          resolvePromise({ status: res.statusCode ?? 0, body: all, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

class Terminal {
  readonly signer: RequestSigner;
  readonly publicPem: string;
  readonly rows: PushRecord[] = [];
  private prev: Buffer = Buffer.alloc(32);

  constructor(
    readonly id: string,
    readonly site = 'site-1',
  ) {
    const { key, publicPem } = newTerminalKey();
    this.signer = softwareSigner(id, key);
    this.publicPem = publicPem;
  }

  grant(subject: string, wall = new Date()): void {
    const seq = this.rows.length + 1;
    const body = JSON.stringify({
      seq,
      kind: 'grant',
      terminalId: this.id,
      siteId: this.site,
      gateId: 'gate-a',
      direction: 'entry',
      subject,
      reasons: [],
      wall: wall.toISOString(),
      mono: seq,
      boot: 'test-boot',
    });
    this.prev = chainHash(this.prev, body);
    this.rows.push({ seq, body, hash: this.prev.toString('hex') });
  }

  async get(authority: string, target: string): Promise<Record<string, string>> {
    return signRequest(this.signer, { method: 'GET', authority, target, body: null });
  }

  async push(
    authority: string,
    records: PushRecord[],
  ): Promise<{ headers: Record<string, string>; body: Buffer }> {
    const body = Buffer.from(
      JSON.stringify({
        v: PROTOCOL_VERSION,
        terminalId: this.id,
        records,
        status: {
          version: 'test',
          queueLength: records.length,
          dataAgeSeconds: null,
          feeds: {},
          lastError: null,
        },
      }),
    );
    const headers = await signRequest(this.signer, {
      method: 'POST',
      authority,
      target: '/v1/journal',
      body,
    });
    return { headers: { ...headers, 'content-type': 'application/json' }, body };
  }
}

describe('two hub instances on one PostgreSQL database behind nginx', () => {
  let cluster: PgCluster;
  let url: string;
  let root: string;
  let hub: HubDir;
  let nginx: Nginx;
  let authority: string;
  let bundle: string;
  const ports: [number, number] = [0, 0];
  const children: [ChildProcess | null, ChildProcess | null] = [null, null];
  let db: pg.Client;

  const startInstance = async (i: 0 | 1): Promise<void> => {
    children[i] = await spawnInstance(bundle, {
      dir: join(root, 'hub'),
      store: url,
      port: ports[i],
      authority,
      indexKeyFile: join(root, 'index-key'),
    });
  };
  const stopOne = async (i: 0 | 1): Promise<void> => {
    const child = children[i];
    children[i] = null;
    await stopInstance(child);
  };
  const register = (t: Terminal) =>
    hub.store.registerTerminal(
      {
        terminalId: t.id,
        publicKeyPem: t.publicPem,
        siteId: t.site,
        gateId: 'gate-a',
        zone: 'main',
        siteKind: 'stadium-gate',
      },
      Date.now(),
    );
  const count = async (sql: string, params: unknown[] = []) =>
    Number((await db.query(sql, params)).rows[0].n);

  beforeAll(async () => {
    cluster = await startPostgres({ fast: true });
    url = await cluster.createDatabase('multi');
    root = tempDir('multi');
    writeFileSync(join(root, 'index-key'), 'cd'.repeat(32) + '\n', { mode: 0o600 });
    // The operator's view of the hub: the same folder and database the instances serve.
    hub = openHubDir(join(root, 'hub'), {
      store: url,
      keyStore: 'file',
      indexKeyFile: join(root, 'index-key'),
    });
    bundle = bundleInstanceChild(root);
    ports[0] = await freePort();
    ports[1] = await freePort();
    const lbPort = await freePort();
    authority = `127.0.0.1:${lbPort}`;
    await Promise.all([startInstance(0), startInstance(1)]);
    nginx = await startNginx({ upstreams: ports, port: lbPort });
    db = new pg.Client({ connectionString: url });
    await db.connect();
  }, 120_000);

  afterAll(async () => {
    await db?.end();
    await nginx?.stop();
    await Promise.all([stopOne(0), stopOne(1)]);
    hub?.close();
    cluster?.stop();
    if (root) cleanup(root);
  }, 60_000);

  it('a long poll held by instance A is answered when instance B takes a journal that changes the feed', async () => {
    const watcher = new Terminal('watcher');
    const gate = new Terminal('gate-b');
    register(watcher);
    register(gate);
    const head = hub.store.feedInfo('peer-entries@site-1').head;
    const target = `/v1/feeds/peer-entries?after=${head}&wait=30`;
    const started = Date.now();
    const held = send(ports[0], 'GET', target, await watcher.get(authority, target));
    await new Promise((r) => setTimeout(r, 500)); // A is holding it now
    gate.grant('S-long-poll');
    const p = await gate.push(authority, gate.rows);
    const pushed = await send(ports[1], 'POST', '/v1/journal', p.headers, p.body);
    expect(pushed.status).toBe(200);
    const answer = await held;
    const elapsed = Date.now() - started;
    expect(answer.status).toBe(200);
    // A re-reads the head only every 120 s and the wait was 30 s: only B's NOTIFY can answer it this soon.
    expect(elapsed).toBeLessThan(20_000);
    expect(gunzipSync(answer.body).toString('latin1')).toContain(`"head":${head + 1}`);
  }, 60_000);

  it('hub commands take the database with --store (status lists the terminals the instances serve)', async () => {
    const t = new Terminal('cli-listed');
    register(t);
    const common = ['--dir', join(root, 'hub'), '--index-key', join(root, 'index-key'), '--store', url];
    const status = await captureStdout(() => run(['status', ...common, '--json']));
    expect(status.code).toBe(0);
    const model = JSON.parse(status.stdout) as { terminals: Array<{ terminalId: string }> };
    expect(model.terminals.map((x) => x.terminalId)).toContain('cli-listed');
    await expect(run(['status', '--dir', join(root, 'hub'), '--store', 'mysql://x/y'])).rejects.toMatchObject(
      {
        code: 'CONFIG_INVALID',
      },
    );
  }, 30_000);

  it('a terminal enrolled through the balancer is served by both instances; disabled, both refuse it', async () => {
    const common = ['--dir', join(root, 'hub'), '--index-key', join(root, 'index-key'), '--store', url];
    const created = await captureStdout(() =>
      run([
        'enrol-code',
        'create',
        '--site',
        'site-1',
        '--gate',
        'gate-a',
        '--zone',
        'main',
        '--kind',
        'stadium-gate',
        '--ttl',
        '600',
        '--json',
        ...common,
      ]),
    );
    expect(created.code).toBe(0);
    const { code } = JSON.parse(created.stdout) as { code: string };
    const t = new Terminal('enrolled-1');
    const enrol = (who: Terminal) =>
      enrolAtHub({
        hubUrl: `http://${authority}`,
        code,
        publicKeyPem: who.publicPem,
        sign: who.signer.sign,
        terminalId: who.id,
      });
    expect(await enrol(t)).toMatchObject({ terminalId: t.id, siteId: 'site-1', gateId: 'gate-a' });
    // Spent for every instance, whichever the balancer picks.
    const late = new Terminal('enrolled-2');
    for (let i = 0; i < 2; i++) await expect(enrol(late)).rejects.toMatchObject({ code: 'ENROL_CODE_USED' });
    expect(hub.store.terminal(late.id)).toBeNull();

    const target = '/v1/feeds/revocations?after=0';
    for (const port of ports)
      expect((await send(port, 'GET', target, await t.get(authority, target))).status).toBe(200);
    const disabled = await captureStdout(() =>
      run(['terminals', 'disable', t.id, '--reason', 'reported stolen', ...common]),
    );
    expect(disabled.code).toBe(0);
    for (const port of ports) {
      const refused = await send(port, 'GET', target, await t.get(authority, target));
      expect(refused.json.error).toMatchObject({ code: 'TERMINAL_DISABLED' });
    }
    expect((await captureStdout(() => run(['terminals', 'enable', t.id, ...common]))).code).toBe(0);
    for (const port of ports)
      expect((await send(port, 'GET', target, await t.get(authority, target))).status).toBe(200);
  }, 30_000);

  it('a request nonce used at instance A is refused at instance B', async () => {
    const t = new Terminal('replayer');
    register(t);
    const target = '/v1/feeds/revocations?after=0';
    const headers = await t.get(authority, target);
    expect((await send(ports[0], 'GET', target, headers)).status).toBe(200);
    const replay = await send(ports[1], 'GET', target, headers);
    expect(replay.status).toBe(401);
    expect(replay.json.error).toMatchObject({ code: 'SYNC_REFUSED', message: 'request replayed' });
    // And through the balancer, whichever instance it picks.
    const again = await send(nginx.port, 'GET', target, headers);
    expect(again.status).toBe(401);
  }, 30_000);

  it('two instances asked for the same snapshot at once build it once', async () => {
    const random = seededRandom(1515);
    const rows = Array.from({ length: 3_000 }, (_, i) => cardRow(i, String(Math.floor(random() * 1e6))));
    hub.publisher.publishWhitelist(rows, 'snapshot test');
    const info = hub.store.feedInfo('whitelist');
    const a = new Terminal('snap-a');
    const b = new Terminal('snap-b');
    register(a);
    register(b);
    // A position in another epoch: each needs the snapshot of the current state.
    const target = '/v1/feeds/whitelist?after=0&epoch=0000000000000000';
    const [ha, hb] = await Promise.all([a.get(authority, target), b.get(authority, target)]);
    const [ra, rb] = await Promise.all([
      send(ports[0], 'GET', target, ha),
      send(ports[1], 'GET', target, hb),
    ]);
    expect([ra.status, rb.status]).toEqual([200, 200]);
    const name = basename(hub.publisher.snapshotFileAt('whitelist', info.epoch, info.head));
    expect(await count('SELECT count(*) AS n FROM snapshot_build WHERE name = $1', [name])).toBe(1);
    // Both answers carry the snapshot (the same file, apart from their own hello and checkpoint frames).
    expect(ra.body.length).toBeGreaterThan(10_000);
    expect(Math.abs(ra.body.length - rb.body.length)).toBeLessThan(64);
  }, 60_000);

  it('entries of one subject taken at the same moment by the two instances are compared: one conflict each', async () => {
    const SUBJECTS = 16;
    const t0 = Date.now() - 60_000;
    // Per subject a north gate (its push to A) and a south gate half a second later (its push to B), all
    // pushed at once: the two instances accept them concurrently.
    const pairs = Array.from({ length: SUBJECTS }, (_, i) => {
      const north = new Terminal(`arena-n${i}`, 'arena');
      const south = new Terminal(`arena-s${i}`, 'arena');
      register(north);
      register(south);
      north.grant(`D-${i}`, new Date(t0 + i * 1000));
      south.grant(`D-${i}`, new Date(t0 + i * 1000 + 500));
      return { north, south };
    });
    const signed = await Promise.all(
      pairs.map(async (p) => ({
        n: await p.north.push(authority, p.north.rows),
        s: await p.south.push(authority, p.south.rows),
      })),
    );
    const answers = await Promise.all(
      signed.flatMap((x) => [
        send(ports[0], 'POST', '/v1/journal', x.n.headers, x.n.body),
        send(ports[1], 'POST', '/v1/journal', x.s.headers, x.s.body),
      ]),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    const conflicts = hub.store.conflicts({ siteId: 'arena' });
    expect(conflicts).toHaveLength(SUBJECTS);
    for (const c of conflicts) {
      expect(c.earlier.terminalId).toMatch(/^arena-n/);
      expect(c.later.terminalId).toMatch(/^arena-s/);
    }
  }, 60_000);

  it('an instance killed in the middle of pushes loses nothing and doubles nothing', async () => {
    const terminals = Array.from({ length: 6 }, (_, i) => new Terminal(`pusher-${i}`, 'site-kill'));
    const PER = 90;
    const CHUNK = 3;
    for (const t of terminals) {
      register(t);
      for (let k = 0; k < PER; k++) t.grant(`K-${t.id}-${k}`);
    }
    let done = 0;
    let refusedOrLost = 0;
    const total = terminals.length * (PER / CHUNK);
    let killed = false;
    const killAt = Math.floor(total / 3);
    const run = async (t: Terminal) => {
      for (let from = 0; from < PER; from += CHUNK) {
        for (;;) {
          const p = await t.push(authority, t.rows.slice(from, from + CHUNK));
          const r = await send(nginx.port, 'POST', '/v1/journal', p.headers, p.body).catch(() => null);
          if (r?.status === 200) break;
          refusedOrLost++;
          await new Promise((ok) => setTimeout(ok, 100));
        }
        if (++done === killAt && !killed) {
          killed = true;
          children[0]!.kill('SIGKILL');
        }
      }
    };
    await Promise.all(terminals.map(run));
    expect(killed).toBe(true);
    // Some request was caught by the kill: answered 502 to the terminal, or passed on by nginx to B.
    const retried = nginx
      .accessLog()
      .filter((l) => l.includes(`127.0.0.1:${ports[0]}, `) || / 502 /.test(l)).length;
    expect(refusedOrLost + retried).toBeGreaterThan(0);
    for (const t of terminals) {
      expect(hub.store.journalCount(t.id)).toBe(PER);
      expect(hub.store.terminal(t.id)!.acked).toBe(PER);
    }
    // Each grant became one presence change, once: a push committed at A whose answer was lost came back
    // from B as duplicates and published nothing again.
    expect(
      await count(
        "SELECT COALESCE(SUM(ops), 0)::bigint AS n FROM batch WHERE feed = 'peer-entries@site-kill'",
      ),
    ).toBe(terminals.length * PER);
    expect(hub.store.presence('site-kill')).toHaveLength(terminals.length * PER);
    await startInstance(0); // back to two instances
  }, 120_000);
});
