// Two hub instances (child processes, each its own PgHubStore) moving a seat with one transfer code at the
// same moment on one PostgreSQL database — the case SQLite never has. The test holds the code's row lock so
// that both are inside their publications at once, then lets them go: exactly one publishes and spends
// the code; the other is refused with TRANSFER_CODE_USED and publishes nothing.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PgHubStore } from '../../hub/pg-store.js';
import { startPostgres, type PgCluster } from '../support/postgres.js';
import { cleanup, tempDir } from '../sync/helpers.js';
import { bundleInstanceChild, runInstanceChild } from './instances.js';

const T0 = Date.parse('2026-11-21T10:00:00Z');

type Outcome = { ok: string } | { code: string };

function spendInChild(bundle: string, url: string, code: string, usedBy: string): Promise<Outcome> {
  return runInstanceChild(bundle, [url, code, usedBy, String(T0 + 1)], 'transfer');
}

describe('PostgreSQL store: a transfer code spent by two instances at once', () => {
  let cluster: PgCluster;
  let root: string;
  let bundle: string;

  beforeAll(async () => {
    root = tempDir('pg-transfer-race');
    bundle = bundleInstanceChild(root, 'pg-transfer-child.ts');
    cluster = await startPostgres({ fast: true });
  }, 120_000);
  afterAll(() => {
    cluster?.stop();
    cleanup(root);
  });

  it('moves the seat exactly once', async () => {
    const url = await cluster.createDatabase();
    const store = new PgHubStore(url);
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      store.createTransferCode({
        codeSha256: 'code-1',
        purchaserK: 'ab'.repeat(16),
        purchaserScope: 'issuer-1',
        eventId: 'match-7',
        seat: 'A-12',
        sealedSpki: Buffer.from('sealed'),
        createdAt: T0,
        expiresAt: T0 + 600_000,
      });
      await holder.query('BEGIN');
      const held = await holder.query("SELECT 1 FROM transfer_code WHERE code_sha256 = 'code-1' FOR UPDATE");
      expect(held.rowCount).toBe(1);
      const outcomes = Promise.all(['desk-a', 'desk-b'].map((d) => spendInChild(bundle, url, 'code-1', d)));
      // Both instances are blocked inside their publications, on the code's row.
      await vi.waitFor(
        async () => {
          // Inside a transaction the activity view is a snapshot: take a fresh one each time.
          await holder.query('SELECT pg_stat_clear_snapshot()');
          const r = await holder.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          );
          expect(Number(r.rows[0]!.n)).toBe(2);
        },
        { timeout: 30_000, interval: 50 },
      );
      await holder.query('COMMIT');
      const done = await outcomes;
      const winners = done.flatMap((o) => ('ok' in o ? [o.ok] : []));
      expect(winners).toHaveLength(1);
      expect(done.filter((o) => 'code' in o)).toEqual([{ code: 'TRANSFER_CODE_USED' }]);
      expect(store.transferCode('code-1')).toMatchObject({ usedAt: T0 + 1, usedBy: winners[0] });
      expect(store.feedInfo('whitelist')).toMatchObject({ head: 1, rows: 1 });
      expect(store.batchesAfter('whitelist', 0, 10)).toHaveLength(1);
    } finally {
      await holder.end();
      store.close();
    }
  }, 60_000);
});
