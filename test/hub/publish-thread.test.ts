// A large CRL is staged and its batches gzipped on the publish worker thread (hub/publish-thread.ts),
// with the hub's thread keying part of the entries when the worker falls behind. What is published must
// not depend on it: the same entries into the same hub state with the same key and clock give the same
// batch frames, chain digests and state, byte for byte, whether the thread was used or not; a bad entry
// after the thread took over still fails the import before anything is published; a failure between
// chunks leaves whole chunks, as on the hub's thread. The worker is the build's (npm run build).
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Publisher, type RevocationEntry } from '../../hub/publisher.js';
import { PublishThread } from '../../hub/publish-thread.js';
import { SqliteHubStore } from '../../hub/sqlite-store.js';
import type { CrlState, HubStore, Publication } from '../../hub/store.js';
import {
  RevocationReasons,
  encodeRevocationValue,
  type RevocationReason,
} from '../../protocol/feed-format.js';
import { IndexKey } from '../../whitelist/privacy.js';
import { cleanup, tempDir } from '../sync/helpers.js';
import { seededRandom } from '../support/seeded-random.js';

const ISSUER = 'aa11bb22cc33dd44ee55ff6600112233aabbccdd';
const NOW = Date.parse('2026-12-05T00:00:00Z');
const indexKey = IndexKey.fromSecret('publish-thread test index key, long enough');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/**
 * A seeded CRL: serials from a range of 1.5n (repeats: the first entry counts), dates with fractions,
 * every reason and one the feed format does not name, serials of 40 bytes, with colons and leading zeros.
 */
function crl(seed: number, n: number): RevocationEntry[] {
  const rand = seededRandom(seed);
  return Array.from({ length: n }, (_, i) => {
    const s = Math.floor(rand() * 1.5 * n) + 0x100;
    const hex = s.toString(16);
    return {
      issuerKeyId: ISSUER,
      // Some serials of the longest kind (40 bytes), some with colons and a leading zero byte.
      serial:
        i % 13 === 0
          ? `7${hex.padStart(79, 'f')}`
          : i % 17 === 0
            ? `00:${hex.match(/../g)?.join(':') ?? hex}`
            : hex,
      at: 1_700_000_000 + Math.floor(rand() * 500) + (i % 7 === 0 ? 0.25 : 0),
      reason: (i === 5 ? 'notAReason' : RevocationReasons[i % RevocationReasons.length]!) as RevocationReason,
    };
  });
}

const state = (n: number): CrlState & { nextUpdate: number } => ({
  scope: ISSUER,
  issuerKeyId: ISSUER,
  partition: null,
  crlNumber: String(n),
  thisUpdate: NOW + n,
  nextUpdate: NOW + 86_400_000,
});

/** Everything published: each batch's range, chain digest and frame bytes, the state and the feed head. */
function published(store: HubStore) {
  return {
    batches: store
      .batchesAfter('revocations', 0, 1_000_000)
      .map((b) => ({ from: b.fromSeq, to: b.toSeq, digest: b.digest, frame: b.frameGz.toString('base64') })),
    state: [...store.stateDigests('revocations')].sort(),
    info: store.feedInfo('revocations'),
  };
}

describe('publish worker thread', () => {
  let root: string;
  let key: KeyObject;
  let seed: string;
  const stores: HubStore[] = [];

  beforeEach(() => {
    root = tempDir('publish-thread');
    key = generateKeyPairSync('ed25519').privateKey;
    // One fresh hub file copied for each run: the same feed epoch, so the batches can match byte for byte.
    seed = join(root, 'seed.db');
    new SqliteHubStore(seed).close();
  });
  afterEach(() => {
    vi.restoreAllMocks();
    for (const s of stores.splice(0)) s.close();
    cleanup(root);
  });

  function hub(name: string, threadAfter: number): { store: SqliteHubStore; publisher: Publisher } {
    copyFileSync(seed, join(root, `${name}.db`));
    const store = new SqliteHubStore(join(root, `${name}.db`));
    stores.push(store);
    const publisher = new Publisher(store, key, indexKey, join(root, `${name}-snapshots`), () => NOW);
    publisher.batchOps = 97;
    publisher.chunkBatches = 2;
    publisher.threadAfter = threadAfter;
    return { store, publisher };
  }

  it('publishes the same bytes whether the worker thread staged and gzipped the CRL or not', () => {
    const start = vi.spyOn(PublishThread, 'start');
    const post = vi.spyOn(PublishThread.prototype, 'post');
    const first = crl(1601, 6000);
    // The next CRL: a third of the serials kept, some with a new date, new ones, the rest gone.
    const second = [
      ...first.filter((_, i) => i % 3 === 0),
      ...first.filter((_, i) => i % 5 === 1).map((e) => ({ ...e, at: e.at + 1 })),
      ...crl(1602, 2000),
    ];

    const here = hub('here', Infinity);
    const a1 = here.publisher.publishRevocations(ISSUER, first, 'crl 1', state(1));
    const a2 = here.publisher.publishRevocations(ISSUER, second, 'crl 2', state(2));
    expect(start).not.toHaveBeenCalled();

    const threaded = hub('threaded', 100);
    const b1 = threaded.publisher.publishRevocations(ISSUER, first, 'crl 1', state(1));
    const b2 = threaded.publisher.publishRevocations(ISSUER, second, 'crl 2', state(2));
    expect(start).toHaveBeenCalledTimes(2);
    expect(start.mock.results.every((r) => r.value instanceof PublishThread)).toBe(true);
    // The worker accepted the index key (its probe matched) and staged rows, rather than handing back.
    expect(post.mock.calls.filter(([m]) => m.t === 'rows').length).toBeGreaterThan(0);

    expect(b1).toEqual(a1);
    expect(b2).toEqual(a2);
    expect(a1.batches).toBeGreaterThan(40);
    expect(a2.puts).toBeGreaterThan(0);
    expect(a2.dels).toBeGreaterThan(0);
    expect(a2.unchanged).toBeGreaterThan(0);
    expect(published(threaded.store)).toEqual(published(here.store));
    // …and what both hold is the second CRL: its first entry per serial (rows go in 64 per statement,
    // a changed row among them written again as an update).
    const want = new Map<string, string>();
    for (const e of second) {
      const k = indexKey.cardKey(ISSUER, e.serial).toString('hex');
      if (!want.has(k)) want.set(k, sha(encodeRevocationValue(e.at, e.reason)));
    }
    expect(here.store.stateDigests('revocations')).toEqual(want);
    expect(here.store.feedInfo('revocations').rows).toBe(want.size);
    expect(readdirSync(join(root, 'threaded-snapshots', 'staging'))).toEqual([]);
  });

  it('stages serials of every length across the buffers it sends the thread', () => {
    // 40-byte serials fill the thread's 256 KiB buffers to their last bytes several times over.
    const rand = seededRandom(1607);
    const entries: RevocationEntry[] = Array.from({ length: 24_000 }, (_, i) => ({
      issuerKeyId: ISSUER,
      serial: `${(i + 1).toString(16).padStart(6, '0')}${'ab'.repeat(Math.floor(rand() * 38))}`.replace(
        /^0+/,
        '7',
      ),
      at: 1_700_000_000 + i,
      reason: RevocationReasons[i % 3]!,
    }));
    const here = hub('long-here', Infinity);
    const threaded = hub('long-threaded', 100);
    here.publisher.publishRevocations(ISSUER, entries, 'long', state(1));
    threaded.publisher.publishRevocations(ISSUER, entries, 'long', state(1));
    expect(published(threaded.store)).toEqual(published(here.store));
    expect(here.store.feedInfo('revocations').rows).toBe(24_000);
  });

  it('fails the import at a bad serial read after the worker took over, publishing nothing', () => {
    const { store, publisher } = hub('bad', 100);
    publisher.publishRevocations(ISSUER, crl(1603, 300), 'crl 1', state(1));
    const before = published(store);
    const entries = crl(1604, 3000);
    entries[2500] = { ...entries[2500]!, serial: 'not-hex' };
    expect(() => publisher.publishRevocations(ISSUER, entries, 'crl 2', state(2))).toThrow(
      expect.objectContaining({ code: 'INVALID_REQUEST', message: 'certificate serial must be hex' }),
    );
    expect(published(store)).toEqual(before);
    expect(readdirSync(join(root, 'bad-snapshots', 'staging'))).toEqual([]);
  });

  it('leaves whole chunks when a commit fails while the thread gzips the next ones; running it again completes it', () => {
    const { store, publisher } = hub('fail', 100);
    publisher.publishRevocations(ISSUER, crl(1605, 3000), 'crl 1', state(1));
    const head = store.feedInfo('revocations').head;
    const next = crl(1606, 3000);

    let calls = 0;
    const failing = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'publish')
          return (p: Publication) => {
            if (++calls === 3) throw new Error('disk gone');
            target.publish(p);
          };
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const broken = new Publisher(failing, key, indexKey, join(root, 'fail-snapshots'), () => NOW);
    broken.batchOps = 97;
    broken.chunkBatches = 2;
    broken.threadAfter = 100;
    expect(() => broken.publishRevocations(ISSUER, next, 'crl 2', state(2))).toThrow('disk gone');
    // Two chunks of two batches each are published, whole; the CRL state is still the first.
    expect(store.feedInfo('revocations').head).toBe(head + 4 * 97);
    expect(store.crlState(ISSUER)).toMatchObject({ crlNumber: '1' });

    publisher.publishRevocations(ISSUER, next, 'crl 2', state(2));
    const want = hub('want', Infinity);
    want.publisher.publishRevocations(ISSUER, next, 'crl 2', state(2));
    expect(published(store).state).toEqual(published(want.store).state);
    expect(store.crlState(ISSUER)).toMatchObject({ crlNumber: '2' });
    expect(readdirSync(join(root, 'fail-snapshots', 'staging'))).toEqual([]);
  });
});
