// After a publisher-key rotation every snapshot a hub serves is signed by the new key, on SQLite and on
// PostgreSQL, where built snapshots are also kept in the database for the other instances: a snapshot
// built before the rotation for the same state must not come back from either place.
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHubDir } from '../../hub/hub-dir.js';
import { openManifest } from '../../protocol/feed-format.js';
import { frames } from '../../protocol/frames.js';
import { openPinnedRoot, trustFromRoot } from '../../protocol/root-of-trust.js';
import { FrameType } from '../../protocol/sync.js';
import { startPostgres, type PgCluster } from '../support/postgres.js';
import { cardRow } from '../sync/helpers.js';

async function manifestKid(file: string, rootFile: string): Promise<string> {
  for await (const f of frames(createReadStream(file).pipe(createGunzip()))) {
    expect(f.type).toBe(FrameType.manifest);
    const m = openManifest(f.payload, trustFromRoot(openPinnedRoot(readFileSync(rootFile))));
    return m.publisherKeyId;
  }
  throw new Error('empty snapshot');
}

describe('snapshots after a publisher rotation', () => {
  let cluster: PgCluster;
  let root: string;
  beforeAll(async () => {
    cluster = await startPostgres({ fast: true });
    root = mkdtempSync(join(tmpdir(), 'jpki-snap-rotation-'));
  }, 120_000);
  afterAll(() => {
    cluster?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  for (const kind of ['sqlite', 'postgres'] as const)
    it(`are signed by the new key for the same state (${kind})`, async () => {
      const store = kind === 'postgres' ? await cluster.createDatabase() : null;
      const hub = openHubDir(join(root, kind), { keyStore: 'file', store });
      try {
        hub.publisher.publishWhitelist([cardRow(1), cardRow(2), cardRow(3)], 'three');
        const before = await hub.publisher.snapshotFile('whitelist');
        const oldKey = hub.publisher.keyId;
        expect(await manifestKid(before.file, hub.rootFile)).toBe(oldKey);

        const rotated = hub.rotatePublisher();
        const after = await hub.publisher.snapshotFile('whitelist');
        expect(after.seq).toBe(before.seq);
        // The manifest verifies under the new root (which names only the new key) and is signed by it.
        expect(await manifestKid(after.file, hub.rootFile)).toBe(rotated.keyId);
      } finally {
        hub.close();
      }
    });
});
