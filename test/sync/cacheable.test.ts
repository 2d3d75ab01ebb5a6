// Cacheable distribution: whitelist and revocation content travels as immutable, content-addressed pieces
// that a standard HTTP cache keeps (a private nginx here); only the small signed checkpoint is dynamic.
// After the first terminal has fetched a new batch, the hub itself serves the others only checkpoints.
// A cache that serves other bytes is refused against the checkpoint and costs nothing.
import http from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Hub } from '../../hub/server.js';
import { IMMUTABLE_CACHE_CONTROL } from '../../protocol/content.js';
import {
  cardRow,
  cleanup,
  freePort,
  lookup,
  openTerminal,
  startHub,
  tempDir,
  type TestHub,
  type TestTerminal,
} from './helpers.js';
import { startNginx, type Nginx } from '../support/nginx.js';

/** Requests the hub itself answered, by kind. */
function countRequests(counts: Map<string, number>) {
  return (hub: Hub) =>
    hub.app.addHook('onRequest', async (req) => {
      const kind = req.url.startsWith('/v1/content/')
        ? 'content'
        : req.url.startsWith('/v1/feeds/')
          ? 'feeds'
          : req.url.split('?')[0]!;
      counts.set(kind, (counts.get(kind) ?? 0) + 1);
    });
}

describe('cacheable distribution through an HTTP cache', () => {
  let root: string;
  let hub: TestHub;
  let cache: Nginx;
  const counts = new Map<string, number>();
  const terminals: TestTerminal[] = [];

  beforeEach(async () => {
    root = tempDir('cache');
    counts.clear();
    const cachePort = await freePort();
    hub = await startHub(root, 0, {
      snapshotMinOps: 10,
      // Terminals sign for the address they use: the cache's.
      authority: `127.0.0.1:${cachePort}`,
      beforeListen: countRequests(counts),
    });
    cache = await startNginx({ upstreams: [hub.port], port: cachePort, cache: true });
  });
  afterEach(async () => {
    for (const t of terminals.splice(0)) await t.close();
    await cache.stop();
    await hub.stop();
    cleanup(root);
  });

  it('after the first terminal, the hub serves only checkpoints for a snapshot and for a new batch', async () => {
    const rows = Array.from({ length: 300 }, (_, i) => cardRow(i));
    hub.dir.publisher.publishWhitelist(rows, 'first');
    for (const id of ['t1', 't2', 't3'])
      terminals.push(openTerminal(root, id, hub.dir, cache.url, { contentAddressed: true }));
    const [t1, t2, t3] = terminals as [TestTerminal, TestTerminal, TestTerminal];

    const first = await t1.client.pull('whitelist');
    expect(first).toMatchObject({ snapshot: true, sequence: 300 });
    const afterFirst = counts.get('content') ?? 0;
    expect(afterFirst).toBe(1); // the snapshot, fetched once through the cache
    for (const t of [t2, t3]) {
      const feedsBefore = counts.get('feeds') ?? 0;
      expect(await t.client.pull('whitelist')).toMatchObject({ snapshot: true, sequence: 300 });
      expect(counts.get('feeds')).toBe(feedsBefore + 1); // its own signed checkpoint, from the hub
      expect(lookup(t, rows[123]!).card?.subject).toBe('S123');
    }
    expect(counts.get('content')).toBe(afterFirst);

    // A new batch: the first terminal brings it into the cache, the others get it there.
    hub.dir.publisher.publishWhitelist([...rows, cardRow(300)], 'one more');
    expect(await t1.client.pull('whitelist')).toMatchObject({ snapshot: false, applied: 1, sequence: 301 });
    expect(counts.get('content')).toBe(afterFirst + 1);
    for (const t of [t2, t3]) {
      expect(await t.client.pull('whitelist')).toMatchObject({ snapshot: false, applied: 1, sequence: 301 });
      expect(lookup(t, cardRow(300)).card?.subject).toBe('S300');
    }
    expect(counts.get('content')).toBe(afterFirst + 1);
    expect(cache.accessLog().filter((l) => l.startsWith('/v1/content/') && l.endsWith(' HIT'))).toHaveLength(
      4,
    );
  });

  it('marks content immutable with its address as ETag, and every signed answer no-store', async () => {
    hub.dir.publisher.publishWhitelist([cardRow(1)], 'one');
    const t = openTerminal(root, 'probe', hub.dir, cache.url, { contentAddressed: true });
    terminals.push(t);
    await t.client.pull('whitelist');
    const path = /^(\/v1\/content\/\S+)/.exec(
      cache.accessLog().find((l) => l.startsWith('/v1/content/'))!,
    )![1]!;
    const res = await fetch(hub.url + path);
    expect(res.status).toBe(200);
    expect(res.headers.get('cache-control')).toBe(IMMUTABLE_CACHE_CONTROL);
    expect(res.headers.get('etag')).toBe(`"${path.split('/').pop()}"`);
    const again = await fetch(hub.url + path, { headers: { 'if-none-match': res.headers.get('etag')! } });
    expect(again.status).toBe(304);
    // Another address (one byte of the hash changed) is not served, and the refusal is not cacheable.
    const wrong = path.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    const missing = await fetch(hub.url + wrong);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('cache-control')).toBe('no-store');
    const signed = await fetch(hub.url + '/v1/feeds/whitelist?after=0');
    expect(signed.status).toBe(401);
    expect(signed.headers.get('cache-control')).toBe('no-store');
  });
});

describe('a cache that serves other bytes', () => {
  let root: string;
  let hub: TestHub;
  let proxy: http.Server;
  let proxyUrl: string;

  beforeEach(async () => {
    root = tempDir('badcache');
    const port = await freePort();
    const hubPort = await freePort();
    hub = await startHub(root, hubPort, { authority: [`127.0.0.1:${port}`, `127.0.0.1:${hubPort}`] });
    // Passes signed requests through untouched; flips one byte of every content piece it relays.
    proxy = http.createServer((req, res) => {
      const up = http.request(
        { host: '127.0.0.1', port: hub.port, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          const parts: Buffer[] = [];
          upRes.on('data', (c: Buffer) => parts.push(c));
          upRes.on('end', () => {
            const body = Buffer.concat(parts);
            if (req.url!.startsWith('/v1/content/') && body.length > 20) body[body.length - 9]! ^= 0xff;
            res.writeHead(upRes.statusCode!, upRes.headers);
            res.end(body);
          });
        },
      );
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', r));
    proxyUrl = `http://127.0.0.1:${port}`;
  });
  afterEach(async () => {
    await new Promise<void>((r) => proxy.close(() => r()));
    await hub.stop();
    cleanup(root);
  });

  it('is refused against the checkpoint (SYNC_CONTENT_INVALID, alarm) and loses nothing held', async () => {
    const rows = Array.from({ length: 20 }, (_, i) => cardRow(i));
    hub.dir.publisher.publishWhitelist(rows, 'first');
    const t = openTerminal(root, 'victim', hub.dir, hub.url, { contentAddressed: true });
    try {
      // Straight from the hub first: the terminal holds 20 rows.
      expect(await t.client.pull('whitelist')).toMatchObject({ sequence: 20 });
      await t.close();
      hub.dir.publisher.publishWhitelist([...rows, cardRow(20)], 'one more');
      const via = openTerminal(root, 'victim', hub.dir, proxyUrl, {
        contentAddressed: true,
        register: false,
        signer: t.signer,
      });
      try {
        await expect(via.client.pull('whitelist')).rejects.toMatchObject({ code: 'SYNC_CONTENT_INVALID' });
        expect(via.data.whitelist.feedState().seq).toBe(20);
        expect(lookup(via, rows[5]!).card?.subject).toBe('S5');
        expect(lookup(via, cardRow(20)).card).toBeNull();
        expect(via.client.status().alarm?.code).toBe('SYNC_CONTENT_INVALID');
      } finally {
        await via.close();
      }
      // The same terminal straight from the hub: the batch arrives whole.
      const direct = openTerminal(root, 'victim', hub.dir, hub.url, {
        contentAddressed: true,
        register: false,
        signer: t.signer,
      });
      try {
        expect(await direct.client.pull('whitelist')).toMatchObject({ applied: 1, sequence: 21 });
        expect(lookup(direct, cardRow(20)).card?.subject).toBe('S20');
      } finally {
        await direct.close();
      }
    } finally {
      await t.close().catch(() => undefined);
    }
  });
});
