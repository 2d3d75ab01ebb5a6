// The HubStore contract, run on every store (SQLite and PostgreSQL): registration, sightings, feeds and
// their chain digests, publications applied whole or not at all, consistent state reads, epochs,
// re-signing, journals (idempotent, hash-chained, gap-free watermark, one failed push not costing the
// others), presence, CRL state, request nonces, enrolment codes, seat transfer codes spent by the
// publication that moves the seat, terminal states and keys, remote configuration layers, and that
// everything committed is there after reopening.
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PushRecord } from '../../protocol/sync.js';
import type { PeerEntryOp } from '../../protocol/feed-format.js';
import { ZERO_DIGEST, chainDigestFromHash } from '../../protocol/checkpoint.js';
import type { HubStore, StateRow, StoredBatch } from '../../hub/store.js';
import { cleanup, tempDir } from '../sync/helpers.js';
import { seededRandom } from '../support/seeded-random.js';
import { chainedJournal, hubStoreKinds, useHubStores } from './stores.js';

const T0 = Date.parse('2026-11-21T10:00:00Z');
const stores = useHubStores();

function row(i: number, tag = 'a', scope = 'issuer-1'): StateRow {
  const k = createHash('sha256').update(`k${i}`).digest().subarray(0, 16);
  return { k, h: createHash('sha256').update(`h${i}${tag}`).digest(), v: Buffer.from(`v${i}${tag}`), scope };
}

function batch(fromSeq: number, ops: number) {
  const frameGz = Buffer.from(`frame ${fromSeq}+${ops}`);
  return {
    fromSeq,
    toSeq: fromSeq + ops,
    opCount: ops,
    frameGz,
    publishedAt: T0,
    sha256: createHash('sha256').update(frameGz).digest(),
  };
}

const journal = (terminalId: string, n: number): PushRecord[] => chainedJournal(terminalId, n, T0);

const noPresence = () => null;
const makeBatch = (fromSeq: number, ops: PeerEntryOp[]): StoredBatch => {
  const frameGz = Buffer.from(JSON.stringify(ops));
  return {
    fromSeq,
    toSeq: fromSeq + ops.length,
    frameGz,
    sha256: createHash('sha256').update(frameGz).digest(),
  };
};

describe.each(hubStoreKinds)('HubStore contract (%s)', (kind) => {
  let root: string;
  let store: HubStore;
  let where: string;

  const register = (id: string, site = 'site-1', key = `pem-${id}`) =>
    store.registerTerminal(
      {
        terminalId: id,
        publicKeyPem: key,
        siteId: site,
        gateId: 'g1',
        zone: 'main',
        siteKind: 'stadium-gate',
      },
      T0,
    );

  beforeEach(async () => {
    root = tempDir(`store-${kind}`);
    ({ store, where } = await stores.create(kind, root));
  });
  afterEach(() => {
    store.close();
    cleanup(root);
  });

  it('registers terminals, lists them by site then id and keeps sightings', () => {
    register('t-b', 'site-2');
    register('t-a', 'site-2');
    register('t-c', 'site-1');
    expect(store.terminals().map((t) => t.terminalId)).toEqual(['t-c', 't-a', 't-b']);
    expect(store.terminal('t-a')).toMatchObject({
      publicKeyPem: 'pem-t-a',
      registeredAt: T0,
      acked: 0,
      state: 'active',
      stateReason: null,
      stateAt: null,
    });
    expect(store.terminal('nobody')).toBeNull();
    const status = { queueLength: 3, alarm: null } as never;
    store.noteSeenMany([
      { terminalId: 't-a', at: T0 + 1, status },
      { terminalId: 't-b', at: T0 + 2, status: null },
    ]);
    store.noteSeen('t-a', T0 + 5, null); // no status: the last reported one is kept
    expect(store.terminal('t-a')).toMatchObject({ lastSeenAt: T0 + 5, status });
    expect(store.terminal('t-b')).toMatchObject({ lastSeenAt: T0 + 2, status: null });
  });

  it('refuses to register an existing id or a key registered elsewhere; a key changes only by rotation', () => {
    register('t-a');
    register('t-b');
    register('t-a'); // the same registration again: nothing changes
    expect(() => register('t-a', 'site-1', 'pem-new')).toThrow(
      expect.objectContaining({ code: 'HUB_TERMINAL_EXISTS' }),
    );
    expect(() => register('t-a', 'site-2')).toThrow(expect.objectContaining({ code: 'HUB_TERMINAL_EXISTS' }));
    expect(() => register('t-c', 'site-1', 'pem-t-a')).toThrow(
      expect.objectContaining({ code: 'ENROL_KEY_REGISTERED' }),
    );
    expect(store.terminals().map((t) => t.terminalId)).toEqual(['t-a', 't-b']);
    expect(store.terminal('t-a')).toMatchObject({ publicKeyPem: 'pem-t-a', siteId: 'site-1' });

    expect(() => store.replaceTerminalKey('t-a', 'pem-t-b', T0 + 1)).toThrow(
      expect.objectContaining({ code: 'ENROL_KEY_REGISTERED' }),
    );
    expect(() => store.replaceTerminalKey('nobody', 'pem-x', T0 + 1)).toThrow(
      expect.objectContaining({ code: 'HUB_UNKNOWN_TERMINAL' }),
    );
    expect(store.replaceTerminalKey('t-a', 'pem-rotated', T0 + 2)).toMatchObject({
      terminalId: 't-a',
      publicKeyPem: 'pem-rotated',
      registeredAt: T0,
    });
    // The old key is free again, the new one taken.
    register('t-c', 'site-1', 'pem-t-a');
    expect(() => register('t-d', 'site-1', 'pem-rotated')).toThrow(
      expect.objectContaining({ code: 'ENROL_KEY_REGISTERED' }),
    );
    expect(store.terminal('t-a')?.publicKeyPem).toBe('pem-rotated');
  });

  it('sets terminal states with their reason; retired is final', () => {
    register('t1');
    expect(store.setTerminalState('t1', 'disabled', 'reported stolen', T0 + 1)).toMatchObject({
      state: 'disabled',
      stateReason: 'reported stolen',
      stateAt: T0 + 1,
    });
    expect(store.terminal('t1')).toMatchObject({ state: 'disabled', stateReason: 'reported stolen' });
    expect(store.setTerminalState('t1', 'active', null, T0 + 2)).toMatchObject({
      state: 'active',
      stateReason: null,
      stateAt: T0 + 2,
    });
    expect(() => store.setTerminalState('nobody', 'disabled', null, T0)).toThrow(
      expect.objectContaining({ code: 'HUB_UNKNOWN_TERMINAL' }),
    );
    store.setTerminalState('t1', 'retiring', 'venue closed', T0 + 3);
    expect(store.setTerminalState('t1', 'retired', 'venue closed', T0 + 4).state).toBe('retired');
    expect(() => store.setTerminalState('t1', 'active', null, T0 + 5)).toThrow(
      expect.objectContaining({ code: 'TERMINAL_RETIRED' }),
    );
    expect(() => store.replaceTerminalKey('t1', 'pem-other', T0 + 5)).toThrow(
      expect.objectContaining({ code: 'TERMINAL_RETIRED' }),
    );
    expect(store.terminal('t1')).toMatchObject({ state: 'retired', stateAt: T0 + 4, publicKeyPem: 'pem-t1' });
  });

  describe('enrolment codes', () => {
    const code = (sha: string, expiresAt = T0 + 600_000, gateId = 'north') =>
      store.createEnrolmentCode({
        codeSha256: sha,
        siteId: 'stadium-1',
        gateId,
        zone: 'upper',
        siteKind: 'stadium-gate',
        createdAt: T0,
        expiresAt,
      });
    const spent = (sha: string) => store.enrolmentCodes().find((c) => c.codeSha256 === sha);

    it('enrols once with the code’s binding and spends the code in the same transaction', () => {
      code('c1');
      expect(spent('c1')).toMatchObject({ usedAt: null, usedBy: null, expiresAt: T0 + 600_000 });
      const t = store.enrolTerminal('c1', { terminalId: 'term-a', publicKeyPem: 'pem-a' }, T0 + 10);
      expect(t).toMatchObject({
        terminalId: 'term-a',
        publicKeyPem: 'pem-a',
        siteId: 'stadium-1',
        gateId: 'north',
        zone: 'upper',
        siteKind: 'stadium-gate',
        registeredAt: T0 + 10,
        state: 'active',
      });
      expect(store.terminal('term-a')).toEqual(t);
      expect(spent('c1')).toMatchObject({ usedAt: T0 + 10, usedBy: 'term-a' });
      // Used: refused, whatever the key and id.
      expect(() =>
        store.enrolTerminal('c1', { terminalId: 'term-b', publicKeyPem: 'pem-b' }, T0 + 11),
      ).toThrow(expect.objectContaining({ code: 'ENROL_CODE_USED' }));
      expect(store.terminal('term-b')).toBeNull();
      expect(spent('c1')).toMatchObject({ usedAt: T0 + 10, usedBy: 'term-a' });
    });

    it('refuses an unknown, expired or clashing enrolment and leaves the code unspent', () => {
      code('c-exp', T0 + 60_000);
      code('c-ok', T0 + 600_000, 'south');
      register('old', 'site-1', 'pem-old');
      expect(() => store.enrolTerminal('nope', { terminalId: 'x', publicKeyPem: 'pem-x' }, T0)).toThrow(
        expect.objectContaining({ code: 'ENROL_CODE_UNKNOWN' }),
      );
      expect(() =>
        store.enrolTerminal('c-exp', { terminalId: 'x', publicKeyPem: 'pem-x' }, T0 + 60_001),
      ).toThrow(expect.objectContaining({ code: 'ENROL_CODE_EXPIRED' }));
      // A key registered elsewhere, an id already taken: refused.
      expect(() =>
        store.enrolTerminal('c-ok', { terminalId: 'new', publicKeyPem: 'pem-old' }, T0 + 1),
      ).toThrow(expect.objectContaining({ code: 'ENROL_KEY_REGISTERED' }));
      expect(() =>
        store.enrolTerminal('c-ok', { terminalId: 'old', publicKeyPem: 'pem-fresh' }, T0 + 1),
      ).toThrow(expect.objectContaining({ code: 'HUB_TERMINAL_EXISTS' }));
      // None of it spent a code or registered anything.
      expect(store.enrolmentCodes().map((c) => [c.codeSha256, c.usedAt, c.usedBy])).toEqual([
        ['c-exp', null, null],
        ['c-ok', null, null],
      ]);
      expect(store.terminals().map((t) => t.terminalId)).toEqual(['old']);
      expect(store.terminal('old')).toMatchObject({ publicKeyPem: 'pem-old', siteId: 'site-1' });
      // At its last moment the expiring code still enrols; the good one enrols afterwards.
      expect(
        store.enrolTerminal('c-exp', { terminalId: 'x', publicKeyPem: 'pem-x' }, T0 + 60_000).gateId,
      ).toBe('north');
      expect(store.enrolTerminal('c-ok', { terminalId: 'new', publicKeyPem: 'pem-new' }, T0 + 2).gateId).toBe(
        'south',
      );
      expect(store.enrolmentCodes().map((c) => c.usedBy)).toEqual(['x', 'new']);
    });
  });

  describe('shared roots', () => {
    it('keeps each root version once, in order; the same bytes again are a no-op, other bytes refused', () => {
      const v = (n: number, tag = 'a') => ({
        version: n,
        bytes: Buffer.from(`root ${n} ${tag}\n\u0000\u00ff`, 'latin1'),
        publisherLabel: n === 2 ? 'hub-publisher-2' : '',
      });
      store.putRoot(v(2), T0);
      store.putRoot(v(1), T0);
      store.putRoot(v(1), T0 + 1);
      expect(store.rootsAfter(0)).toEqual([v(1), v(2)]);
      expect(store.rootsAfter(1)).toEqual([v(2)]);
      expect(store.rootsAfter(2)).toEqual([]);
      expect(() => store.putRoot(v(2, 'other'), T0)).toThrow(
        expect.objectContaining({ code: 'CONFIG_INVALID' }),
      );
      expect(store.rootsAfter(1)).toEqual([v(2)]);
    });
  });

  describe('seat transfer codes', () => {
    const code = (sha: string, expiresAt = T0 + 600_000, seat = 'A-12') =>
      store.createTransferCode({
        codeSha256: sha,
        purchaserK: 'ab'.repeat(16),
        purchaserScope: 'issuer-1',
        eventId: 'match-7',
        seat,
        sealedSpki: Buffer.from([0, 1, 2, 0xfe, 0xff, 7]),
        createdAt: T0,
        expiresAt,
      });
    /** A publication moving one row and spending the code; its batch follows the current head. */
    const move = (sha: string, at: number, usedBy = 'term-desk') => {
      const head = store.feedInfo('whitelist').head;
      store.publish({
        feed: 'whitelist',
        puts: [row(100 + head, sha)],
        dels: [],
        batches: [batch(head, 1)],
        note: `seat transfer ${sha}`,
        spendTransferCode: { codeSha256: sha, at, usedBy },
      });
    };

    it('stores a code as given and reads it back by digest', () => {
      code('t1', T0 + 60_000, 'B-3');
      expect(store.transferCode('t1')).toEqual({
        codeSha256: 't1',
        purchaserK: 'ab'.repeat(16),
        purchaserScope: 'issuer-1',
        eventId: 'match-7',
        seat: 'B-3',
        sealedSpki: Buffer.from([0, 1, 2, 0xfe, 0xff, 7]),
        createdAt: T0,
        expiresAt: T0 + 60_000,
        usedAt: null,
        usedBy: null,
      });
      expect(store.transferCode('t2')).toBeNull();
      // The digest is the key: a second code under the same digest is refused.
      expect(() => code('t1')).toThrow();
    });

    it('spends the code with the publication that moves the seat, once; a second spend publishes nothing', () => {
      code('t1');
      move('t1', T0 + 10, 'desk-1');
      expect(store.transferCode('t1')).toMatchObject({ usedAt: T0 + 10, usedBy: 'desk-1' });
      const after = store.feedInfo('whitelist');
      expect(after).toMatchObject({ head: 1, rows: 1 });
      expect(store.stateDigests('whitelist').has(row(100, 't1').k.toString('hex'))).toBe(true);

      expect(() => move('t1', T0 + 11, 'desk-2')).toThrow(
        expect.objectContaining({ code: 'TRANSFER_CODE_USED' }),
      );
      expect(store.feedInfo('whitelist')).toEqual(after);
      expect(store.batchesAfter('whitelist', 1, 10)).toEqual([]);
      expect(store.stateDigests('whitelist').has(row(101, 't1').k.toString('hex'))).toBe(false);
      expect(store.transferCode('t1')).toMatchObject({ usedAt: T0 + 10, usedBy: 'desk-1' });
    });

    it('refuses an unknown or expired code and publishes nothing; at its last moment a code still spends', () => {
      code('t-exp', T0 + 60_000);
      expect(() => move('nope', T0)).toThrow(expect.objectContaining({ code: 'TRANSFER_CODE_UNKNOWN' }));
      expect(() => move('t-exp', T0 + 60_001)).toThrow(
        expect.objectContaining({ code: 'TRANSFER_CODE_EXPIRED' }),
      );
      expect(store.feedInfo('whitelist')).toMatchObject({ head: 0, rows: 0, digest: ZERO_DIGEST });
      expect(store.batchesAfter('whitelist', 0, 10)).toEqual([]);
      expect(store.stateDigests('whitelist').size).toBe(0);
      expect(store.transferCode('nope')).toBeNull();
      expect(store.transferCode('t-exp')).toMatchObject({ usedAt: null, usedBy: null });

      move('t-exp', T0 + 60_000);
      expect(store.transferCode('t-exp')).toMatchObject({ usedAt: T0 + 60_000, usedBy: 'term-desk' });
      expect(store.feedInfo('whitelist')).toMatchObject({ head: 1, rows: 1 });
    });
  });

  it('keeps one remote configuration layer per scope and gives a terminal site ← gate ← terminal', () => {
    register('t1', 'site-1');
    register('t2', 'site-1');
    register('t3', 'site-2');
    const v1 = store.setRemoteConfig('gate:site-1/g1', { gate: { direction: 'in' } }, T0);
    const v2 = store.setRemoteConfig('site:site-1', { ui: { language: 'en' } }, T0 + 1);
    const v3 = store.setRemoteConfig('terminal:t1', { gate: { direction: 'out' } }, T0 + 2);
    expect(v2).toBeGreaterThan(v1);
    expect(v3).toBeGreaterThan(v2);
    expect(store.remoteConfigsFor(store.terminal('t1')!)).toEqual([
      { scope: 'site:site-1', version: v2, layer: { ui: { language: 'en' } } },
      { scope: 'gate:site-1/g1', version: v1, layer: { gate: { direction: 'in' } } },
      { scope: 'terminal:t1', version: v3, layer: { gate: { direction: 'out' } } },
    ]);
    expect(store.remoteConfigsFor(store.terminal('t2')!).map((l) => l.scope)).toEqual([
      'site:site-1',
      'gate:site-1/g1',
    ]);
    // Another site's gate of the same name is another scope.
    expect(store.remoteConfigsFor(store.terminal('t3')!)).toEqual([]);
    // A new layer replaces its scope's, with a version above every earlier one.
    const v4 = store.setRemoteConfig('gate:site-1/g1', { gate: { direction: 'both' } }, T0 + 3);
    expect(v4).toBeGreaterThan(v3);
    expect(store.remoteConfigsFor(store.terminal('t2')!)).toEqual([
      { scope: 'site:site-1', version: v2, layer: { ui: { language: 'en' } } },
      { scope: 'gate:site-1/g1', version: v4, layer: { gate: { direction: 'both' } } },
    ]);
  });

  it('publishes state and batches as one chain; a batch that does not follow the head changes nothing', () => {
    const before = store.feedInfo('whitelist');
    expect(before).toMatchObject({ head: 0, rows: 0, oldestFrom: 0, digest: ZERO_DIGEST, lineage: [] });
    const b1 = batch(0, 3);
    store.publish({
      feed: 'whitelist',
      puts: [row(1), row(2), row(3)],
      dels: [],
      batches: [b1],
      note: 'one',
    });
    const b2 = batch(3, 2);
    store.publish({
      feed: 'whitelist',
      puts: [row(4), row(1, 'b')],
      dels: [row(2).k],
      batches: [b2],
      note: 'two',
    });
    const d1 = chainDigestFromHash(ZERO_DIGEST, b1.sha256);
    const d2 = chainDigestFromHash(d1, b2.sha256);
    expect(store.feedInfo('whitelist')).toMatchObject({
      epoch: before.epoch,
      head: 5,
      rows: 3,
      oldestFrom: 0,
      digest: d2,
    });
    expect(store.batchesAfter('whitelist', 0, 10)).toEqual([
      { fromSeq: 0, toSeq: 3, frameGz: b1.frameGz, digest: d1 },
      { fromSeq: 3, toSeq: 5, frameGz: b2.frameGz, digest: d2 },
    ]);
    expect(store.batchesAfter('whitelist', 3, 10).map((b) => b.toSeq)).toEqual([5]);
    expect(store.batchesAfter('whitelist', 0, 1)).toHaveLength(1);
    expect(store.opsAfter('whitelist', 0)).toBe(5);
    expect(store.opsAfter('whitelist', 5)).toBe(0);
    expect(store.digestAt('whitelist', 3)).toBe(d1);
    expect(store.digestAt('whitelist', 5)).toBe(d2);
    expect(store.digestAt('whitelist', 0)).toBe(ZERO_DIGEST);
    expect(store.digestAt('whitelist', 4)).toBeNull();
    const digests = store.stateDigests('whitelist');
    expect([...digests.keys()].sort()).toEqual(
      [row(1).k, row(3).k, row(4).k].map((k) => k.toString('hex')).sort(),
    );
    expect(digests.get(row(1).k.toString('hex'))).toBe(row(1, 'b').h.toString('hex'));

    expect(() =>
      store.publish({ feed: 'whitelist', puts: [row(9)], dels: [], batches: [batch(4, 1)], note: 'stale' }),
    ).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
    expect(store.feedInfo('whitelist')).toMatchObject({ head: 5, rows: 3, digest: d2 });
    expect(store.stateDigests('whitelist').has(row(9).k.toString('hex'))).toBe(false);
  });

  it('keeps revocation rows per scope and the CRL state with them', () => {
    store.publish({
      feed: 'revocations',
      puts: [row(1, 'a', 'A'), row(2, 'a', 'A'), row(3, 'a', 'B')],
      dels: [],
      batches: [batch(0, 3)],
      note: 'crl',
      crl: {
        scope: 'A',
        issuerKeyId: 'A',
        partition: null,
        crlNumber: '7',
        thisUpdate: T0,
        nextUpdate: T0 + 86_400_000,
      },
    });
    store.publish({
      feed: 'revocations',
      puts: [],
      dels: [],
      batches: [],
      note: 'crl without changes',
      crl: {
        scope: 'B#p1',
        issuerKeyId: 'B',
        partition: 'p1',
        crlNumber: null,
        thisUpdate: T0,
        nextUpdate: null,
      },
    });
    expect(store.stateDigests('revocations', 'A').size).toBe(2);
    expect(store.stateDigests('revocations', 'B').size).toBe(1);
    expect(store.crlState('A')).toEqual({
      scope: 'A',
      issuerKeyId: 'A',
      partition: null,
      crlNumber: '7',
      thisUpdate: T0,
      nextUpdate: T0 + 86_400_000,
    });
    expect(store.crlState('B#p1')).toMatchObject({ partition: 'p1', nextUpdate: null });
    expect(store.crlState('C')).toBeNull();
    // A CRL without nextUpdate is not told to terminals.
    expect(store.crlStatuses()).toEqual([
      {
        issuerKeyId: 'A',
        crlNumber: '7',
        thisUpdate: new Date(T0).toISOString(),
        nextUpdate: new Date(T0 + 86_400_000).toISOString(),
      },
    ]);
  });

  it('reads a consistent state in key order while publications keep committing', () => {
    const random = seededRandom(15);
    const puts = Array.from({ length: 12_000 }, (_, i) => row(i, String(Math.floor(random() * 1000))));
    store.publish({ feed: 'whitelist', puts, dels: [], batches: [batch(0, puts.length)], note: 'big' });
    const state = store.readState('whitelist');
    try {
      // Committed after the read began: not part of it.
      store.publish({
        feed: 'whitelist',
        puts: [row(99_999)],
        dels: [puts[0]!.k],
        batches: [batch(12_000, 2)],
        note: 'later',
      });
      expect(state.seq).toBe(12_000);
      const keys = [...state.rows].map((r) => r.k);
      expect(keys).toHaveLength(12_000);
      const sorted = [...keys].sort(Buffer.compare);
      expect(keys).toEqual(sorted);
      expect(keys.some((k) => k.equals(puts[0]!.k))).toBe(true);
    } finally {
      state.close();
    }
    expect(store.feedInfo('whitelist')).toMatchObject({ head: 12_002, rows: 12_000 });
  });

  it('starts a new epoch: batches dropped, chain restarted, the old epoch in the lineage', () => {
    store.publish({ feed: 'whitelist', puts: [row(1)], dels: [], batches: [batch(0, 1)], note: 'x' });
    const old = store.feedInfo('whitelist').epoch;
    const epoch = store.startEpoch('whitelist');
    expect(epoch).not.toBe(old);
    expect(store.feedInfo('whitelist')).toMatchObject({
      epoch,
      head: 1,
      rows: 1,
      digest: ZERO_DIGEST,
      lineage: [old],
    });
    expect(store.batchesAfter('whitelist', 0, 10)).toEqual([]);
    expect(store.digestAt('whitelist', 1)).toBe(ZERO_DIGEST);
  });

  it('signs stored batches again through the callback, in one pass', () => {
    store.publish({
      feed: 'whitelist',
      puts: [row(1)],
      dels: [],
      batches: [batch(0, 1), batch(1, 1)],
      note: 'x',
    });
    store.publish({ feed: 'revocations', puts: [row(2)], dels: [], batches: [batch(0, 1)], note: 'y' });
    const n = store.resignBatches((f) =>
      f.toString().endsWith('1+1') ? Buffer.from(`re ${f.toString()}`) : null,
    );
    expect(n).toBe(1);
    expect(store.batchesAfter('whitelist', 0, 10).map((b) => b.frameGz.toString())).toEqual([
      'frame 0+1',
      're frame 1+1',
    ]);
  });

  it('accepts journals once, checks their chain, and moves the watermark only over a gap-free run', () => {
    register('t1');
    const rows = journal('t1', 6);
    expect(store.acceptJournal('t1', [rows[0]!, rows[1]!, rows[3]!], T0, noPresence, makeBatch)).toEqual({
      accepted: 3,
      duplicates: 0,
      acked: 2,
      presence: [],
    });
    expect(store.acceptJournal('t1', rows.slice(0, 5), T0, noPresence, makeBatch)).toMatchObject({
      accepted: 2,
      duplicates: 3,
      acked: 5,
    });
    expect(store.terminal('t1')!.acked).toBe(5);
    const tampered = { ...rows[5]!, body: rows[5]!.body.replace('check', 'grant') };
    expect(() => store.acceptJournal('t1', [tampered], T0, noPresence, makeBatch)).toThrow(
      expect.objectContaining({ code: 'JOURNAL_BROKEN' }),
    );
    const changed = { ...rows[2]!, hash: rows[3]!.hash };
    expect(() => store.acceptJournal('t1', [changed], T0, noPresence, makeBatch)).toThrow(
      expect.objectContaining({ code: 'JOURNAL_BROKEN' }),
    );
    expect(() => store.acceptJournal('ghost', rows, T0, noPresence, makeBatch)).toThrow(
      expect.objectContaining({ code: 'HUB_UNKNOWN_TERMINAL' }),
    );
    expect(store.journalCount('t1')).toBe(5);
    expect(store.journalCount()).toBe(5);
  });

  it('accepts a group of pushes in one commit; a refused push is rolled back alone', () => {
    register('t1');
    register('t2');
    register('t3');
    const bad = journal('t2', 2);
    bad[1] = { ...bad[1]!, hash: 'ff'.repeat(32) };
    const results = store.acceptJournalMany([
      { terminalId: 't1', rows: journal('t1', 3), at: T0, toPresence: noPresence, makeBatch },
      { terminalId: 't2', rows: bad, at: T0, toPresence: noPresence, makeBatch },
      { terminalId: 't3', rows: journal('t3', 1), at: T0, toPresence: noPresence, makeBatch },
    ]);
    expect(results[0]).toMatchObject({ accepted: 3, acked: 3 });
    expect(results[1]).toBeInstanceOf(Error);
    expect(results[2]).toMatchObject({ accepted: 1, acked: 1 });
    expect(store.journalCount('t2')).toBe(0);
    expect(store.terminal('t2')!.acked).toBe(0);
    expect(store.journalCount()).toBe(4);
  });

  it('leaves per subject the presence that applying a push’s ops in order gives (latest wins, a tie the later)', () => {
    register('t1', 'site-8');
    const plan: Record<number, { subject: string; state: 'inside' | 'outside'; at: number }> = {
      1: { subject: 'A', state: 'inside', at: T0 + 10 },
      2: { subject: 'A', state: 'outside', at: T0 + 20 },
      3: { subject: 'B', state: 'outside', at: T0 + 30 },
      4: { subject: 'B', state: 'inside', at: T0 + 5 }, // older than the exit before it: the exit stays
      5: { subject: 'C', state: 'inside', at: T0 + 7 },
      6: { subject: 'C', state: 'outside', at: T0 + 7 }, // same time: the later one
    };
    const toPresence = (r: PushRecord): PeerEntryOp | null => ({
      op: 'presence',
      ...plan[r.seq]!,
      terminalId: 't1',
      gateId: 'g1',
      zone: 'main',
      journalSeq: r.seq,
    });
    store.acceptJournal('t1', journal('t1', 6), T0, toPresence, makeBatch);
    expect(
      Object.fromEntries(store.presence('site-8').map((p) => [p.subject, [p.state, p.at - T0]])),
    ).toEqual({ A: ['outside', 20], B: ['outside', 30], C: ['outside', 7] });
  });

  it('turns accepted rows into presence and a batch of the site’s peer-entries feed', () => {
    register('t1', 'site-9');
    const rows = journal('t1', 3);
    const toPresence = (r: PushRecord): PeerEntryOp | null =>
      r.seq === 2
        ? null
        : {
            op: 'presence',
            subject: `S${r.seq}`,
            state: 'inside',
            terminalId: 't1',
            gateId: 'g1',
            zone: 'main',
            at: T0 + r.seq,
            journalSeq: r.seq,
          };
    const got = store.acceptJournal('t1', rows, T0, toPresence, makeBatch);
    expect(got.presence.map((p) => p.subject)).toEqual(['S1', 'S3']);
    const info = store.feedInfo('peer-entries@site-9');
    expect(info.head).toBe(2);
    expect(store.batchesAfter('peer-entries@site-9', 0, 10)).toHaveLength(1);
    expect(store.feedInfo('peer-entries@elsewhere').head).toBe(0);
    expect(store.presence('site-9').map((p) => p.subject)).toEqual(['S3', 'S1']);
    expect(store.presence()).toHaveLength(2);
    // A replay brings nothing new.
    expect(store.acceptJournal('t1', rows, T0, toPresence, makeBatch)).toMatchObject({
      accepted: 0,
      duplicates: 3,
      presence: [],
    });
    expect(store.feedInfo('peer-entries@site-9').head).toBe(2);
  });

  it('uses a nonce and reads the terminal in one call: refused the second time, state and key current', () => {
    register('t1');
    expect(store.useNonceFor!('t1', 'nonce-cccccccc', T0 + 10)).toMatchObject({
      fresh: true,
      terminal: { terminalId: 't1', publicKeyPem: 'pem-t1', state: 'active' },
    });
    store.setTerminalState('t1', 'disabled', 'lost', T0 + 1);
    store.replaceTerminalKey('t1', 'pem-t1-new', T0 + 2);
    expect(store.useNonceFor!('t1', 'nonce-cccccccc', T0 + 10)).toMatchObject({
      fresh: false,
      terminal: { publicKeyPem: 'pem-t1-new', state: 'disabled', stateReason: 'lost' },
    });
    expect(store.useNonce('t1', 'nonce-cccccccc', T0 + 10)).toBe(false); // the same nonce table
    expect(store.useNonceFor!('nobody', 'nonce-dddddddd', T0 + 10)).toEqual({ fresh: true, terminal: null });
  });

  it('uses a nonce for a pull and reads its feed in that call where the store can: the feed as feedInfo has it', () => {
    register('t1');
    store.publish({
      feed: 'whitelist',
      batches: [batch(0, 2), batch(2, 1)],
      puts: [row(1), row(2), row(3)],
      dels: [],
      note: 'n',
    });
    const first = store.useNonceFor!('t1', 'nonce-eeeeeeee', T0 + 10, 'whitelist');
    expect(first).toMatchObject({ fresh: true, terminal: { terminalId: 't1' } });
    // PostgreSQL reads it in the same statement; SQLite (no round trip to save) leaves it to feedInfo.
    if (kind === 'postgres') expect(first.feed).toEqual(store.feedInfo('whitelist'));
    if (first.feed) expect(first.feed).toMatchObject({ head: 3, oldestFrom: 0, rows: 3 });
    expect(store.useNonceFor!('t1', 'nonce-eeeeeeee', T0 + 10, 'revocations')).toMatchObject({
      fresh: false,
    });
    // A site's peer feed not created yet is not made up: the caller's feedInfo creates it.
    expect(store.useNonceFor!('t1', 'nonce-ffffffff', T0 + 10, 'peer-entries@site-new').feed).toBeUndefined();
  });

  it('refuses a request nonce used before by the same terminal, and forgets expired ones', () => {
    expect(store.useNonce('t1', 'nonce-aaaaaaaa', T0 + 10)).toBe(true);
    expect(store.useNonce('t1', 'nonce-aaaaaaaa', T0 + 10)).toBe(false);
    expect(store.useNonce('t2', 'nonce-aaaaaaaa', T0 + 10)).toBe(true);
    expect(store.useNonce('t1', 'nonce-bbbbbbbb', T0 + 99)).toBe(true);
    expect(store.pruneNonces(T0 + 50)).toBe(2);
    expect(store.useNonce('t1', 'nonce-aaaaaaaa', T0 + 100)).toBe(true);
    expect(store.useNonce('t1', 'nonce-bbbbbbbb', T0 + 100)).toBe(false);
  });

  it('has everything committed after it is closed and opened again', () => {
    register('t1');
    store.acceptJournal('t1', journal('t1', 4), T0, noPresence, makeBatch);
    store.publish({ feed: 'whitelist', puts: [row(1), row(2)], dels: [], batches: [batch(0, 2)], note: 'x' });
    store.useNonce('t1', 'nonce-cccccccc', T0 + 1000);
    store.setTerminalState('t1', 'disabled', 'maintenance', T0 + 1);
    store.setRemoteConfig('site:site-1', { a: 1 }, T0 + 1);
    store.createEnrolmentCode({
      codeSha256: 'c9',
      siteId: 'site-1',
      gateId: 'g9',
      zone: 'main',
      siteKind: 'stadium-gate',
      createdAt: T0,
      expiresAt: T0 + 1000,
    });
    store.enrolTerminal('c9', { terminalId: 't9', publicKeyPem: 'pem-t9' }, T0 + 2);
    const info = store.feedInfo('whitelist');
    const terminals = store.terminals();
    const codes = store.enrolmentCodes();
    store.close();
    store = stores.reopen(kind, where);
    expect(store.feedInfo('whitelist')).toEqual(info);
    expect(store.journalCount('t1')).toBe(4);
    expect(store.terminal('t1')!.acked).toBe(4);
    expect(store.useNonce('t1', 'nonce-cccccccc', T0 + 1000)).toBe(false);
    expect(store.feedInfo('revocations').head).toBe(0);
    expect(store.terminals()).toEqual(terminals);
    expect(store.terminal('t1')).toMatchObject({ state: 'disabled', stateReason: 'maintenance' });
    expect(store.enrolmentCodes()).toEqual(codes);
    expect(store.remoteConfigsFor(store.terminal('t9')!)).toEqual([
      { scope: 'site:site-1', version: 1, layer: { a: 1 } },
    ]);
  });
});
