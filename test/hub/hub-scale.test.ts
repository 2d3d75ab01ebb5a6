// The hubscale benchmark's scenarios at smoke size (bench/hub-scale-run.ts): simulated terminals with
// their own keys syncing in rounds over real HTTP against one instance on SQLite, one on PostgreSQL and
// two on PostgreSQL behind nginx; no errors, every journal row held exactly once, nothing left to push.
// Performance is the bench's business (npm run bench -- --json --only hubscale); this checks the run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runScale, scaleTerminals, type ScaleEnv, type ScaleKind } from '../../bench/hub-scale-run.js';
import { startNginx } from '../support/nginx.js';
import { startPostgres, type PgCluster } from '../support/postgres.js';
import { ISSUER, cleanup, tempDir } from '../sync/helpers.js';
import { bundleInstanceChild, spawnInstance } from './instances.js';

describe('hub scale scenarios (smoke size)', () => {
  let cluster: PgCluster;
  let root: string;
  let env: ScaleEnv;
  const terminals = scaleTerminals(12);

  beforeAll(async () => {
    cluster = await startPostgres({ fast: true });
    root = tempDir('hubscale');
    const bundle = bundleInstanceChild(root);
    env = {
      root,
      database: (name) => cluster.createDatabase(name),
      balancer: (upstreams, port) => startNginx({ upstreams, port }),
      instance: (o) => spawnInstance(bundle, o),
      log: () => undefined,
    };
  }, 120_000);
  afterAll(() => {
    cluster?.stop();
    if (root) cleanup(root);
  });

  it.each<ScaleKind>(['sqlite', 'pg1', 'pg2'])(
    '%s: every terminal syncs every round and the hub holds each journal row once',
    async (kind) => {
      const r = await runScale(env, kind, terminals, { rounds: 2, concurrency: 6, issuer: ISSUER });
      expect(r.errors).toBe(0);
      expect(r.pending).toBe(0);
      expect(r.expected).toBe(12 * 5 * 2);
      expect(r.held).toBe(r.expected);
      expect(r.rounds).toHaveLength(2);
    },
    120_000,
  );
});
