// A running terminal installs a snapshot without stopping: the new file is built in chunks while the event
// loop keeps serving lookups on the current content, and the swap is one step at the end.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { revocationPutOp, revocationRow } from '../../whitelist/feed-ops.js';
import { SnapshotWriter } from '../../protocol/snapshot-rows.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { ISSUER, batchOf, hub, indexKey, signed, tempDir, trust } from './helpers.js';

const opened: KioskData[] = [];
afterEach(() => {
  for (const d of opened.splice(0)) {
    try {
      d.close();
    } catch {
      /* closed by the test */
    }
  }
});

const serial = (i: number) => (0x100000 + i).toString(16);

/** A revocation snapshot of `count` serials starting at `from` (cheap rows: several chunks of 50,000). */
function snapshot(dir: string, from: number, count: number, epoch = 'snap-async') {
  const rows = Array.from({ length: count }, (_, i) =>
    revocationRow(indexKey, {
      issuerKeyId: ISSUER,
      serial: serial(from + i),
      revokedAt: '2026-10-01T00:00:00Z',
      reason: 'superseded',
    }),
  ).sort((a, b) => Buffer.compare(a.k, b.k));
  const file = join(dir, `rows-${epoch}-${from}`);
  const writer = new SnapshotWriter(file, 'revocations');
  for (const r of rows) writer.add(r.k, r.v);
  return {
    file,
    // v2: a new epoch names the one it succeeds, and is not older than the data it replaces
    manifest: writer.finish(
      { epoch, seq: count, asOf: '2026-11-21T10:00:00Z', lineage: ['epoch-1'] },
      hub.privateKey,
    ).signed,
  };
}

const revoked = (data: KioskData, i: number) =>
  data.lookup({ issuerKeyId: ISSUER, serial: serial(i), spkiSha256: '00'.repeat(32) }).revoked !== null;

describe('snapshot install on a running terminal', () => {
  it('keeps answering from the current content while the new file is built, then swaps whole', async () => {
    const dir = tempDir('wl-async-');
    const data = KioskData.open({ dir, indexKey, trust });
    opened.push(data);
    data.applyBatch(
      signed(
        batchOf('revocations', 0, [
          revocationPutOp(indexKey, {
            issuerKeyId: ISSUER,
            serial: serial(999_999),
            revokedAt: '2026-11-01T00:00:00Z',
            reason: 'keyCompromise',
          }),
        ]),
      ),
    );
    const snap = snapshot(dir, 0, 160_000);
    const seenDuring: boolean[] = [];
    let turns = 0;
    const ticker = setInterval(() => {
      turns++;
      // Mid-build: the old content answers, the new one is not visible yet.
      seenDuring.push(revoked(data, 999_999) && !revoked(data, 5));
    }, 0);
    const progress: number[] = [];
    const result = await data.importSnapshotAsync(snap.manifest, snap.file, (rows) => progress.push(rows));
    clearInterval(ticker);
    expect(result).toMatchObject({ feed: 'revocations', rows: 160_000, seq: 160_000 });
    expect(turns).toBeGreaterThan(1);
    expect(seenDuring.length).toBeGreaterThan(0);
    expect(seenDuring.every(Boolean)).toBe(true);
    expect(progress.at(-1)).toBe(160_000);
    // After the swap: the snapshot's content, and only it.
    expect(revoked(data, 5)).toBe(true);
    expect(revoked(data, 159_999)).toBe(true);
    expect(revoked(data, 999_999)).toBe(false);
    expect(data.revocations.feedState()).toMatchObject({ epoch: 'snap-async', seq: 160_000 });
  });

  it('a second import meanwhile, or closing the store, is a typed error that leaves no file behind', async () => {
    const dir = tempDir('wl-async-');
    const data = KioskData.open({ dir, indexKey, trust });
    opened.push(data);
    const snap = snapshot(dir, 0, 120_000);
    const first = data.importSnapshotAsync(snap.manifest, snap.file);
    await expect(data.importSnapshotAsync(snap.manifest, snap.file)).rejects.toMatchObject({
      code: 'STORE_UNAVAILABLE',
    });
    await new Promise((resolve) => setImmediate(resolve));
    data.close();
    await expect(first).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
    expect(readdirSync(dir).filter((n) => n.startsWith('revocations-') && !n.includes('initial'))).toEqual(
      [],
    );
    // The store reopens on its previous content.
    const again = KioskData.open({ dir, indexKey, trust });
    opened.push(again);
    expect(again.revocations.feedState().seq).toBe(0);
    expect(revoked(again, 5)).toBe(false);
  });
});
