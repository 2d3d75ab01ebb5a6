// Deltas land in the `recent` table over the base rows; lookups, counts and the fold must all see the
// same content as if every op had gone straight into the base rows.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FeedStore } from '../../whitelist/store.js';
import type { FeedBatch } from '../../protocol/feed-format.js';

const key = (i: number) => Buffer.from(i.toString(16).padStart(32, '0'), 'hex');
const put = (i: number, at: number) => ({
  op: 'put' as const,
  k: key(i).toString('hex'),
  at,
  reason: 'keyCompromise' as const,
});
const del = (i: number) => ({ op: 'del' as const, k: key(i).toString('hex') });

function batch(fromSeq: number, ops: FeedBatch['ops']): FeedBatch {
  return {
    format: 'jpki-kiosk/delta/v1',
    feed: 'revocations',
    publisherKeyId: '0'.repeat(32),
    epoch: 'e1',
    fromSeq,
    toSeq: fromSeq + ops.length,
    asOf: new Date().toISOString(),
    ops,
  } as FeedBatch;
}

function contentOf(store: FeedStore, n: number): Record<number, number | null> {
  const out: Record<number, number | null> = {};
  for (let i = 0; i < n; i++) out[i] = store.get(key(i))?.readUInt32BE(0) ?? null;
  return out;
}

describe('recent changes over the base rows', () => {
  it('reads the newest change, hides deleted rows, counts content, and folds without changing it', () => {
    const store = FeedStore.open(mkdtempSync(join(tmpdir(), 'jpki-overlay-')), 'revocations');
    store.apply(batch(0, [put(1, 100), put(2, 200), put(3, 300)]));
    store.fold();
    expect(store.pendingChanges()).toBe(0);
    // Over the base rows: replace 1, delete 2, add 4, delete a key that never existed, re-add 3 after deleting it.
    store.apply(batch(3, [put(1, 111), del(2), put(4, 400), del(9), del(3), put(3, 333)]));
    const expected = { 0: null, 1: 111, 2: null, 3: 333, 4: 400, 5: null };
    expect(contentOf(store, 6)).toEqual(expected);
    expect(store.rowCount()).toBe(3);
    expect(store.pendingChanges()).toBeGreaterThan(0);
    expect(store.fold()).toBe(5);
    expect(store.pendingChanges()).toBe(0);
    expect(contentOf(store, 6)).toEqual(expected);
    expect(store.rowCount()).toBe(3);
    expect(store.integrity()).toBe('ok');
    store.close();
  });

  it('keeps pending changes across a reopen', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jpki-overlay-'));
    const first = FeedStore.open(dir, 'revocations');
    first.apply(batch(0, [put(7, 700), del(8)]));
    first.close();
    const again = FeedStore.open(dir, 'revocations');
    expect(again.pendingChanges()).toBe(2);
    expect(again.get(key(7))?.readUInt32BE(0)).toBe(700);
    expect(again.get(key(8))).toBeUndefined();
    again.close();
  });
});
