import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { WhitelistOp } from '../../protocol/feed-format.js';
import { revocationPutOp, whitelistDelOp, whitelistPutOp, whitelistRow } from '../../whitelist/feed-ops.js';
import { SnapshotWriter } from '../../protocol/snapshot-rows.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import type { FeedStore } from '../../whitelist/store.js';
import {
  ISSUER,
  batchOf,
  errorCode,
  hub,
  indexKey,
  signed,
  spkiOf,
  tempDir,
  ticket,
  trust,
} from './helpers.js';

const open: KioskData[] = [];
function fresh(): { data: KioskData; dir: string } {
  const dir = tempDir();
  const data = KioskData.open({ dir, indexKey, trust });
  open.push(data);
  return { data, dir };
}
afterEach(() => {
  for (const d of open.splice(0)) {
    try {
      d.close();
    } catch {
      /* closed by the test */
    }
  }
});

const put = (serial: string, subject = `u-${serial}`): WhitelistOp =>
  whitelistPutOp(indexKey, {
    issuerKeyId: ISSUER,
    serial,
    spkiSha256: spkiOf(serial),
    record: ticket(subject),
  });
const look = (data: KioskData, serial: string, spki = spkiOf(serial)) =>
  data.lookup({ issuerKeyId: ISSUER, serial, spkiSha256: spki });

/** Everything a refused batch must not change: every row and the state. */
function fingerprint(data: KioskData): string {
  const rows = (s: FeedStore) =>
    JSON.stringify(
      (s as unknown as { db: { prepare(q: string): { all(): unknown[] } } }).db
        .prepare('SELECT hex(k), hex(v) FROM content ORDER BY k')
        .all(),
    );
  return JSON.stringify([
    rows(data.whitelist),
    rows(data.revocations),
    { ...data.whitelist.feedState(), lastSyncAt: null },
    { ...data.revocations.feedState(), lastSyncAt: null },
  ]);
}

describe('lookups', () => {
  it('finds, decrypts, reports revocation and refuses a card on another key', () => {
    const { data } = fresh();
    data.applyBatch(signed(batchOf('whitelist', 0, [put('01'), put('02'), put('03')])));
    data.applyBatch(
      signed(
        batchOf('revocations', 0, [
          revocationPutOp(indexKey, {
            issuerKeyId: ISSUER,
            serial: '02',
            revokedAt: '2026-10-01T00:00:00Z',
            reason: 'keyCompromise',
          }),
        ]),
      ),
    );
    const hit = look(data, '01');
    expect(hit.card?.subject).toBe('u-01');
    expect(hit.card?.entitlements[0]).toMatchObject({ kind: 'ticket', seat: 'A-12-3', gates: ['gate-a'] });
    expect(hit.revoked).toBeNull();
    expect(hit.serialRef).toBe(indexKey.serialRef(ISSUER, '01'));
    expect(look(data, '02').revoked).toEqual({ at: '2026-10-01T00:00:00.000Z', reason: 'keyCompromise' });
    expect(look(data, '99')).toMatchObject({ card: null, revoked: null, keyMismatch: false });
    // Same serial, another public key (a clone or a reissued card): nothing is revealed.
    expect(look(data, '03', spkiOf('other'))).toMatchObject({ card: null, keyMismatch: true });
    // Another issuer's card with the same serial is another row.
    expect(data.lookup({ issuerKeyId: 'ffff', serial: '01', spkiSha256: spkiOf('01') }).card).toBeNull();
  });

  it('prewarm reads each feed file whole, leaves lookups unchanged, and stops when aborted', async () => {
    const { data } = fresh();
    data.applyBatch(signed(batchOf('whitelist', 0, [put('01'), put('02')])));
    const files = statSync(data.whitelist.currentPath).size + statSync(data.revocations.currentPath).size;
    expect(await data.prewarm()).toEqual({ bytes: files });
    expect(look(data, '01').card?.subject).toBe('u-01');
    const aborted = new AbortController();
    aborted.abort();
    expect(await data.prewarm(aborted.signal)).toEqual({ bytes: 0 });
    // A file gone (swapped away meanwhile) is reported, not thrown.
    data.close();
    rmSync(data.whitelist.currentPath);
    expect((await data.prewarm()).error).toMatch(/ENOENT/);
  });

  it('applies deletes and updates; the feed sequence and data age follow', () => {
    const { data } = fresh();
    data.applyBatch(signed(batchOf('whitelist', 0, [put('01'), put('02')])));
    data.applyBatch(
      signed(
        batchOf('whitelist', 2, [whitelistDelOp(indexKey, ISSUER, '01'), put('02', 'u-new')], {
          asOf: '2026-11-21T09:00:00Z',
        }),
      ),
    );
    expect(look(data, '01').card).toBeNull();
    expect(look(data, '02').card?.subject).toBe('u-new');
    const f = data.freshness(Date.parse('2026-11-21T10:00:00Z'));
    expect(f.whitelist).toMatchObject({ seq: 4, asOf: '2026-11-21T09:00:00Z', dataAgeMs: 3_600_000 });
    expect(f.revocations.dataAgeMs).toBeNull();
    data.markSynced('revocations', new Date('2026-11-21T09:30:00Z'), '2026-11-21T09:30:00Z');
    expect(data.freshness(Date.parse('2026-11-21T10:00:00Z')).revocations.dataAgeMs).toBe(1_800_000);
  });
});

describe('refused batches change nothing', () => {
  function seeded() {
    const ctx = fresh();
    ctx.data.applyBatch(signed(batchOf('whitelist', 0, [put('01'), put('02')])));
    return { ...ctx, before: fingerprint(ctx.data) };
  }

  it('bad signature', () => {
    const { data, before } = seeded();
    const wire = signed(batchOf('whitelist', 2, [put('03')]));
    wire[wire.length - 10] = wire[wire.length - 10]! ^ 0x01;
    expect(errorCode(() => data.applyBatch(wire))).toBe('DELTA_BAD_SIGNATURE');
    expect(fingerprint(data)).toBe(before);
  });

  it('wrong publisher', () => {
    const { data, before } = seeded();
    const rogue = generateKeyPairSync('ed25519');
    expect(
      errorCode(() => data.applyBatch(signed(batchOf('whitelist', 2, [put('03')]), rogue.privateKey))),
    ).toBe('DELTA_WRONG_PUBLISHER');
    expect(fingerprint(data)).toBe(before);
  });

  it('gap, and another epoch, ask for a snapshot or an earlier pull', () => {
    const { data, before } = seeded();
    expect(errorCode(() => data.applyBatch(signed(batchOf('whitelist', 3, [put('03')]))))).toBe('DELTA_GAP');
    expect(
      errorCode(() => data.applyBatch(signed(batchOf('whitelist', 2, [put('03')], { epoch: 'epoch-2' })))),
    ).toBe('DELTA_GAP');
    expect(fingerprint(data)).toBe(before);
  });

  it('duplicate and overlapping replays are refused and idempotent', () => {
    const { data, before } = seeded();
    expect(errorCode(() => data.applyBatch(signed(batchOf('whitelist', 0, [put('01'), put('02')]))))).toBe(
      'DELTA_DUPLICATE',
    );
    expect(errorCode(() => data.applyBatch(signed(batchOf('whitelist', 1, [put('02'), put('03')]))))).toBe(
      'DELTA_DUPLICATE',
    );
    expect(fingerprint(data)).toBe(before);
  });

  it('a malformed row in the middle of a batch refuses the whole batch', () => {
    const { data, before } = seeded();
    const ops = [
      put('03'),
      { op: 'put', k: '00'.repeat(16), v: Buffer.from('not sealed at all!!').toString('base64') },
      put('04'),
    ];
    expect(errorCode(() => data.applyBatch(signed(batchOf('whitelist', 2, ops as WhitelistOp[]))))).toBe(
      'DELTA_MALFORMED',
    );
    const badRev = { op: 'put', k: '11'.repeat(16), at: -5, reason: 'keyCompromise' };
    expect(errorCode(() => data.applyBatch(signed(batchOf('revocations', 0, [badRev] as never))))).toBe(
      'DELTA_MALFORMED',
    );
    expect(look(data, '03').card).toBeNull();
    expect(fingerprint(data)).toBe(before);
  });
});

describe('snapshots', () => {
  function buildSnapshot(
    dir: string,
    serials: string[],
    opts: { seq?: number; corrupt?: 'order' | 'count' | 'hash' } = {},
  ) {
    const rows = serials.map((s) =>
      whitelistRow(indexKey, {
        issuerKeyId: ISSUER,
        serial: s,
        spkiSha256: spkiOf(s),
        record: ticket(`snap-${s}`),
      }),
    );
    rows.sort((a, b) => Buffer.compare(a.k, b.k));
    const file = join(dir, `rows-${Math.random()}`);
    const w = new SnapshotWriter(file, 'whitelist');
    for (const r of rows) w.add(r.k, r.v);
    const { manifest, signed: m } = w.finish(
      // v2: a new epoch names the one it succeeds, and is not older than the data it replaces
      { epoch: 'snap-7', seq: opts.seq ?? 100, asOf: '2026-11-21T10:00:00Z', lineage: ['epoch-1'] },
      hub.privateKey,
    );
    return { file, manifest, signedManifest: m };
  }

  it('swaps the new content in whole, keeps lookups working, and continues with deltas of the new epoch', () => {
    const { data, dir } = fresh();
    data.applyBatch(signed(batchOf('whitelist', 0, [put('01')])));
    const snap = buildSnapshot(dir, ['10', '11', '12']);
    const result = data.importSnapshot(snap.signedManifest, snap.file);
    expect(result.rows).toBe(3);
    expect(look(data, '01').card).toBeNull();
    expect(look(data, '11').card?.subject).toBe('snap-11');
    expect(data.whitelist.feedState()).toMatchObject({ epoch: 'snap-7', seq: 100, snapshotId: 'snap-7' });
    data.applyBatch(signed(batchOf('whitelist', 100, [put('13')], { epoch: 'snap-7' })));
    expect(look(data, '13').card?.subject).toBe('u-13');
    // Only the current generation is left on disk; a reopened store sees the same.
    expect(readdirSync(dir).filter((n) => n.startsWith('whitelist-') && n.endsWith('.db'))).toHaveLength(1);
    data.close();
    const again = KioskData.open({ dir, indexKey, trust });
    open.push(again);
    expect(look(again, '13').card?.subject).toBe('u-13');
  });

  it('a snapshot whose rows do not match the signed manifest leaves the live store untouched', () => {
    const { data, dir } = fresh();
    data.applyBatch(signed(batchOf('whitelist', 0, [put('01')])));
    const before = fingerprint(data);
    const a = buildSnapshot(dir, ['10', '11']);
    const b = buildSnapshot(dir, ['10', '12']);
    expect(errorCode(() => data.importSnapshot(a.signedManifest, b.file))).toBe('SNAPSHOT_INVALID');
    const tampered = Buffer.from(a.signedManifest);
    tampered[tampered.length - 20] = tampered[tampered.length - 20]! ^ 1;
    expect(errorCode(() => data.importSnapshot(tampered, a.file))).toBe('SNAPSHOT_INVALID');
    writeFileSync(a.file, 'JPKI-SNAPSHOT-ROWS-1\n\x10short');
    expect(errorCode(() => data.importSnapshot(a.signedManifest, a.file))).toBe('SNAPSHOT_INVALID');
    expect(fingerprint(data)).toBe(before);
    expect(readdirSync(dir).some((n) => n.endsWith('.building'))).toBe(false);
  });

  it('a file left by a crash mid-build is removed at the next open; one being built right now is kept', () => {
    const { data, dir } = fresh();
    data.close();
    const leftover = join(dir, 'whitelist-snap-1-5-dead.db.building');
    const building = join(dir, 'whitelist-snap-2-9-busy.db.building');
    writeFileSync(leftover, 'partial');
    writeFileSync(building, 'another process is writing this');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(leftover, hourAgo, hourAgo);
    const again = KioskData.open({ dir, indexKey, trust });
    open.push(again);
    expect(existsSync(leftover)).toBe(false);
    expect(existsSync(building)).toBe(true);
  });
});

describe('presence and peer entries', () => {
  it('newest event wins, locally and from peers; reset clears', () => {
    const { data } = fresh();
    const t = data.terminal;
    expect(
      t.setPresence({ subject: 's1', state: 'inside', terminalId: 'me', gateId: 'g1', zone: 'z', at: 1000 }),
    ).toBe(true);
    data.applyBatch(
      signed(
        batchOf('peer-entries', 0, [
          {
            op: 'presence',
            subject: 's1',
            state: 'outside',
            terminalId: 'peer',
            gateId: 'g2',
            zone: 'z',
            at: 500,
          },
          {
            op: 'presence',
            subject: 's2',
            state: 'inside',
            terminalId: 'peer',
            gateId: 'g2',
            zone: 'z',
            at: 700,
          },
        ]),
      ),
    );
    expect(t.presence('s1')).toMatchObject({ state: 'inside', terminalId: 'me' });
    expect(t.presence('s2')).toMatchObject({ state: 'inside', terminalId: 'peer', gateId: 'g2' });
    expect(
      t.setPresence({ subject: 's2', state: 'outside', terminalId: 'me', gateId: 'g1', zone: 'z', at: 600 }),
    ).toBe(false);
    expect(t.peerFeedState().seq).toBe(2);
    expect(t.resetPresence()).toBe(2);
    expect(t.presence('s1')).toBeUndefined();
  });
});
