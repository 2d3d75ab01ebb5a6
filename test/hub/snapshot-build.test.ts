// The hub's snapshot builder (hub/snapshot-build.ts) against the format terminals verify: the rows it
// signs are byte for byte what SnapshotWriter writes for the same state (framed by the database on both
// stores, or framed from readState's rows by the builder), a snapshot it builds installs on a
// terminal with the exact rows, two concurrent requests build it once, and malformed state is refused
// before anything is signed.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FileHashes } from '../../hub/content.js';
import { openHubDir } from '../../hub/hub-dir.js';
import { buildSnapshotFile, checkRowsBlock } from '../../hub/snapshot-build.js';
import { asFeedSigner, openManifest, trustFromPem } from '../../protocol/feed-format.js';
import { SnapshotWriter } from '../../protocol/snapshot-rows.js';
import { FRAME_HEADER_BYTES, FrameType, ROWS_CHUNK_BYTES } from '../../protocol/sync.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { IndexKey } from '../../whitelist/privacy.js';
import { seededRandom } from '../support/seeded-random.js';
import { cardRow, tempDir } from '../sync/helpers.js';
import { hubStoreKinds, useHubStores } from './stores.js';

/** The frames of a snapshot file: one gzip member each, concatenated. */
function readFrames(file: string): Array<{ type: number; payload: Buffer }> {
  const all = gunzipSync(readFileSync(file));
  const out: Array<{ type: number; payload: Buffer }> = [];
  for (let p = 0; p < all.length;) {
    const len = all.readUInt32BE(p + 1);
    out.push({ type: all[p]!, payload: all.subarray(p + FRAME_HEADER_BYTES, p + FRAME_HEADER_BYTES + len) });
    p += FRAME_HEADER_BYTES + len;
  }
  return out;
}

function splitSnapshot(file: string): { manifest: Buffer; rows: Buffer; chunks: number[] } {
  const frames = readFrames(file);
  expect(frames[0]!.type).toBe(FrameType.manifest);
  expect(frames.at(-1)!.type).toBe(FrameType.rowsEnd);
  const body = frames.slice(1, -1);
  for (const f of body) expect(f.type).toBe(FrameType.rows);
  return {
    manifest: frames[0]!.payload,
    rows: Buffer.concat(body.map((f) => f.payload)),
    chunks: body.map((f) => f.payload.length),
  };
}

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

describe.each(hubStoreKinds)('snapshot build (%s store)', (kind) => {
  const stores = useHubStores();

  it('signs the same rows file SnapshotWriter writes, cut into 1 MiB rows frames', async () => {
    const root = tempDir(`snapbuild-${kind}`);
    roots.push(root);
    const { store } = await stores.create(kind, root);
    try {
      const rnd = seededRandom(85);
      const byte = () => Math.floor(rnd() * 256);
      const rows = new Map<string, Buffer>();
      // Value lengths across the varint's one, two and three bytes, enough rows for several chunks.
      const lengths = [0, 1, 127, 128, 16_383, 16_384, 65_536];
      for (let i = 0; rows.size < 30_000; i++) {
        const k = Buffer.from(Array.from({ length: 16 }, byte));
        const len = i < lengths.length ? lengths[i]! : 20 + Math.floor(rnd() * 60);
        rows.set(k.toString('hex'), Buffer.from(Array.from({ length: len }, byte)));
      }
      store.publish({
        feed: 'whitelist',
        puts: [...rows].map(([k, v]) => ({ k: Buffer.from(k, 'hex'), h: Buffer.alloc(32), v, scope: 's' })),
        dels: [],
        batches: [],
        note: 'test',
      });
      const key = generateKeyPairSync('ed25519');
      const signer = asFeedSigner(key.privateKey);
      const file = join(root, 'whitelist.frames.gz');
      const epoch = store.feedInfo('whitelist').epoch;
      const built = await buildSnapshotFile({ store, feed: 'whitelist', epoch, file, signer, now: () => 0 });
      expect(built.rows).toBe(rows.size);
      expect(readdirSync(root).filter((f) => f.includes('.tmp'))).toEqual([]);

      const expectedFile = join(root, 'expected.rows');
      const writer = new SnapshotWriter(expectedFile, 'whitelist');
      for (const k of [...rows.keys()].sort()) writer.add(Buffer.from(k, 'hex'), rows.get(k)!);
      const expected = writer.finish({ epoch, seq: 0, asOf: new Date(0).toISOString() }, signer);

      const got = splitSnapshot(file);
      expect(got.rows.equals(readFileSync(expectedFile))).toBe(true);
      expect(got.chunks.slice(0, -1).every((n) => n === ROWS_CHUNK_BYTES)).toBe(true);
      expect(got.chunks.length).toBe(Math.ceil(got.rows.length / ROWS_CHUNK_BYTES));
      const manifest = openManifest(
        got.manifest,
        trustFromPem(key.publicKey.export({ type: 'spki', format: 'pem' })),
      );
      expect(manifest).toEqual(expected.manifest);

      // A store without readStateFramed: its rows are framed by the builder, to the same bytes.
      const plain = Object.create(store, { readStateFramed: { value: undefined } }) as typeof store;
      const file2 = join(root, 'whitelist-plain.frames.gz');
      await buildSnapshotFile({ store: plain, feed: 'whitelist', epoch, file: file2, signer, now: () => 0 });
      expect(splitSnapshot(file2).rows.equals(got.rows)).toBe(true);
    } finally {
      store.close();
    }
  });
});

describe('snapshot content address', () => {
  it('is recorded beside the file as it is built, and a hub takes it from there instead of reading the file', async () => {
    const root = tempDir('snaphash');
    roots.push(root);
    const dir = openHubDir(join(root, 'hub'), { keyStore: 'file' });
    try {
      dir.publisher.publishWhitelist(
        Array.from({ length: 500 }, (_, i) => cardRow(i)),
        'test',
      );
      const { file } = await dir.publisher.snapshotFile('whitelist');
      const actual = createHash('sha256').update(readFileSync(file)).digest('hex');
      const recorded = JSON.parse(readFileSync(`${file}.sha256`, 'utf8')) as {
        sha256: string;
        bytes: number;
      };
      expect(recorded).toEqual({ sha256: actual, bytes: statSync(file).size });
      expect(await new FileHashes().of(file)).toEqual({ sha256: actual, bytes: statSync(file).size });

      // The record is what is used (a hub that starts on a 7 GB snapshot answers at once)…
      const other = 'ab'.repeat(32);
      writeFileSync(`${file}.sha256`, JSON.stringify({ sha256: other, bytes: statSync(file).size }));
      expect((await new FileHashes().of(file)).sha256).toBe(other);
      // …but not one for another size, a malformed one, or one older than the file: the file is read
      // again and its hash recorded.
      for (const bad of [
        JSON.stringify({ sha256: other, bytes: 1 }),
        JSON.stringify({ sha256: 'not hex', bytes: statSync(file).size }),
        '{',
      ]) {
        writeFileSync(`${file}.sha256`, bad);
        expect((await new FileHashes().of(file)).sha256).toBe(actual);
        expect(JSON.parse(readFileSync(`${file}.sha256`, 'utf8'))).toEqual(recorded);
      }
      writeFileSync(`${file}.sha256`, JSON.stringify({ sha256: other, bytes: statSync(file).size }));
      const later = new Date(Date.now() + 60_000);
      utimesSync(file, later, later);
      expect((await new FileHashes().of(file)).sha256).toBe(actual);
    } finally {
      dir.close();
    }
  });
});

describe('snapshot build through the publisher', () => {
  it('installs on a terminal with exactly the hub rows, and two concurrent requests build once', async () => {
    const root = tempDir('snapbuild-install');
    roots.push(root);
    const hub = openHubDir(join(root, 'hub'), { keyStore: 'file' });
    try {
      const rows = Array.from({ length: 5_000 }, (_, i) => cardRow(i));
      hub.publisher.publishWhitelist(rows, 'base');
      const framed = vi.spyOn(hub.store, 'readStateFramed');
      const [a, b] = await Promise.all([
        hub.publisher.snapshotFile('whitelist'),
        hub.publisher.snapshotFile('whitelist'),
      ]);
      expect(a).toEqual(b);
      expect(framed).toHaveBeenCalledTimes(1);
      // Built once per state: asking again serves the same file without reading the state.
      expect(await hub.publisher.snapshotFile('whitelist')).toEqual(a);
      expect(framed).toHaveBeenCalledTimes(1);

      const { manifest, rows: rowsBytes } = splitSnapshot(a.file);
      mkdirSync(join(root, 'staging'));
      const rowsFile = join(root, 'staging', 'rows');
      writeFileSync(rowsFile, rowsBytes);
      const data = KioskData.open({
        dir: join(root, 'term'),
        indexKey: IndexKey.fromSecret(readFileSync(hub.indexKeyFile, 'utf8')),
        root: readFileSync(hub.rootFile),
      });
      try {
        await data.importSnapshotAsync(manifest, rowsFile);
        expect(data.whitelist.rowCount()).toBe(rows.length);
        for (const i of [0, 1, 2_500, 4_999]) {
          const r = rows[i]!;
          const hit = data.lookup({ issuerKeyId: r.issuerKeyId, serial: r.serial, spkiSha256: r.spkiSha256 });
          expect(hit.card?.subject).toBe(`S${i}`);
        }
        const miss = cardRow(5_000);
        expect(
          data.lookup({ issuerKeyId: miss.issuerKeyId, serial: miss.serial, spkiSha256: miss.spkiSha256 })
            .card,
        ).toBeNull();
        // Every row of the hub's state, byte for byte.
        const state = hub.store.readState('whitelist');
        let n = 0;
        for (const r of state.rows) {
          expect(data.whitelist.get(r.k)?.equals(r.v)).toBe(true);
          n++;
        }
        state.close();
        expect(n).toBe(rows.length);
      } finally {
        data.close();
      }
    } finally {
      hub.close();
    }
  });
});

describe('checkRowsBlock', () => {
  const row = (k: number, v: number[]) => Buffer.from([16, ...Array<number>(15).fill(0), k, v.length, ...v]);

  it('takes well-framed rows in order and refuses disorder, bad keys, truncation and a wrong count', () => {
    const good = Buffer.concat([row(1, [9]), row(2, []), row(3, [1, 2])]);
    expect(checkRowsBlock(good, 3, null)[15]).toBe(3);
    expect(() => checkRowsBlock(good, 3, Buffer.from([...Array<number>(15).fill(0), 1]))).toThrow(
      /increasing/,
    );
    expect(() => checkRowsBlock(Buffer.concat([row(2, []), row(1, [])]), 2, null)).toThrow(/increasing/);
    expect(() => checkRowsBlock(Buffer.concat([row(1, []), row(1, [])]), 2, null)).toThrow(/increasing/);
    const badKey = row(1, []);
    badKey[0] = 15;
    expect(() => checkRowsBlock(badKey, 1, null)).toThrow(/16 bytes/);
    expect(() => checkRowsBlock(good.subarray(0, good.length - 1), 3, null)).toThrow(/truncated/);
    expect(() => checkRowsBlock(good, 2, null)).toThrow(/miscounted/);
  });
});
