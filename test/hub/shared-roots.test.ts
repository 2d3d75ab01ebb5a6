// Hub instances on several machines share one PostgreSQL database but each has its own hub folder (set up
// as copies of one). A publisher rotation made by one instance reaches the others through the store: they
// take the new root and sign with the new key (once the replicated HSM holds it) without a restart. A
// folder set up apart (another root key) is refused by a store that holds another root.
import { copyFileSync, cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHubDir, type HubDir } from '../../hub/hub-dir.js';
import { SHARED_ROOT_CHECK_MS } from '../../hub/hub-keys.js';
import { openPinnedRoot } from '../../protocol/root-of-trust.js';
import { startPostgres, type PgCluster } from '../support/postgres.js';

describe('roots shared through the store', () => {
  let cluster: PgCluster;
  let root: string;
  beforeAll(async () => {
    cluster = await startPostgres({ fast: true });
    root = mkdtempSync(join(tmpdir(), 'jpki-shared-roots-'));
  }, 120_000);
  afterAll(() => {
    cluster?.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it('an instance on another machine follows a rotation made by one of them, without a restart', async () => {
    const store = await cluster.createDatabase();
    let now = Date.UTC(2026, 11, 4, 12);
    const clock = () => now;
    const open = (name: string): HubDir =>
      openHubDir(join(root, name), { keyStore: 'file', store, now: clock });
    const a = open('a');
    cpSync(join(root, 'a'), join(root, 'b'), { recursive: true }); // the second machine, set up from A
    const b = open('b');
    try {
      const before = b.keys.publisher().keyId;
      expect(a.keys.publisher().keyId).toBe(before);

      const rotated = a.rotatePublisher();
      expect(rotated.previousKeyId).toBe(before);
      // Within the check interval B still signs with the key it holds.
      expect(b.keys.publisher().keyId).toBe(before);

      // B's HSM does not hold the new key yet: B takes the new root but keeps signing with the old key.
      now += SHARED_ROOT_CHECK_MS;
      expect(b.keys.publisher().keyId).toBe(before);
      expect(readFileSync(b.rootFile)).toEqual(readFileSync(a.rootFile));
      expect(b.keys.root().version).toBe(2);

      // The replicated HSM now holds it (file keys stand in for the HSM here).
      copyFileSync(join(root, 'a', 'hub-publisher-2.pem'), join(root, 'b', 'hub-publisher-2.pem'));
      now += SHARED_ROOT_CHECK_MS;
      expect(b.keys.publisher().keyId).toBe(rotated.keyId);
      expect(openPinnedRoot(readFileSync(b.rootFile)).publishers.map((p) => p.keyId)).toEqual([
        rotated.keyId,
      ]);
      expect(JSON.parse(readFileSync(join(root, 'b', 'keys.json'), 'utf8'))).toMatchObject({
        publisherLabel: 'hub-publisher-2',
      });
      // B's answers verify under the new root: a terminal behind the balancer sees one publisher.
      expect(b.publisher.keyId).toBe(a.publisher.keyId);
    } finally {
      a.close();
      b.close();
    }
    // Reopened later, B starts on the rotated key directly.
    const again = open('b');
    try {
      expect(again.keys.publisher().keyId).toBe(a.keys.publisher().keyId);
    } finally {
      again.close();
    }
  });

  it('refuses a hub folder set up apart from the one the store was shared with', async () => {
    const store = await cluster.createDatabase();
    openHubDir(join(root, 'first'), { keyStore: 'file', store }).close();
    expect(() => openHubDir(join(root, 'stranger'), { keyStore: 'file', store })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });
});
