// The hub stores a suite runs against: `describe.each(hubStoreKinds)` runs the same tests on SQLite (a
// file in a temporary folder) and on PostgreSQL (a fresh database per test in a private cluster started
// once for the file by `useHubStores()`).
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { SqliteHubStore } from '../../hub/sqlite-store.js';
import { PgHubStore } from '../../hub/pg-store.js';
import type { HubStore } from '../../hub/store.js';
import { startPostgres, type PgCluster } from '../support/postgres.js';
import type { PushRecord } from '../../protocol/sync.js';
import { chainHash } from '../../whitelist/journal.js';

export type HubStoreKind = 'sqlite' | 'postgres';
export const hubStoreKinds: HubStoreKind[] = ['sqlite', 'postgres'];

export interface StoreFactory {
  /** A new, empty store; `where` says how to open it again (same file or database). */
  create(kind: HubStoreKind, dir: string): Promise<{ store: HubStore; where: string }>;
  reopen(kind: HubStoreKind, where: string): HubStore;
}

/** Starts the PostgreSQL cluster before the file's tests (stopped after them). */
export function useHubStores(): StoreFactory {
  let cluster: PgCluster | null = null;
  beforeAll(async () => {
    cluster = await startPostgres({ fast: true });
  }, 120_000);
  afterAll(() => cluster?.stop());
  const reopen = (kind: HubStoreKind, where: string): HubStore =>
    kind === 'sqlite' ? new SqliteHubStore(where) : new PgHubStore(where);
  return {
    reopen,
    create: async (kind, dir) => {
      const where = kind === 'sqlite' ? join(dir, 'hub.db') : await cluster!.createDatabase();
      return { store: reopen(kind, where), where };
    },
  };
}

/** A terminal's hash-chained journal rows 1…n, their wall times from `t0` (ms). */
export function chainedJournal(terminalId: string, n: number, t0: number): PushRecord[] {
  const rows: PushRecord[] = [];
  let prev: Buffer = Buffer.alloc(32);
  for (let seq = 1; seq <= n; seq++) {
    const body = JSON.stringify({ seq, terminalId, kind: 'check', wall: new Date(t0 + seq).toISOString() });
    prev = chainHash(prev, body);
    rows.push({ seq, body, hash: prev.toString('hex') });
  }
  return rows;
}
