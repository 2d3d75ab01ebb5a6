// hubscale.* — a fleet of simulated terminals (own keys, real HTTP, loopback only) syncing in rounds
// against three hub deployments in the same run: one `hub serve` on SQLite, one on PostgreSQL, and two
// on PostgreSQL behind nginx (round robin, not pinned). Per deployment: errors, first and steady round
// time, requests per second, journal rows held against rows written (exact: none lost, none doubled);
// and the ratios of the PostgreSQL deployments' steady round to SQLite's. PostgreSQL and nginx are
// started privately (test/support/), PostgreSQL with its default durability (fsync, synchronous commit).
// Sizes: JPKI_BENCH_HUBSCALE_TERMINALS (default 10,000; --quick 200), JPKI_BENCH_HUBSCALE_ROUNDS (3),
// JPKI_BENCH_HUBSCALE_CONCURRENCY (terminals syncing at once, 250: at 1,000 this machine's hub queued
// requests past Node's header timeout), JPKI_BENCH_HUBSCALE_KINDS (sqlite,pg1,pg2).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNginx } from '../test/support/nginx.js';
import { startPostgres } from '../test/support/postgres.js';
import type { BenchContext, Metrics } from './harness.js';
import { runScale, scaleTerminals, steadyRound, type ScaleKind, type ScaleResult } from './hub-scale-run.js';
import { ISSUER, spawnHub } from './sync-setup.js';

export async function run(ctx: BenchContext): Promise<Metrics> {
  const env = (k: string, full: number, small: number) =>
    Number(process.env[k] ?? (ctx.quick ? small : full));
  const n = env('JPKI_BENCH_HUBSCALE_TERMINALS', 10_000, 200);
  const rounds = env('JPKI_BENCH_HUBSCALE_ROUNDS', 3, 3);
  const concurrency = env('JPKI_BENCH_HUBSCALE_CONCURRENCY', 250, 100);
  const kinds = (process.env.JPKI_BENCH_HUBSCALE_KINDS ?? 'sqlite,pg1,pg2').split(',') as ScaleKind[];
  const root = mkdtempSync(join(tmpdir(), 'jpki-bench-hubscale-'));
  const cluster = await startPostgres({ settings: { max_connections: 100 } });
  // A bench run stopped from outside (its time bound) stops its database server too.
  const stopOnSignal = () => {
    cluster.stop();
    rmSync(root, { recursive: true, force: true });
    process.exit(143);
  };
  process.once('SIGTERM', stopOnSignal);
  process.once('SIGINT', stopOnSignal);
  try {
    const t0 = Date.now();
    const terminals = scaleTerminals(n);
    ctx.log(`hubscale: ${n} terminal keys in ${Date.now() - t0} ms`);
    const results = new Map<ScaleKind, ScaleResult>();
    for (const kind of kinds) {
      const r = await runScale(
        {
          root,
          database: (name) => cluster.createDatabase(name),
          balancer: (upstreams, port) =>
            startNginx({ upstreams, port, workerConnections: Math.max(4096, 4 * concurrency) }),
          instance: ({ dir, store, port, authority, indexKeyFile }) =>
            spawnHub(dir, indexKeyFile, port, [
              '--authority',
              authority,
              ...(store ? ['--store', store] : []),
            ]),
          log: ctx.log,
        },
        kind,
        terminals,
        { rounds, concurrency, issuer: ISSUER },
      );
      results.set(kind, r);
      ctx.log(
        `hubscale ${kind}: steady round ${steadyRound(r).toFixed(0)} ms, ${r.errors} errors, rows held ${r.held}/${r.expected}, pending ${r.pending}`,
      );
    }
    const m: Metrics = {
      'hubscale.terminals': n,
      'hubscale.rounds': rounds,
      'hubscale.concurrency': concurrency,
    };
    for (const [kind, r] of results) {
      m[`hubscale.${kind}_errors`] = r.errors + (r.held !== r.expected || r.pending !== 0 ? 1 : 0);
      m[`hubscale.${kind}_first_round_ms`] = r.rounds[0]!;
      m[`hubscale.${kind}_steady_round_ms`] = steadyRound(r);
      m[`hubscale.${kind}_requests_per_s`] = r.requestsPerSecond;
      m[`hubscale.${kind}_journal_rows_held`] = r.held;
      m[`hubscale.${kind}_journal_rows_expected`] = r.expected;
    }
    const base = results.get('sqlite');
    if (base)
      for (const kind of ['pg1', 'pg2'] as const) {
        const r = results.get(kind);
        if (r) m[`hubscale.${kind}_vs_sqlite_steady_round_ratio`] = steadyRound(r) / steadyRound(base);
      }
    return m;
  } finally {
    cluster.stop();
    rmSync(root, { recursive: true, force: true });
  }
}
