// The revocation list's in-memory key filter must never hide a revocation: checked against the database
// itself through every way the feed changes — deltas, deletions, folds, snapshots, reopening, and writes
// by another process picked up by refresh().
import { createHmac, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RevocationOp } from '../../protocol/feed-format.js';
import { revocationDelOp, revocationPutOp, revocationRow } from '../../whitelist/feed-ops.js';
import { SnapshotWriter } from '../../protocol/snapshot-rows.js';
import { KeyFilter } from '../../whitelist/key-filter.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { FeedStore } from '../../whitelist/store.js';
import { ISSUER, batchOf, hub, indexKey, signed, tempDir, trust } from './helpers.js';

describe('KeyFilter', () => {
  it('never misses an added key; rarely says maybe for another; knows when it is overfull', () => {
    const filter = new KeyFilter(100_000);
    const added = Array.from({ length: 100_000 }, () => randomBytes(16));
    for (const k of added) filter.add(k);
    for (const k of added) expect(filter.mayContain(k)).toBe(true);
    let maybes = 0;
    for (let i = 0; i < 100_000; i++) if (filter.mayContain(randomBytes(16))) maybes++;
    // ~0.07 % expected at 16 bits per key; a broken filter is far above this (or at 100 %).
    expect(maybes).toBeLessThan(500);
    expect(filter.overfull).toBe(false);
    for (let i = 0; i < 100_001; i++) filter.add(randomBytes(16));
    expect(filter.overfull).toBe(true);
    // Short keys (asked for, never stored) are answered, not thrown on.
    expect(typeof filter.mayContain(Uint8Array.of(1, 2))).toBe('boolean');
  });
});

/** Deterministic pseudo-random numbers: a failing sequence can be replayed. */
function rng(seed: number): () => number {
  let n = 0;
  return () => createHmac('sha256', String(seed)).update(String(n++)).digest().readUInt32BE(0) / 2 ** 32;
}

describe('revocation key filter against the database', () => {
  const opened: Array<{ close(): void }> = [];
  afterEach(() => {
    for (const o of opened.splice(0)) {
      try {
        o.close();
      } catch {
        /* closed by the test */
      }
    }
  });

  const serial = (i: number) => (0x1000 + i).toString(16);
  const revoke = (i: number): RevocationOp =>
    revocationPutOp(indexKey, {
      issuerKeyId: ISSUER,
      serial: serial(i),
      revokedAt: '2026-11-01T00:00:00Z',
      reason: 'keyCompromise',
    });
  const unrevoke = (i: number): RevocationOp => revocationDelOp(indexKey, ISSUER, serial(i));

  function snapshotOf(dir: string, serials: number[], epoch: string, seq: number, lineage: string[] = []) {
    const rows = serials
      .map((i) =>
        revocationRow(indexKey, {
          issuerKeyId: ISSUER,
          serial: serial(i),
          revokedAt: '2026-10-01T00:00:00Z',
          reason: 'superseded',
        }),
      )
      .sort((a, b) => Buffer.compare(a.k, b.k));
    const file = join(dir, `rows-${epoch}`);
    const writer = new SnapshotWriter(file, 'revocations');
    for (const r of rows) writer.add(r.k, r.v);
    return {
      file,
      // v2: a new epoch names the one it succeeds, and is not older than the data it replaces
      manifest: writer.finish({ epoch, seq, asOf: '2026-11-21T10:00:00Z', lineage }, hub.privateKey).signed,
    };
  }

  it('answers as the database does through deltas, folds, snapshots, reopening and another process', () => {
    const dir = tempDir('wl-filter-');
    let kiosk = KioskData.open({ dir, indexKey, trust });
    opened.push(kiosk);
    // Another opener of the same files (a CLI import, a second process), and a filter-free reader.
    const other = KioskData.open({ dir, indexKey, trust });
    opened.push(other);
    const random = rng(7);
    const universe = 400;
    let epoch = 'epoch-1';
    let seq = 0;
    let snapshots = 0;
    let external = 0;
    const revokedIn = (store: FeedStore, i: number) =>
      store.get(indexKey.cardKey(ISSUER, serial(i))) !== undefined;
    const check = (step: string) => {
      const truth = FeedStore.open(dir, 'revocations', { readonly: true });
      try {
        for (let i = 0; i < universe; i++) {
          const expected = revokedIn(truth, i);
          const seen = kiosk.lookup({ issuerKeyId: ISSUER, serial: serial(i), spkiSha256: '00'.repeat(32) });
          expect(seen.revoked !== null, `${step}: serial ${serial(i)}`).toBe(expected);
        }
      } finally {
        truth.close();
      }
    };
    for (let step = 0; step < 120; step++) {
      const r = random();
      const ops = Array.from({ length: 1 + Math.floor(random() * 12) }, () => {
        const i = Math.floor(random() * universe);
        return random() < 0.75 ? revoke(i) : unrevoke(i);
      });
      if (r < 0.45) {
        kiosk.applyBatch(signed(batchOf('revocations', seq, ops, { epoch })));
        seq += ops.length;
      } else if (r < 0.7) {
        // Another process writes; the kiosk takes it in at its next card.
        other.refresh();
        other.applyBatch(signed(batchOf('revocations', seq, ops, { epoch })));
        if (random() < 0.3) other.revocations.fold();
        seq += ops.length;
        external++;
        kiosk.refresh();
      } else if (r < 0.8) {
        kiosk.revocations.fold();
      } else if (r < 0.9) {
        const serials = [...new Set(Array.from({ length: 30 }, () => Math.floor(random() * universe)))];
        const previous = epoch;
        epoch = `snap-${step}`;
        seq = 1000 * (step + 1);
        const snap = snapshotOf(dir, serials, epoch, seq, [previous]);
        const importer = random() < 0.5 ? kiosk : other;
        if (importer === other) other.refresh();
        importer.importSnapshot(snap.manifest, snap.file);
        if (importer === other) kiosk.refresh();
        snapshots++;
      } else {
        kiosk.close();
        kiosk = KioskData.open({ dir, indexKey, trust });
        opened.push(kiosk);
      }
      check(`step ${step}`);
    }
    expect(snapshots).toBeGreaterThan(3);
    expect(external).toBeGreaterThan(10);
  });

  it('until refresh, a running kiosk keeps its own view; after it, another process’s revocation counts', () => {
    const dir = tempDir('wl-filter-');
    const kiosk = KioskData.open({ dir, indexKey, trust });
    const cli = KioskData.open({ dir, indexKey, trust });
    opened.push(kiosk, cli);
    const look = () => kiosk.lookup({ issuerKeyId: ISSUER, serial: serial(1), spkiSha256: '00'.repeat(32) });
    expect(look().revoked).toBeNull();
    cli.applyBatch(signed(batchOf('revocations', 0, [revoke(1)])));
    expect(kiosk.revocations.refresh()).toBe(true);
    expect(look().revoked).toMatchObject({ reason: 'keyCompromise' });
    expect(kiosk.revocations.refresh()).toBe(false);
  });
});
