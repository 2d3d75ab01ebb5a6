// Fault tests, each proven on both databases: the hub down and back, connections cut mid-download and
// mid-upload, batches tampered with / signed by another key / replayed / out of order, unknown terminals.
import http from 'node:http';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FrameType, MEDIA_TYPE, PROTOCOL_VERSION, jsonFrame, type FeedName } from '../../protocol/sync.js';
import { softwareSigner } from '../../protocol/http-signature.js';
import { openHubDir } from '../../hub/hub-dir.js';
import {
  cardRow,
  cleanup,
  journalEntry,
  newTerminalKey,
  openTerminal,
  startHub,
  tempDir,
  type TestHub,
  freePort,
} from './helpers.js';
import { cutProxy } from './proxy.js';

// Free loopback ports, picked once for the file: a hub that stops comes back on the same address.
let HUB_PORT = 0;
let PROXY_PORT = 0;
let FAKE_PORT = 0;
const bothNames = () => [`127.0.0.1:${HUB_PORT}`, `127.0.0.1:${PROXY_PORT}`];
beforeAll(async () => {
  [HUB_PORT, PROXY_PORT, FAKE_PORT] = [await freePort(), await freePort(), await freePort()];
});

function rows(from: number, to: number) {
  return Array.from({ length: to - from }, (_, i) => cardRow(from + i));
}

describe('sync faults', () => {
  let root: string;
  let hub: TestHub | null;

  beforeEach(() => {
    root = tempDir('faults');
    hub = null;
  });
  afterEach(async () => {
    await hub?.stop();
    cleanup(root);
  });

  it('hub down for the whole first attempt, then back: nothing lost, nothing duplicated', async () => {
    // The hub's folder exists (terminal registered, whitelist published) but the service is not running.
    hub = await startHub(root, HUB_PORT);
    hub.dir.publisher.publishWhitelist(rows(0, 20), 'initial');
    const t = openTerminal(root, 'term-down', hub.dir, hub.url);
    await hub.stop();
    hub = null;
    try {
      for (let i = 0; i < 7; i++) journalEntry(t, `D${i}`);
      const failed = await t.client.syncNow();
      expect(failed.ok).toBe(false);
      expect(failed.push).toMatchObject({ code: 'SYNC_UNREACHABLE' });
      expect(failed.pulls.whitelist).toMatchObject({ code: 'SYNC_UNREACHABLE' });
      const s = t.client.status();
      expect(s.online).toBe(false);
      expect(s.push.queueLength).toBe(7);
      expect(s.lastError?.code).toBe('SYNC_UNREACHABLE');
      expect(t.data.whitelist.rowCount()).toBe(0);

      hub = await startHub(root, HUB_PORT);
      const ok = await t.client.syncNow();
      expect(ok.ok).toBe(true);
      expect(t.data.whitelist.rowCount()).toBe(20);
      expect(hub.dir.store.journalCount('term-down')).toBe(7);
      expect(t.data.journal.pendingUpload()).toBe(0);
      // A second round changes nothing on either side.
      const again = await t.client.syncNow();
      expect(again.push).toMatchObject({ sent: 0, duplicates: 0 });
      expect(hub.dir.store.journalCount('term-down')).toBe(7);
      expect(t.client.status().online).toBe(true);
    } finally {
      await t.close();
    }
  });

  it('a download cut mid-batch keeps whole batches only, and resumes from there', async () => {
    // Terminals reach this hub directly and through the proxy: both names are the hub's (@authority).
    hub = await startHub(root, HUB_PORT, { authority: bothNames() });
    hub.dir.publisher.publishWhitelist(rows(0, 200), 'a');
    hub.dir.publisher.publishWhitelist(rows(0, 400), 'b');
    hub.dir.publisher.publishWhitelist(rows(0, 600), 'c');
    const [b1, b2] = hub.dir.store.batchesAfter('whitelist', 0, 3);
    // Headers + hello ≈ a few hundred bytes; cut in the middle of the second batch.
    const proxy = await cutProxy(PROXY_PORT, HUB_PORT, {
      downAfter: 600 + b1!.frameGz.length + b2!.frameGz.length / 2,
    });
    const t = openTerminal(root, 'term-cut', hub.dir, `http://127.0.0.1:${PROXY_PORT}`);
    try {
      await expect(t.client.pull('whitelist')).rejects.toMatchObject({ code: 'SYNC_UNREACHABLE' });
      expect(t.data.whitelist.feedState().seq).toBe(200);
      expect(t.data.whitelist.rowCount()).toBe(200);
      expect(t.data.whitelist.integrity()).toBe('ok');
      await proxy.close();
      const direct = openTerminal(root, 'term-cut', hub.dir, hub.url, { register: false, signer: t.signer });
      await t.data.close();
      try {
        const r = await direct.client.pull('whitelist');
        expect(r).toMatchObject({ applied: 2, sequence: 600 });
        expect(direct.data.whitelist.rowCount()).toBe(600);
      } finally {
        await direct.close();
      }
    } finally {
      await proxy.close().catch(() => undefined);
      await t.client.stop();
    }
  });

  it('an upload cut mid-request stores nothing; an answer lost after commit is deduplicated', async () => {
    hub = await startHub(root, HUB_PORT, { authority: bothNames() });
    const t = openTerminal(root, 'term-up', hub.dir, hub.url);
    for (let i = 0; i < 300; i++) journalEntry(t, `U${i}`);
    await t.close();
    const cutUp = await cutProxy(PROXY_PORT, HUB_PORT, { upAfter: 2_000 });
    const viaCut = openTerminal(root, 'term-up', hub.dir, `http://127.0.0.1:${PROXY_PORT}`, {
      register: false,
      signer: t.signer,
    });
    try {
      await expect(viaCut.client.push()).rejects.toMatchObject({ code: 'SYNC_UNREACHABLE' });
      expect(hub.dir.store.journalCount('term-up')).toBe(0);
      expect(viaCut.data.journal.uploadWatermark()).toBe(0);
    } finally {
      await viaCut.close();
      await cutUp.close();
    }
    // Now the request arrives whole but the answer never comes back.
    const cutDown = await cutProxy(PROXY_PORT, HUB_PORT, { downAfter: 0 });
    const lost = openTerminal(root, 'term-up', hub.dir, `http://127.0.0.1:${PROXY_PORT}`, {
      register: false,
      signer: t.signer,
    });
    try {
      await expect(lost.client.push()).rejects.toMatchObject({ code: 'SYNC_UNREACHABLE' });
      // The hub may or may not have committed before the cut; either way the terminal still owes it.
      expect(lost.data.journal.uploadWatermark()).toBe(0);
    } finally {
      await lost.close();
      await cutDown.close();
    }
    // The hub got the whole request and committed it; only the answer was lost.
    for (let i = 0; i < 50 && hub.dir.store.journalCount('term-up') < 300; i++)
      await new Promise((r) => setTimeout(r, 50));
    const held = hub.dir.store.journalCount('term-up');
    expect(held).toBe(300);
    const direct = openTerminal(root, 'term-up', hub.dir, hub.url, { register: false, signer: t.signer });
    try {
      const r = await direct.client.push();
      expect(r.acked).toBe(300);
      expect(r.duplicates).toBe(held);
      expect(hub.dir.store.journalCount('term-up')).toBe(300);
      expect(direct.data.journal.pendingUpload()).toBe(0);
    } finally {
      await direct.close();
    }
  });

  describe('batches that must be refused whole', () => {
    let fake: http.Server | null = null;
    let serve: (feed: FeedName) => Buffer[] = () => [];

    beforeEach(async () => {
      fake = http.createServer((req, res) => {
        if ((req.url ?? '').startsWith('/v1/root')) return void res.end('{"roots":[]}');
        const feed = (req.url ?? '').split('/')[3]!.split('?')[0] as FeedName;
        res.writeHead(200, { 'content-type': MEDIA_TYPE, 'content-encoding': 'gzip' });
        const hello = {
          v: PROTOCOL_VERSION,
          hubId: 'mitm',
          hubTime: Date.now(),
          feed,
          epoch: 'x',
          head: 999,
        };
        const parts = [
          gzipSync(jsonFrame(FrameType.hello, hello)),
          ...serve(feed),
          // v1's unsigned `done` (0x06): a v2 terminal refuses it; these batches are refused before it.
          gzipSync(jsonFrame(0x06, { head: 999, more: false })),
        ];
        res.end(Buffer.concat(parts));
      });
      await new Promise<void>((r) => fake!.listen(FAKE_PORT, '127.0.0.1', r));
    });
    afterEach(async () => {
      await new Promise<void>((r) => fake!.close(() => r()));
    });

    let terminals = 0;
    async function expectRefused(
      code: string,
      prepare: (t: ReturnType<typeof openTerminal>) => Promise<void> | void,
    ) {
      // A counter, not a random suffix: two terminals of one test can never share a name (and a folder).
      const t = openTerminal(root, `t-${code}-${++terminals}`, hub!.dir, `http://127.0.0.1:${FAKE_PORT}`);
      try {
        await prepare(t);
        const before = { seq: t.data.whitelist.feedState().seq, rows: t.data.whitelist.rowCount() };
        await expect(t.client.pull('whitelist')).rejects.toMatchObject({ code });
        expect({ seq: t.data.whitelist.feedState().seq, rows: t.data.whitelist.rowCount() }).toEqual(before);
        expect(t.client.status().feeds.whitelist?.lastError?.code).toBe(code);
      } finally {
        await t.close();
      }
    }

    it('tampered, signed by another key, replayed, out of order', async () => {
      hub = await startHub(root, HUB_PORT);
      hub.dir.publisher.publishWhitelist(rows(0, 10), 'a');
      hub.dir.publisher.publishWhitelist(rows(0, 20), 'b');
      const [b1, b2] = hub.dir.store.batchesAfter('whitelist', 0, 2);

      // Tampered: one byte of the signed payload changed (a put becomes a del of the same key).
      const raw = gunzipSync(b1!.frameGz);
      const text = raw.toString('latin1');
      const at = text.indexOf('"op":"put"');
      const tampered = Buffer.from(text.slice(0, at) + '"op":"pUt"' + text.slice(at + 10), 'latin1');
      tampered.writeUInt32BE(tampered.length - 5, 1);
      serve = () => [gzipSync(tampered)];
      await expectRefused('DELTA_BAD_SIGNATURE', () => undefined);

      // Signed by another key: a second hub with its own publisher key and the same index key.
      const otherRoot = join(root, 'other');
      cpSync(join(root, 'hub', 'index-key'), join(otherRoot, 'index-key-copy'), { recursive: false });
      const other = openHubDir(join(otherRoot, 'hub'), {
        indexKeyFile: join(otherRoot, 'index-key-copy'),
        keyStore: 'file',
      });
      other.publisher.publishWhitelist(rows(0, 10), 'rogue');
      const rogue = other.store.batchesAfter('whitelist', 0, 1)[0]!;
      other.close();
      serve = () => [rogue.frameGz];
      await expectRefused('DELTA_WRONG_PUBLISHER', () => undefined);

      // Replayed: batch 1 again after it was applied. v1 said DELTA_DUPLICATE; in v2 a batch the terminal
      // did not ask for (at or below its position) can only be a replay: SYNC_ROLLBACK, with an alarm.
      serve = () => [b1!.frameGz];
      await expectRefused('SYNC_ROLLBACK', async (t) => {
        t.data.applyBatch(gunzipSync(b1!.frameGz).subarray(5));
        expect(t.data.whitelist.rowCount()).toBe(10);
      });

      // Out of order: batch 2 to a terminal that has nothing.
      serve = () => [b2!.frameGz];
      await expectRefused('DELTA_GAP', () => undefined);
    });
  });

  it('refuses an unknown terminal and a known id with the wrong key, storing nothing', async () => {
    hub = await startHub(root, HUB_PORT);
    hub.dir.publisher.publishWhitelist(rows(0, 5), 'a');
    const stranger = openTerminal(root, 'stranger', hub.dir, hub.url, { register: false });
    try {
      journalEntry(stranger, 'X1');
      const r = await stranger.client.syncNow();
      expect(r.pulls.whitelist).toMatchObject({ code: 'HUB_UNKNOWN_TERMINAL' });
      expect(r.push).toMatchObject({ code: 'HUB_UNKNOWN_TERMINAL' });
      expect(stranger.data.whitelist.rowCount()).toBe(0);
      expect(hub.dir.store.journalCount()).toBe(0);
      expect(hub.dir.store.terminal('stranger')).toBeNull();
    } finally {
      await stranger.close();
    }
    const known = openTerminal(root, 'known', hub.dir, hub.url);
    const impostor = openTerminal(root, 'impostor', hub.dir, hub.url, {
      register: false,
      signer: softwareSigner('known', newTerminalKey().key),
    });
    try {
      journalEntry(impostor, 'X2');
      const r = await impostor.client.syncNow();
      expect(r.pulls.whitelist).toMatchObject({ code: 'SYNC_REFUSED' });
      expect(r.push).toMatchObject({ code: 'SYNC_REFUSED' });
      expect(hub.dir.store.journalCount()).toBe(0);
      expect(hub.dir.store.terminal('known')?.lastSeenAt).toBeNull();
    } finally {
      await impostor.close();
      await known.close();
    }
  });

  it('reports clock skew from the hub time, and the hub refuses a terminal clock far off', async () => {
    hub = await startHub(root, HUB_PORT, { now: () => Date.now() + 10 * 60_000 });
    const t = openTerminal(root, 'term-skew', hub.dir, hub.url, { maxSkewSeconds: 300 });
    try {
      await expect(t.client.pull('whitelist')).rejects.toMatchObject({ code: 'CLOCK_FAULT' });
      // v2: the refusal's hubTime is unsigned, so it moves nothing (v1 took the skew from it): anyone on
      // the path could otherwise put the kiosk out of service with a forged refusal.
      const s = t.client.status();
      expect(s.clockSkewMs).toBeNull();
      expect(s.clockFault).toBe(false);
    } finally {
      await t.close();
    }
    // A hub that accepts the request states its time in the signed checkpoint: that is the skew.
    await hub.stop();
    hub = await startHub(root, HUB_PORT, { now: () => Date.now() + 10 * 60_000, maxSkewSeconds: 3600 });
    const t2 = openTerminal(root, 'term-skew-2', hub.dir, hub.url, { maxSkewSeconds: 300 });
    try {
      await t2.client.pull('whitelist');
      const s = t2.client.status();
      expect(s.clockSkewMs).toBeLessThan(-9 * 60_000);
      expect(s.clockFault).toBe(true);
    } finally {
      await t2.close();
    }
  });
});
