// The synchronous door to PostgreSQL (hub/pg-bridge.ts): every call gets its own answer, also when an
// earlier call gave up waiting (its late answer is dropped, not handed to the next caller) and when the
// waiting thread is woken at moments that have nothing to do with its answer.
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgBridge } from '../../hub/pg-bridge.js';
import { startPostgres, type PgCluster } from '../support/postgres.js';

describe('PgBridge', () => {
  let cluster: PgCluster;
  let url: string;
  beforeAll(async () => {
    cluster = await startPostgres({ fast: true });
    url = await cluster.createDatabase();
  }, 120_000);
  afterAll(() => cluster?.stop());

  it('drops the late answer of a call that timed out instead of giving it to the next call', () => {
    const db = new PgBridge(url);
    try {
      expect(db.query('SELECT 0 AS n').rows).toEqual([{ n: 0 }]); // connected: the calls below share its session
      db.timeoutMs = 300;
      expect(() => db.query('SELECT pg_sleep(1.5) AS slept')).toThrow(
        expect.objectContaining({ code: 'STORE_UNAVAILABLE' }),
      );
      // The connection finishes the sleep, then the calls queued behind it; their answers come late too.
      let answer: unknown = null;
      for (let i = 0; i < 50 && answer === null; i++)
        try {
          answer = db.query('SELECT $1::int AS n', [i]).rows[0];
        } catch {
          // still behind the sleep: try again
        }
      expect(answer).toMatchObject({ n: expect.any(Number) });
      expect(answer).not.toHaveProperty('slept');
    } finally {
      db.close();
    }
  }, 30_000);

  it('answers each call with its own rows while another thread keeps waking the caller', async () => {
    const db = new PgBridge(url);
    const waker = new Worker(
      `const { workerData } = require('node:worker_threads');
       const stop = Date.now() + 30000;
       while (Date.now() < stop) Atomics.notify(workerData.flag, 0);`,
      { eval: true, workerData: { flag: db.flag } },
    );
    try {
      for (let i = 0; i < 500; i++) expect(db.query('SELECT $1::int AS n', [i]).rows).toEqual([{ n: i }]);
    } finally {
      await waker.terminate();
      db.close();
    }
  }, 60_000);
});
