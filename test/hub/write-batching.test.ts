// The journal group commit: pushes that arrive a few event-loop turns apart (as a fleet's do) share one
// store transaction, each is answered with its own result once that commit is done, and a full group
// does not wait for its window.
import { setImmediate as turn } from 'node:timers/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PushRecord } from '../../protocol/sync.js';
import { SqliteHubStore } from '../../hub/sqlite-store.js';
import type { JournalPush, StoredBatch } from '../../hub/store.js';
import { JournalGroupCommit } from '../../hub/write-batching.js';
import { cleanup, tempDir } from '../sync/helpers.js';
import { chainedJournal } from './stores.js';

const T0 = Date.parse('2026-11-21T10:00:00Z');

const journal = (terminalId: string, n: number): PushRecord[] => chainedJournal(terminalId, n, T0);

const push = (terminalId: string, rows: PushRecord[]): JournalPush => ({
  terminalId,
  rows,
  at: T0,
  toPresence: () => null,
  makeBatch: (): StoredBatch => {
    throw new Error('no presence in these pushes');
  },
});

describe('JournalGroupCommit', () => {
  let root: string;
  let store: SqliteHubStore;
  let groups: number[];

  beforeEach(() => {
    root = tempDir('group-commit');
    store = new SqliteHubStore(join(root, 'hub.db'));
    for (let i = 0; i < 4; i++)
      store.registerTerminal(
        {
          terminalId: `t${i}`,
          publicKeyPem: `pem-${i}`,
          siteId: 'site-1',
          gateId: 'gate-a',
          zone: 'main',
          siteKind: 'stadium-gate',
        },
        T0,
      );
    groups = [];
    const accept = store.acceptJournalMany.bind(store);
    store.acceptJournalMany = (items) => {
      groups.push(items.length);
      return accept(items);
    };
  });
  afterEach(() => {
    store.close();
    cleanup(root);
  });

  it('commits pushes that arrive on separate event-loop turns together, each answered with its own result', async () => {
    const commits = new JournalGroupCommit(store, () => undefined, {
      minWindowMs: 500,
      maxWindowMs: 500,
      maxGroup: 256,
    });
    const answers: Array<Promise<unknown>> = [];
    for (let i = 0; i < 3; i++) {
      answers.push(commits.push(push(`t${i}`, journal(`t${i}`, i + 1))));
      await turn();
    }
    // A push that is refused (it does not chain) is refused alone; the others in its group stand.
    const broken = journal('t3', 2)[1]!;
    answers.push(commits.push(push('t3', [{ ...broken, seq: 1 }])));
    const settled = await Promise.allSettled(answers);
    expect(groups).toEqual([4]);
    expect(settled.slice(0, 3).map((s) => (s.status === 'fulfilled' ? s.value : s.reason))).toEqual([
      { accepted: 1, duplicates: 0, acked: 1, presence: [] },
      { accepted: 2, duplicates: 0, acked: 2, presence: [] },
      { accepted: 3, duplicates: 0, acked: 3, presence: [] },
    ]);
    expect(settled[3]).toMatchObject({ status: 'rejected', reason: { code: 'JOURNAL_BROKEN' } });
    expect(store.journalCount()).toBe(6);
  });

  it('commits a full group at once instead of waiting out the window', async () => {
    const commits = new JournalGroupCommit(store, () => undefined, {
      minWindowMs: 600_000,
      maxWindowMs: 600_000,
      maxGroup: 2,
    });
    const a = commits.push(push('t0', journal('t0', 1)));
    await turn();
    const b = commits.push(push('t1', journal('t1', 1)));
    await expect(Promise.all([a, b])).resolves.toHaveLength(2);
    expect(groups).toEqual([2]);
  });
});
