// The publisher key in the hub's own SoftHSM2 token and its rotation under the root of trust: a real hub
// (SoftHSM2 token created by the hub folder itself, SQLite, fastify) and real terminal stores. The
// private key cannot be read out of the token; a root-signed rotation (the operator command) keeps the
// terminal syncing; afterwards the old key's batches and manifests are refused and change nothing; a
// batch, manifest or root signed by a key the pinned root does not name (a fast-forward by an attacker
// on the path) is refused, as is a successor root not signed by the current root and an old root.
import http from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../main/cli/hub-command.js';
import {
  BATCH_FORMAT,
  Feeds,
  SNAPSHOT_FORMAT,
  openBatch,
  signBatch,
  signManifest,
  softwareFeedSigner,
  type FeedBatch,
} from '../../protocol/feed-format.js';
import {
  ROOT_FORMAT,
  openPinnedRoot,
  rootKeyEntry,
  signRoot,
  trustFromRoot,
  type RootPayload,
} from '../../protocol/root-of-trust.js';
import {
  FRAME_HEADER_BYTES,
  FrameType,
  MEDIA_TYPE,
  PROTOCOL_VERSION,
  jsonFrame,
} from '../../protocol/sync.js';
import { whitelistPutOp } from '../../whitelist/feed-ops.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { RootStore } from '../../whitelist/root-store.js';
import { IndexKey } from '../../whitelist/privacy.js';
import {
  cardRow,
  cleanup,
  lookup,
  openTerminal,
  startHub,
  tempDir,
  type TestHub,
  type TestTerminal,
  freePort,
} from './helpers.js';
import { captureStdout } from '../support/capture-stdout.js';

// Free loopback ports, picked before the hub starts: it must know the man in the middle's name too.
let HUB_PORT = 0;
let MITM_PORT = 0;

let root: string;
let hub: TestHub;

/** The signed blob inside a stored batch frame (what a terminal's store verifies). */
const blobOf = (frameGz: Buffer): Buffer => gunzipSync(frameGz).subarray(FRAME_HEADER_BYTES);
const kidOf = (blob: Buffer): string =>
  (JSON.parse(blob.subarray(0, blob.indexOf(0x0a)).toString('utf8')) as { kid: string }).kid;

const cli = (...args: string[]) => captureStdout(() => run(args));

const hubArgs = () => ['--dir', hub.dir.dir, '--index-key', hub.dir.indexKeyFile, '--json'];

/**
 * A man in the middle for one terminal: answers /v1/root with `roots` and every feed pull with a hello,
 * the `frames` given and a done, as an attacker on the path (or a compromised mirror) would.
 */
async function mitm(answer: { roots?: Buffer[]; frames?: Buffer[] }): Promise<{ close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if ((req.url ?? '').startsWith('/v1/root')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ roots: (answer.roots ?? []).map((r) => r.toString('base64')) }));
    }
    const feed = (req.url ?? '').split('/')[3]!.split('?')[0]!;
    const info = hub.dir.store.feedInfo('whitelist');
    res.writeHead(200, { 'content-type': MEDIA_TYPE, 'content-encoding': 'gzip' });
    const hello = {
      v: PROTOCOL_VERSION,
      hubId: 'mitm',
      hubTime: Date.now(),
      feed,
      epoch: info.epoch,
      head: 999,
    };
    res.end(
      Buffer.concat([
        gzipSync(jsonFrame(FrameType.hello, hello)),
        ...(answer.frames ?? []),
        // Never reached: the terminal refuses the batch before it reads the (unsigned) checkpoint.
        gzipSync(jsonFrame(FrameType.checkpoint, { head: 999, more: false })),
      ]),
    );
  });
  await new Promise<void>((r) => server.listen(MITM_PORT, '127.0.0.1', r));
  return { close: () => new Promise<void>((r) => server.close(() => r())) };
}

function snapshotOf(t: TestTerminal) {
  return {
    whitelist: t.data.whitelist.feedState().seq,
    rows: t.data.whitelist.rowCount(),
    root: t.data.roots.version(),
  };
}

/** A batch continuing the hub's whitelist, signed by `key`: what a fast-forward by a rogue key looks like. */
function rogueBatch(key: ReturnType<typeof softwareFeedSigner>, i: number): Buffer {
  const info = hub.dir.store.feedInfo('whitelist');
  const indexKey = IndexKey.fromSecret(readFileSync(hub.dir.indexKeyFile, 'utf8'));
  const batch: FeedBatch = {
    format: BATCH_FORMAT,
    publisherKeyId: key.keyId,
    epoch: info.epoch,
    fromSeq: info.head,
    toSeq: info.head + 1,
    asOf: new Date().toISOString(),
    feed: 'whitelist',
    ops: [whitelistPutOp(indexKey, cardRow(i, 'rogue'))],
  };
  return signBatch(batch, key);
}

beforeAll(async () => {
  root = tempDir('rotation');
  // Terminals reach the hub directly and through the man in the middle: both names are the hub's.
  [HUB_PORT, MITM_PORT] = [await freePort(), await freePort()];
  hub = await startHub(root, HUB_PORT, {
    keyStore: 'pkcs11',
    authority: [`127.0.0.1:${HUB_PORT}`, `127.0.0.1:${MITM_PORT}`],
  });
}, 60_000);

afterAll(async () => {
  await hub?.stop();
  cleanup(root);
});

describe('the publisher key in the hub token, rotated under the root of trust', () => {
  it('a fresh hub folder creates its SoftHSM2 token; the publisher key signs there and cannot be read out', () => {
    const keys = JSON.parse(readFileSync(join(hub.dir.dir, 'keys.json'), 'utf8')) as Record<string, string>;
    expect(keys).toMatchObject({
      store: 'pkcs11',
      tokenLabel: 'jpki-hub',
      publisherLabel: 'hub-publisher-1',
    });
    expect(existsSync(join(hub.dir.dir, 'hsm', 'softhsm2.conf'))).toBe(true);
    for (const pin of ['user-pin', 'so-pin'])
      expect(statSync(join(hub.dir.dir, 'hsm', pin)).mode & 0o077).toBe(0);

    // Every PKCS#11 way out is refused, for the publisher and the root key.
    for (const label of ['hub-publisher-1', 'hub-root-1']) {
      const attempts = hub.dir.keys.auditExtraction(label);
      expect(attempts.length).toBeGreaterThan(4);
      expect(attempts.filter((a) => a.leaked)).toEqual([]);
    }
    // No private key in the clear anywhere in the hub folder (the token's own files are encrypted).
    const walk = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)],
      );
    for (const file of walk(hub.dir.dir))
      expect(readFileSync(file).includes('PRIVATE KEY'), file).toBe(false);

    // What it signs verifies with the publisher key root v1 names.
    hub.dir.publisher.publishWhitelist([cardRow(1)], 'token');
    const blob = blobOf(hub.dir.store.batchesAfter('whitelist', 0, 1)[0]!.frameGz);
    const rootV1 = openPinnedRoot(readFileSync(hub.dir.rootFile));
    expect(rootV1.version).toBe(1);
    expect(kidOf(blob)).toBe(rootV1.publishers[0]!.keyId);
    expect(openBatch(blob, trustFromRoot(rootV1)).toSeq).toBe(1);
  });

  it('a root-signed rotation keeps the terminal syncing; the old key’s batches and manifests are refused afterwards', async () => {
    const pinned = readFileSync(hub.dir.rootFile); // v1, what the terminals were provisioned with
    const t = openTerminal(root, 'rot-a', hub.dir, hub.url, { pinnedRoot: pinned });
    const late = openTerminal(root, 'rot-late', hub.dir, hub.url, { pinnedRoot: pinned });
    try {
      hub.dir.publisher.publishWhitelist([cardRow(1), cardRow(2)], 'before');
      expect((await t.client.syncNow()).ok).toBe(true);
      expect((await late.client.syncNow()).ok).toBe(true);
      const at = snapshotOf(late);

      // Signed by the old key and not yet fetched by `late`: a batch and a snapshot manifest.
      hub.dir.publisher.publishWhitelist([cardRow(1), cardRow(2), cardRow(3)], 'old key');
      const head = hub.dir.store.feedInfo('whitelist').head;
      const oldFrame = hub.dir.store.batchesAfter('whitelist', head - 1, 1)[0]!.frameGz;
      const oldKid = kidOf(blobOf(oldFrame));
      const snap = await hub.dir.publisher.snapshotFile('whitelist');
      const frames = gunzipSync(readFileSync(snap.file));
      expect(frames[0]).toBe(FrameType.manifest);
      const oldManifest = frames.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + frames.readUInt32BE(1));
      expect(kidOf(oldManifest)).toBe(oldKid);

      // The operator rotates with the CLI while the hub serves: new key in the token, root v2 naming only it.
      const rotated = await cli('root', 'rotate-publisher', ...hubArgs());
      expect(rotated.code).toBe(0);
      const r = JSON.parse(rotated.stdout) as { version: number; keyId: string; previousKeyId: string };
      expect(r).toMatchObject({ version: 2, previousKeyId: oldKid });
      expect(r.keyId).not.toBe(oldKid);
      const shown = JSON.parse((await cli('root', 'show', ...hubArgs())).stdout) as {
        version: number;
        publishers: Array<{ keyId: string }>;
        keyStore: string;
      };
      expect(shown).toMatchObject({ version: 2, keyStore: 'pkcs11', publishers: [{ keyId: r.keyId }] });
      // The running hub publishes with the new key from now on, and its stored batches were signed again.
      expect(hub.dir.publisher.keyId).toBe(r.keyId);
      for (const b of hub.dir.store.batchesAfter('whitelist', 0, 100))
        expect(kidOf(blobOf(b.frameGz))).toBe(r.keyId);
      expect(existsSync(snap.file)).toBe(false);

      // The terminal follows root v2 at its next sync and keeps syncing under the new key.
      hub.dir.publisher.publishWhitelist([cardRow(1), cardRow(2), cardRow(3), cardRow(4)], 'new key');
      const report = await t.client.syncNow();
      expect(report.ok, JSON.stringify(report)).toBe(true);
      expect(t.data.roots.version()).toBe(2);
      expect(lookup(t, cardRow(4)).card?.subject).toBe('S4');
      expect(t.data.whitelist.feedState().seq).toBe(hub.dir.store.feedInfo('whitelist').head);
      // Persisted in the data folder: a restart keeps v2 although the configuration still pins v1.
      expect(openPinnedRoot(readFileSync(join(root, 'rot-a', 'root.json'))).version).toBe(2);
      expect(new RootStore(join(root, 'rot-a'), () => pinned).version()).toBe(2);

      // `late` learns root v2 (from the hub), then an old-key batch and manifest arrive: refused, nothing changed.
      late.data.roots.accept(hub.dir.keys.rootsAfter(1));
      expect(late.data.roots.version()).toBe(2);
      expect(() => late.data.applyBatch(blobOf(oldFrame))).toThrow(
        expect.objectContaining({ code: 'DELTA_WRONG_PUBLISHER' }),
      );
      expect(() => late.data.importSnapshot(oldManifest, join(root, 'nothing.rows'))).toThrow(
        expect.objectContaining({ code: 'DELTA_WRONG_PUBLISHER' }),
      );
      expect(snapshotOf(late)).toEqual({ ...at, root: 2 });

      // The same replay on the wire, by a man in the middle: refused whole, nothing changed.
      const proxy = await mitm({ frames: [oldFrame] });
      const viaMitm = openTerminal(root, 'rot-late', hub.dir, `http://127.0.0.1:${MITM_PORT}`, {
        register: false,
        signer: late.signer,
      });
      try {
        await late.close();
        await expect(viaMitm.client.pull('whitelist')).rejects.toMatchObject({
          code: 'DELTA_WRONG_PUBLISHER',
        });
        expect(snapshotOf(viaMitm)).toEqual({ ...at, root: 2 });
      } finally {
        await viaMitm.close();
        await proxy.close();
      }
    } finally {
      await t.close();
      await late.close().catch(() => undefined);
    }
  });

  it('a fast-forward by a key not in the root: batch, manifest and root signed by an attacker are refused', async () => {
    const attacker = softwareFeedSigner(generateKeyPairSync('ed25519').privateKey);
    const t = openTerminal(root, 'ff-a', hub.dir, hub.url);
    try {
      expect((await t.client.syncNow()).ok).toBe(true);
      const before = snapshotOf(t);

      // A batch continuing the feed, signed by the attacker: refused, nothing applied.
      expect(() => t.data.applyBatch(rogueBatch(attacker, 90))).toThrow(
        expect.objectContaining({ code: 'DELTA_WRONG_PUBLISHER' }),
      );
      // A snapshot manifest signed by the attacker: refused before any row is read.
      const manifest = signManifest(
        {
          format: SNAPSHOT_FORMAT,
          feed: 'whitelist',
          publisherKeyId: attacker.keyId,
          epoch: 'rogue',
          seq: 10_000,
          asOf: new Date().toISOString(),
          rowCount: 0,
          rowsSha256: '00'.repeat(32),
          rowsBytes: 0,
          digest: '00'.repeat(32),
          lineage: [],
        },
        attacker,
      );
      expect(() => t.data.importSnapshot(manifest, join(root, 'nothing.rows'))).toThrow(
        expect.objectContaining({ code: 'DELTA_WRONG_PUBLISHER' }),
      );
      expect(snapshotOf(t)).toEqual(before);

      // On the wire: a man in the middle offers a root v(N+1) naming the attacker as publisher, signed by
      // the attacker (not by the pinned root key), and a batch signed by the attacker. Both refused.
      const current = openPinnedRoot(readFileSync(hub.dir.rootFile));
      const forged = signRoot(
        {
          format: ROOT_FORMAT,
          version: current.version + 1,
          expires: new Date(Date.now() + 86_400_000).toISOString(),
          threshold: 1,
          rootKeys: [rootKeyEntry(attacker.publicKey)],
          publishers: [{ ...rootKeyEntry(attacker.publicKey), feeds: [...Feeds] }],
        },
        [attacker],
      );
      const raw = Buffer.concat([Buffer.from([FrameType.batch, 0, 0, 0, 0]), rogueBatch(attacker, 91)]);
      raw.writeUInt32BE(raw.length - FRAME_HEADER_BYTES, 1);
      for (const answer of [{ roots: [forged] }, { frames: [gzipSync(raw)] }]) {
        const proxy = await mitm(answer);
        const viaMitm = openTerminal(root, 'ff-a', hub.dir, `http://127.0.0.1:${MITM_PORT}`, {
          register: false,
          signer: t.signer,
        });
        try {
          await expect(viaMitm.client.pull('whitelist')).rejects.toMatchObject({
            code: answer.roots ? 'ROOT_INVALID' : 'DELTA_WRONG_PUBLISHER',
          });
          expect(snapshotOf(viaMitm)).toEqual(before);
        } finally {
          await viaMitm.close();
          await proxy.close();
        }
      }
      // Nothing persisted: the terminal still trusts the pinned root it started with.
      expect(existsSync(join(root, 'ff-a', 'root.json'))).toBe(false);
      expect(t.data.roots.version()).toBe(current.version);
    } finally {
      await t.close().catch(() => undefined);
    }
  });

  it('a successor not signed by the current root, a skipped version and an old or equal root are refused', async () => {
    const t = openTerminal(root, 'roots-a', hub.dir, hub.url, {
      pinnedRoot: readFileSync(join(hub.dir.dir, 'roots', '1.json')),
    });
    try {
      expect(t.data.roots.version()).toBe(1);
      const [v2] = hub.dir.keys.rootsAfter(1);
      const attacker = softwareFeedSigner(generateKeyPairSync('ed25519').privateKey);
      const v1 = openPinnedRoot(readFileSync(join(hub.dir.dir, 'roots', '1.json')));
      const body = (version: number): RootPayload => ({
        format: ROOT_FORMAT,
        version,
        expires: new Date(Date.now() + 86_400_000).toISOString(),
        threshold: 1,
        rootKeys: [rootKeyEntry(attacker.publicKey)],
        publishers: [{ ...rootKeyEntry(attacker.publicKey), feeds: [...Feeds] }],
      });
      // Not signed by v1's root key (only by its own): refused.
      expect(() => t.data.roots.accept([signRoot(body(2), [attacker])])).toThrow(
        expect.objectContaining({ code: 'ROOT_INVALID' }),
      );
      // v1's root key (its real signature over v2) copied onto a different payload: refused.
      const v2Header = v2!.subarray(0, v2!.indexOf(0x0a) + 1);
      const spliced = Buffer.concat([v2Header, Buffer.from(JSON.stringify(body(2)))]);
      expect(() => t.data.roots.accept([spliced])).toThrow(expect.objectContaining({ code: 'ROOT_INVALID' }));
      // A skipped version (v3 before v2) and a chain with one bad link: all or nothing.
      expect(() => t.data.roots.accept([signRoot(body(3), [attacker])])).toThrow(
        expect.objectContaining({ code: 'ROOT_INVALID' }),
      );
      expect(() => t.data.roots.accept([v2!, signRoot(body(3), [attacker])])).toThrow(
        expect.objectContaining({ code: 'ROOT_INVALID' }),
      );
      expect(t.data.roots.version()).toBe(1);
      // The real v2 is taken; then v1 and v2 again (a replay of an older or the same root) are refused.
      expect(t.data.roots.accept([v2!])).toEqual({ from: 1, to: 2 });
      for (const old of [v1.bytes, v2!])
        expect(() => t.data.roots.accept([old])).toThrow(expect.objectContaining({ code: 'ROOT_INVALID' }));
      expect(t.data.roots.version()).toBe(2);
      // The hub never answers an older root: after=2 is empty.
      expect(hub.dir.keys.rootsAfter(2)).toEqual([]);
    } finally {
      await t.close();
    }
  });

  it('an expired root trusts no publisher (ROOT_EXPIRED) until its successor arrives', () => {
    const rootKey = softwareFeedSigner(generateKeyPairSync('ed25519').privateKey);
    const publisher = softwareFeedSigner(generateKeyPairSync('ed25519').privateKey);
    const expired = signRoot(
      {
        format: ROOT_FORMAT,
        version: 1,
        expires: new Date(Date.now() - 1000).toISOString(),
        threshold: 1,
        rootKeys: [rootKeyEntry(rootKey.publicKey)],
        publishers: [{ ...rootKeyEntry(publisher.publicKey), feeds: [...Feeds] }],
      },
      [rootKey],
    );
    const data = KioskData.open({
      dir: join(root, 'expired'),
      indexKey: IndexKey.fromSecret(readFileSync(hub.dir.indexKeyFile, 'utf8')),
      root: expired,
    });
    try {
      expect(() => data.applyBatch(rogueBatch(publisher, 95))).toThrow(
        expect.objectContaining({ code: 'ROOT_EXPIRED' }),
      );
      const renewed = signRoot(
        {
          ...JSON.parse(expired.subarray(expired.indexOf(0x0a) + 1).toString('utf8')),
          version: 2,
          expires: new Date(Date.now() + 86_400_000).toISOString(),
        },
        [rootKey],
      );
      data.roots.accept([renewed]);
      expect(() => data.requireTrust()).not.toThrow();
    } finally {
      data.close();
    }
  });

  it('a threshold of the current root keys is needed, and a publisher signs only the feeds the root lists it for', () => {
    const keys = [0, 1, 2].map(() => softwareFeedSigner(generateKeyPairSync('ed25519').privateKey));
    const peers = softwareFeedSigner(generateKeyPairSync('ed25519').privateKey);
    const body = (version: number): RootPayload => ({
      format: ROOT_FORMAT,
      version,
      expires: new Date(Date.now() + 86_400_000).toISOString(),
      threshold: 2,
      rootKeys: keys.map((k) => rootKeyEntry(k.publicKey)),
      publishers: [{ ...rootKeyEntry(peers.publicKey), feeds: ['peer-entries'] }],
    });
    expect(() => openPinnedRoot(signRoot(body(1), [keys[0]!]))).toThrow(
      expect.objectContaining({ code: 'ROOT_INVALID' }),
    );
    const v1 = openPinnedRoot(signRoot(body(1), [keys[0]!, keys[2]!]));
    const data = KioskData.open({
      dir: join(root, 'threshold'),
      indexKey: IndexKey.fromSecret(readFileSync(hub.dir.indexKeyFile, 'utf8')),
      root: v1.bytes,
    });
    try {
      // One of two required root signatures (the same key twice counts once): refused.
      expect(() => data.roots.accept([signRoot(body(2), [keys[1]!, keys[1]!])])).toThrow(
        expect.objectContaining({ code: 'ROOT_INVALID' }),
      );
      expect(data.roots.accept([signRoot(body(2), [keys[1]!, keys[2]!])])).toEqual({ from: 1, to: 2 });
      // The peers-only publisher signs a whitelist batch: not a key for that feed.
      expect(() => data.applyBatch(rogueBatch(peers, 96))).toThrow(
        expect.objectContaining({ code: 'DELTA_WRONG_PUBLISHER' }),
      );
      expect(data.whitelist.feedState().seq).toBe(0);
    } finally {
      data.close();
    }
  });
});
