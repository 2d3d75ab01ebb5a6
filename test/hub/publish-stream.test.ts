// Complete imports (a CRL's revocations, a whitelist) are published streamed: staged on disk, merged in
// key order against the current scope read a page at a time, and committed a chunk of signed batches at
// a time. On both stores, against an in-memory model of the diff (what the hub published before it
// streamed): the resulting state digests, the ops (one per changed key, in key order, batches
// contiguous), the summary counts, first entry of a duplicated serial wins, a duplicated card publishes
// nothing, ticket holder rows are left alone by card imports, and a publication that fails between chunks
// leaves a consistent state (whole chunks, the previous CRL state) that running the import again completes.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Publisher, canonicalJson, type RevocationEntry } from '../../hub/publisher.js';
import { importWhitelist } from '../../hub/import-whitelist.js';
import type { CrlState, HubStore, Publication } from '../../hub/store.js';
import { RevocationReasons, encodeRevocationValue, type FeedBatch } from '../../protocol/feed-format.js';
import { FRAME_HEADER_BYTES, type FeedName } from '../../protocol/sync.js';
import { TICKET_ISSUER_KEY_ID } from '../../protocol/ticket.js';
import type { CardRowInput } from '../../whitelist/feed-ops.js';
import { IndexKey, openCardRecord } from '../../whitelist/privacy.js';
import { cleanup, ndjsonLine, tempDir } from '../sync/helpers.js';
import { seededRandom } from '../support/seeded-random.js';
import { hubStoreKinds, useHubStores } from './stores.js';

const stores = useHubStores();
const ISSUER = 'aa11bb22cc33dd44ee55ff6600112233aabbccdd';
const T0 = Date.parse('2026-12-04T00:00:00Z');
const indexKey = IndexKey.fromSecret('publish-stream test index key, long enough');
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

function revocation(serialNo: number, at: number, reasonNo: number): RevocationEntry {
  return {
    issuerKeyId: ISSUER,
    serial: (0x5000 + serialNo).toString(16),
    at,
    reason: RevocationReasons[reasonNo % 3]!,
  };
}

/** A seeded CRL: `n` serials out of a range of 2n, with repeated serials (the first entry counts). */
function randomCrl(rand: () => number, n: number, atBase: number): RevocationEntry[] {
  const out: RevocationEntry[] = [];
  for (let i = 0; i < n; i++) {
    const s = Math.floor(rand() * 2 * n);
    out.push(revocation(s, atBase + Math.floor(rand() * 3), Math.floor(rand() * 3)));
  }
  return out;
}

function card(i: number, tag: string): CardRowInput {
  return {
    issuerKeyId: ISSUER,
    serial: (0x7000 + i).toString(16),
    spkiSha256: sha(`spki ${i}`),
    record: { subject: `S${i}`, entitlements: [{ kind: 'member', memberId: `m${i}-${tag}` }] },
  };
}

/** The diff the hub published before it streamed: expected state digests, put keys, del keys, unchanged. */
function model(
  before: Map<string, string>,
  incoming: Array<{ k: string; h: string }>,
): { after: Map<string, string>; puts: string[]; dels: string[]; unchanged: number } {
  const seen = new Map<string, string>();
  for (const r of incoming) if (!seen.has(r.k)) seen.set(r.k, r.h);
  const puts: string[] = [];
  let unchanged = 0;
  for (const [k, h] of seen)
    if (before.get(k) === h) unchanged++;
    else puts.push(k);
  const dels = [...before.keys()].filter((k) => !seen.has(k));
  return { after: seen, puts: puts.sort(), dels: dels.sort(), unchanged };
}

const revocationRows = (entries: RevocationEntry[]) =>
  entries.map((e) => ({
    k: indexKey.cardKey(ISSUER, e.serial).toString('hex'),
    h: sha(encodeRevocationValue(e.at, e.reason)),
  }));

const cardRows = (rows: CardRowInput[]) =>
  rows.map((r) => ({
    k: indexKey.cardKey(r.issuerKeyId, r.serial).toString('hex'),
    h: sha(canonicalJson(r)),
  }));

/** The batches published after `head`, opened (the signature is the publisher's; checked elsewhere). */
function batchesAfter(store: HubStore, feed: FeedName, head: number): FeedBatch[] {
  return store.batchesAfter(feed, head, 1_000_000).map((b) => {
    const signed = gunzipSync(b.frameGz).subarray(FRAME_HEADER_BYTES);
    return JSON.parse(signed.subarray(signed.indexOf(0x0a) + 1).toString('utf8')) as FeedBatch;
  });
}

const opsOf = (batches: FeedBatch[]) =>
  batches.flatMap((b) => b.ops as unknown as Array<{ op: string; k: string; v?: string }>);

function crlState(n: number): CrlState & { nextUpdate: number } {
  return {
    scope: ISSUER,
    issuerKeyId: ISSUER,
    partition: null,
    crlNumber: String(n),
    thisUpdate: T0 + n * 3600_000,
    nextUpdate: T0 + (n + 24) * 3600_000,
  };
}

describe.each(hubStoreKinds)('streamed publication (%s)', (kind) => {
  let root: string;
  let store: HubStore;
  let publisher: Publisher;

  const open = (s: HubStore) => {
    const p = new Publisher(s, generateKeyPairSync('ed25519').privateKey, indexKey, join(root, 'snapshots'));
    // Small batches and chunks: several store transactions with few rows.
    p.batchOps = 4;
    p.chunkBatches = 2;
    return p;
  };

  beforeEach(async () => {
    root = tempDir(`publish-stream-${kind}`);
    ({ store } = await stores.create(kind, root));
    publisher = open(store);
  });
  afterEach(() => {
    store.close();
    cleanup(root);
  });

  /** Checks a publication's batches against the model: one op per changed key, in key order, contiguous. */
  function expectOps(feed: FeedName, head: number, m: ReturnType<typeof model>) {
    const batches = batchesAfter(store, feed, head);
    let seq = head;
    for (const b of batches) {
      expect(b.fromSeq).toBe(seq);
      expect(b.ops.length).toBeLessThanOrEqual(4);
      seq = b.toSeq;
    }
    const ops = opsOf(batches);
    const keys = ops.map((o) => o.k);
    expect(keys).toEqual([...keys].sort());
    expect(ops.filter((o) => o.op === 'put').map((o) => o.k)).toEqual(m.puts);
    expect(ops.filter((o) => o.op === 'del').map((o) => o.k)).toEqual(m.dels);
    return batches;
  }

  it('publishes a complete CRL as the in-memory diff did, over several chunks, CRL status on the last batch', () => {
    const rand = seededRandom(1501);
    const first = randomCrl(rand, 40, 1_700_000_000);
    const m1 = model(new Map(), revocationRows(first));
    const s1 = publisher.publishRevocations(ISSUER, first, 'crl 1', crlState(1));
    expect(s1).toMatchObject({ puts: m1.puts.length, dels: 0, unchanged: 0 });
    expect(store.stateDigests('revocations')).toEqual(m1.after);
    const b1 = expectOps('revocations', 0, m1);
    expect(b1.length).toBeGreaterThan(4); // several chunks of two batches
    expect(b1.slice(0, -1).every((b) => b.issuers === undefined)).toBe(true);
    expect(b1.at(-1)!.issuers).toEqual([expect.objectContaining({ issuerKeyId: ISSUER, crlNumber: '1' })]);

    // The next CRL: some serials kept as they were, some changed, some gone, some new, some repeated.
    const kept = first.filter(() => rand() < 0.5);
    const changed = first.filter(() => rand() < 0.3).map((e) => ({ ...e, at: e.at + 100 }));
    const second = [...changed, ...kept, ...randomCrl(rand, 20, 1_700_100_000), ...kept.slice(0, 5)];
    const m2 = model(m1.after, revocationRows(second));
    expect(m2.unchanged).toBeGreaterThan(0);
    expect(m2.dels.length).toBeGreaterThan(0);
    const head = store.feedInfo('revocations').head;
    const s2 = publisher.publishRevocations(ISSUER, second, 'crl 2', crlState(2));
    expect(s2).toMatchObject({ puts: m2.puts.length, dels: m2.dels.length, unchanged: m2.unchanged });
    expect(s2.head).toBe(head + m2.puts.length + m2.dels.length);
    expect(store.stateDigests('revocations')).toEqual(m2.after);
    expect(store.feedInfo('revocations').rows).toBe(m2.after.size);
    expectOps('revocations', head, m2);
    expect(store.crlState(ISSUER)).toMatchObject({ crlNumber: '2' });

    // The same CRL again under a new number: nothing changes but the status (one status-only op).
    const s3 = publisher.publishRevocations(ISSUER, second, 'crl 3', crlState(3));
    expect(s3).toMatchObject({ puts: 0, dels: 0, unchanged: m2.after.size, batches: 1 });
    expect(batchesAfter(store, 'revocations', s2.head)[0]!.ops).toEqual([{ op: 'crl-status' }]);
    expect(readdirSync(join(root, 'snapshots', 'staging'))).toEqual([]);
  });

  it('publishes a whitelist import as the in-memory diff did and leaves ticket holder rows alone', () => {
    const rand = seededRandom(1502);
    const holder = { ticketNumber: 'TK-1001', record: { subject: 'H1', entitlements: [] } };
    publisher.publishTicketHolders([holder], 'holders');
    const holders = store.stateDigests('whitelist', TICKET_ISSUER_KEY_ID);
    expect(holders.size).toBe(1);

    const first = Array.from({ length: 30 }, (_, i) => card(i, 'a'));
    const m1 = model(new Map(), cardRows(first));
    publisher.publishWhitelist(first, 'wl 1');
    const next = first
      .filter(() => rand() < 0.7)
      .map((r, i) => (i % 3 === 0 ? card(Number.parseInt(r.serial, 16) - 0x7000, 'b') : r));
    for (let i = 30; i < 40; i++) next.push(card(i, 'a'));
    const m2 = model(m1.after, cardRows(next));
    const head = store.feedInfo('whitelist').head;
    const s2 = publisher.publishWhitelist(next, 'wl 2');
    expect(s2).toMatchObject({ puts: m2.puts.length, dels: m2.dels.length, unchanged: m2.unchanged });
    expect(store.stateDigests('whitelist', ISSUER)).toEqual(m2.after);
    expect(store.stateDigests('whitelist', TICKET_ISSUER_KEY_ID)).toEqual(holders);
    const batches = expectOps('whitelist', head, m2);
    // Each put carries the row sealed for its card: it opens with the card's SPKI hash to its record.
    const byKey = new Map(next.map((r) => [indexKey.cardKey(r.issuerKeyId, r.serial).toString('hex'), r]));
    for (const op of opsOf(batches)) {
      if (op.op !== 'put') continue;
      const r = byKey.get(op.k)!;
      expect(
        openCardRecord(Buffer.from(op.v!, 'base64'), Buffer.from(op.k, 'hex'), r.spkiSha256),
      ).toMatchObject(r.record);
    }
  });

  it('publishes nothing when a card appears twice in a whitelist import', () => {
    publisher.publishWhitelist([card(1, 'a'), card(2, 'a')], 'wl 1');
    const before = store.feedInfo('whitelist');
    const digests = store.stateDigests('whitelist');
    const rows = [card(3, 'a'), ...Array.from({ length: 40 }, (_, i) => card(10 + i, 'a')), card(3, 'b')];
    expect(() => publisher.publishWhitelist(rows, 'wl 2')).toThrow(
      expect.objectContaining({
        code: 'IMPORT_INVALID',
        message: expect.stringContaining('7003 appears twice'),
      }),
    );
    expect(store.feedInfo('whitelist')).toEqual(before);
    expect(store.stateDigests('whitelist')).toEqual(digests);
    expect(readdirSync(join(root, 'snapshots', 'staging'))).toEqual([]);
  });

  it('imports a whitelist file as it reads it; a bad row on the last line publishes nothing', async () => {
    const rows = Array.from({ length: 25 }, (_, i) => card(i, 'a'));
    const good = join(root, 'wl.ndjson');
    writeFileSync(good, rows.map(ndjsonLine).join('\n') + '\n');
    const r = await importWhitelist(publisher, good);
    expect(r).toMatchObject({ rows: 25, puts: 25, dels: 0 });
    expect(store.stateDigests('whitelist')).toEqual(model(new Map(), cardRows(rows)).after);

    const before = store.feedInfo('whitelist');
    const bad = join(root, 'bad.ndjson');
    writeFileSync(
      bad,
      [
        ...rows.slice(5).map((x) => ndjsonLine(card(Number.parseInt(x.serial, 16) - 0x7000, 'b'))),
        '{"serial":"zz"}',
      ].join('\n'),
    );
    await expect(importWhitelist(publisher, bad)).rejects.toMatchObject({
      code: 'IMPORT_INVALID',
      message: expect.stringContaining('bad.ndjson:21'),
    });
    expect(store.feedInfo('whitelist')).toEqual(before);
    expect(readdirSync(join(root, 'snapshots', 'staging'))).toEqual([]);
  });

  it('applies a delta CRL by looking up only the rows it names', () => {
    const base = Array.from({ length: 12 }, (_, i) => revocation(i, 1_700_000_000, i));
    publisher.publishRevocations(ISSUER, base, 'crl 1', crlState(1));
    // Another issuer's row with a serial the delta removes: not in the scope, not touched.
    publisher.publishRevocations(
      '0f'.repeat(20),
      [{ ...revocation(3, 1_700_000_000, 0), issuerKeyId: '0f'.repeat(20) }],
      'other',
    );
    const before = store.stateDigests('revocations');
    const additions = [
      revocation(1, 1_700_000_000, 1),
      revocation(2, 1_700_000_500, 2),
      revocation(40, 1_700_000_000, 0),
    ];
    const removals = [revocation(3, 0, 0).serial, revocation(41, 0, 0).serial, revocation(40, 0, 0).serial];
    const s = publisher.applyRevocationDelta(ISSUER, additions, removals, 'delta 2', crlState(2));
    // 1 unchanged, 2 changed, 40 new (and its removal ignored: listed as added), 3 removed, 41 not held.
    expect(s).toMatchObject({ puts: 2, dels: 1, unchanged: 1 });
    const want = new Map(before);
    for (const r of revocationRows([additions[1]!, additions[2]!])) want.set(r.k, r.h);
    want.delete(indexKey.cardKey(ISSUER, revocation(3, 0, 0).serial).toString('hex'));
    expect(store.stateDigests('revocations')).toEqual(want);
    expect(store.crlState(ISSUER)).toMatchObject({ crlNumber: '2' });
  });

  it('leaves whole chunks and the previous CRL state when it fails between chunks; running it again completes it', () => {
    const rand = seededRandom(1503);
    const first = randomCrl(rand, 30, 1_700_000_000);
    publisher.publishRevocations(ISSUER, first, 'crl 1', crlState(1));
    const before = store.stateDigests('revocations');
    const head = store.feedInfo('revocations').head;
    const second = [
      ...first.slice(10).map((e) => ({ ...e, at: e.at + 7 })),
      ...randomCrl(rand, 30, 1_700_200_000),
    ];
    const m = model(before, revocationRows(second));

    // A store that fails the second chunk's transaction (as a crash between chunks would leave it).
    let calls = 0;
    let committed: Publication | null = null;
    const failing = new Proxy(store, {
      get(target, prop, receiver) {
        if (prop === 'publish')
          return (p: Publication) => {
            if (++calls === 2) throw new Error('disk gone');
            target.publish(p);
            committed = p;
          };
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    expect(() => open(failing).publishRevocations(ISSUER, second, 'crl 2', crlState(2))).toThrow('disk gone');
    expect(calls).toBe(2);
    // The first chunk is published whole: its batches follow the head, its rows are the model's for its keys.
    const chunk = committed as unknown as Publication;
    const ops = opsOf(batchesAfter(store, 'revocations', head));
    expect(ops.length).toBe(8);
    expect(store.feedInfo('revocations').head).toBe(head + 8);
    expect(chunk.crl).toBeUndefined();
    const partial = new Map(before);
    for (const o of ops) {
      if (o.op === 'del') partial.delete(o.k);
      else partial.set(o.k, m.after.get(o.k)!);
    }
    expect(store.stateDigests('revocations')).toEqual(partial);
    expect(store.crlState(ISSUER)).toMatchObject({ crlNumber: '1' });
    expect(store.crlStatuses()).toEqual([expect.objectContaining({ crlNumber: '1' })]);

    // Running the import again publishes the rest; the state is the model's, the CRL state the new one.
    const again = publisher.publishRevocations(ISSUER, second, 'crl 2', crlState(2));
    expect(again.puts + again.dels).toBe(m.puts.length + m.dels.length - 8);
    expect(store.stateDigests('revocations')).toEqual(m.after);
    expect(store.feedInfo('revocations').rows).toBe(m.after.size);
    expect(store.crlState(ISSUER)).toMatchObject({ crlNumber: '2' });
    const all = batchesAfter(store, 'revocations', head);
    expect(all.at(-1)!.issuers).toEqual([expect.objectContaining({ crlNumber: '2' })]);
  });
});
