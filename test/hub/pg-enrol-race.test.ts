// Two hub instances (child processes, each its own PgHubStore) enrolling at the same moment on one
// PostgreSQL database — the case SQLite never has. The test holds the registry lock so that both are
// inside their enrolment transactions at once, then lets them go: one code used twice enrols exactly one
// terminal; one key offered under two codes is registered once, and the losing code stays unspent.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PgHubStore, REGISTRY_LOCK } from '../../hub/pg-store.js';
import { startPostgres, type PgCluster } from '../support/postgres.js';
import { cleanup, tempDir } from '../sync/helpers.js';
import { bundleInstanceChild, runInstanceChild } from './instances.js';

const T0 = Date.parse('2026-11-21T10:00:00Z');

type Outcome = { ok: string } | { code: string };

function enrolInChild(
  bundle: string,
  url: string,
  code: string,
  terminalId: string,
  pem: string,
): Promise<Outcome> {
  return runInstanceChild(bundle, [url, code, terminalId, pem, String(T0 + 1)], 'enrol');
}

describe('PostgreSQL store: enrolment raced by two instances', () => {
  let cluster: PgCluster;
  let root: string;
  let bundle: string;

  beforeAll(async () => {
    root = tempDir('pg-enrol-race');
    bundle = bundleInstanceChild(root, 'pg-enrol-child.ts');
    cluster = await startPostgres({ fast: true });
  }, 120_000);
  afterAll(() => {
    cluster?.stop();
    cleanup(root);
  });

  /** Runs the enrolments while the registry lock is held, releasing it once every one of them waits. */
  async function race(
    url: string,
    attempts: Array<{ code: string; terminalId: string; pem: string }>,
  ): Promise<Outcome[]> {
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [REGISTRY_LOCK]);
      const outcomes = Promise.all(
        attempts.map((a) => enrolInChild(bundle, url, a.code, a.terminalId, a.pem)),
      );
      // Each instance is blocked inside its transaction: on the registry lock, or on the code's row.
      await vi.waitFor(
        async () => {
          const r = await holder.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          );
          expect(Number(r.rows[0]!.n)).toBe(attempts.length);
        },
        { timeout: 30_000, interval: 50 },
      );
      await holder.query('SELECT pg_advisory_unlock($1)', [REGISTRY_LOCK]);
      return await outcomes;
    } finally {
      await holder.end();
    }
  }

  function newStore(url: string): PgHubStore {
    const store = new PgHubStore(url);
    for (const sha of ['code-1', 'code-2'])
      store.createEnrolmentCode({
        codeSha256: sha,
        siteId: 'stadium-1',
        gateId: 'north',
        zone: 'upper',
        siteKind: 'stadium-gate',
        createdAt: T0,
        expiresAt: T0 + 600_000,
      });
    return store;
  }

  it('one code used by two instances at once enrols exactly one terminal', async () => {
    const url = await cluster.createDatabase();
    const store = newStore(url);
    try {
      const outcomes = await race(url, [
        { code: 'code-1', terminalId: 'term-a', pem: 'pem-a' },
        { code: 'code-1', terminalId: 'term-b', pem: 'pem-b' },
      ]);
      const winners = outcomes.flatMap((o) => ('ok' in o ? [o.ok] : []));
      expect(winners).toHaveLength(1);
      expect(outcomes.filter((o) => 'code' in o)).toEqual([{ code: 'ENROL_CODE_USED' }]);
      expect(store.terminals().map((t) => t.terminalId)).toEqual(winners);
      expect(store.enrolmentCodes().find((c) => c.codeSha256 === 'code-1')).toMatchObject({
        usedBy: winners[0],
        usedAt: T0 + 1,
      });
      expect(store.enrolmentCodes().find((c) => c.codeSha256 === 'code-2')?.usedAt).toBeNull();
    } finally {
      store.close();
    }
  }, 60_000);

  it('one key offered under two codes at once is registered once; the losing code stays unspent', async () => {
    const url = await cluster.createDatabase();
    const store = newStore(url);
    try {
      const outcomes = await race(url, [
        { code: 'code-1', terminalId: 'term-a', pem: 'pem-same' },
        { code: 'code-2', terminalId: 'term-b', pem: 'pem-same' },
      ]);
      const winners = outcomes.flatMap((o) => ('ok' in o ? [o.ok] : []));
      expect(winners).toHaveLength(1);
      expect(outcomes.filter((o) => 'code' in o)).toEqual([{ code: 'ENROL_KEY_REGISTERED' }]);
      expect(store.terminals().map((t) => [t.terminalId, t.publicKeyPem])).toEqual([
        [winners[0], 'pem-same'],
      ]);
      const used = store.enrolmentCodes().map((c) => c.usedBy);
      expect(used.filter((u) => u !== null)).toEqual(winners);
      expect(used.filter((u) => u === null)).toHaveLength(1);
    } finally {
      store.close();
    }
  }, 60_000);
});
