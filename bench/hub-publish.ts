// hubpublish.* — the hub publishing a complete revocation list and a whitelist import in bounded memory.
// Each measured step runs in its own child process (this file run directly: `node dist/bench/hub-publish.js
// --child <step> <dir> <n>`), so that its peak RSS (`process.resourceUsage().maxRSS`) is the hub work's
// alone: (1) N revocations published into a fresh SQLite hub, (2) the same list again with 1 % of the
// entries changed and 1 % removed (the diff path), (3) a whitelist file of W rows imported through
// `importWhitelist` into a fresh hub; and the same-run baseline: a raw better-sqlite3 bulk insert of N
// 32-byte keys in key order. Sizes: JPKI_BENCH_HUBPUBLISH_REVOCATIONS (default 10,000,000; --quick
// 100,000), JPKI_BENCH_HUBPUBLISH_WHITELIST (default 1,000,000; --quick 20,000). The publisher key is a
// software Ed25519 key (a hub's HSM signs a batch in about a millisecond: a few hundred batches).
import { createHash, generateKeyPairSync } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { runBenchChild, type BenchContext, type Metrics } from './harness.js';
import { Publisher, type RevocationEntry } from '../hub/publisher.js';
import { SqliteHubStore } from '../hub/sqlite-store.js';
import { PgHubStore } from '../hub/pg-store.js';
import type { HubStore } from '../hub/store.js';
import { startPostgres, type PgCluster } from '../test/support/postgres.js';
import { importWhitelist } from '../hub/import-whitelist.js';
import { IndexKey } from '../whitelist/privacy.js';
import { RevocationReasons } from '../protocol/feed-format.js';

const ISSUER = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const INDEX_SECRET = 'hubpublish bench index key, 32 characters or more';

interface StepResult {
  seconds: number;
  /** CPU seconds (user + system) of the step's process: the machine is shared, wall time is not all ours. */
  cpuSeconds: number;
  peakRssMb: number;
  puts: number;
  dels: number;
  unchanged: number;
  batches: number;
}

/** The bench's revocation list: entry i, and in the second publication 1 % changed and 1 % removed. */
function* revocations(n: number, diff: boolean): Generator<RevocationEntry> {
  for (let i = 0; i < n; i++) {
    if (diff && i % 100 === 1) continue;
    const changed = diff && i % 100 === 0;
    yield {
      issuerKeyId: ISSUER,
      serial: (0x1000000000 + i).toString(16),
      at: 1_700_000_000 + (i % 86_400) + (changed ? 1 : 0),
      reason: RevocationReasons[i % 3]!,
    };
  }
}

function publisher(dir: string, url: string | undefined): { publisher: Publisher; store: HubStore } {
  const store = url ? new PgHubStore(url) : new SqliteHubStore(join(dir, 'hub.db'));
  const { privateKey } = generateKeyPairSync('ed25519');
  return {
    store,
    publisher: new Publisher(store, privateKey, IndexKey.fromSecret(INDEX_SECRET), join(dir, 'snapshots')),
  };
}

const peakRssMb = () => process.resourceUsage().maxRSS / 1024;
/** CPU seconds of this process since `from` (process.cpuUsage() at the step's start). */
const cpuSeconds = (from: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(from);
  return (u.user + u.system) / 1e6;
};

async function childStep(step: string, dir: string, n: number, url?: string): Promise<StepResult> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  if (step === 'baseline') {
    const db = new Database(join(dir, 'baseline.db'));
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID');
    const ins = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
    const v = Buffer.alloc(5);
    // Keys in order (what a sorted bulk load costs at best), 32 bytes like the hub's row keys.
    const k = Buffer.alloc(32);
    const load = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        k.writeUInt32BE(i, 28);
        ins.run(k, v);
      }
    });
    for (let i = 0; i < n; i += 100_000) load(i, Math.min(n, i + 100_000));
    db.close();
    return {
      seconds: (performance.now() - t0) / 1000,
      peakRssMb: peakRssMb(),
      cpuSeconds: cpuSeconds(c0),
      puts: n,
      dels: 0,
      unchanged: 0,
      batches: 0,
    };
  }
  const { publisher: p, store } = publisher(dir, url);
  try {
    const s =
      step === 'whitelist'
        ? await importWhitelist(p, join(dir, 'whitelist.ndjson'))
        : p.publishRevocations(ISSUER, revocations(n, step === 'diff'), `bench ${step}`);
    return {
      seconds: (performance.now() - t0) / 1000,
      peakRssMb: peakRssMb(),
      cpuSeconds: cpuSeconds(c0),
      puts: s.puts,
      dels: s.dels,
      unchanged: s.unchanged,
      batches: s.batches,
    };
  } finally {
    store.close();
  }
}

async function writeWhitelist(file: string, n: number): Promise<void> {
  const out = createWriteStream(file);
  for (let i = 0; i < n; i++) {
    const line = JSON.stringify({
      issuerKeyId: ISSUER,
      serial: (0x2000000000 + i).toString(16),
      spkiSha256: createHash('sha256').update(`spki ${i}`).digest('hex'),
      subject: `S${i}`,
      entitlements: [{ kind: 'member', memberId: `m${i}` }],
    });
    if (!out.write(line + '\n')) await once(out, 'drain');
  }
  out.end();
  await once(out, 'close');
}

export async function run(ctx: BenchContext): Promise<Metrics> {
  const env = (k: string, full: number, small: number) =>
    Number(process.env[k] ?? (ctx.quick ? small : full));
  const n = env('JPKI_BENCH_HUBPUBLISH_REVOCATIONS', 10_000_000, 100_000);
  const w = env('JPKI_BENCH_HUBPUBLISH_WHITELIST', 1_000_000, 20_000);
  const root = mkdtempSync(join(tmpdir(), 'jpki-bench-hubpublish-'));
  let cluster: PgCluster | null = null;
  const step = (name: string, dir: string, count: number, url?: string) => {
    mkdirSync(dir, { recursive: true });
    return runBenchChild<StepResult>(
      import.meta.url,
      [name, dir, String(count), ...(url ? [url] : [])],
      `hubpublish ${name}`,
      {
        forwardStderr: true,
      },
    );
  };
  try {
    const hub = join(root, 'hub');
    const first = await step('revocations', hub, n);
    ctx.log(
      `hubpublish: ${n} revocations in ${first.seconds.toFixed(1)} s, peak RSS ${first.peakRssMb.toFixed(0)} MB`,
    );
    const diff = await step('diff', hub, n);
    ctx.log(
      `hubpublish: diff (${diff.puts} puts, ${diff.dels} dels, ${diff.unchanged} unchanged) in ${diff.seconds.toFixed(1)} s, peak RSS ${diff.peakRssMb.toFixed(0)} MB`,
    );
    const base = await step('baseline', join(root, 'baseline'), n);
    ctx.log(`hubpublish: baseline bulk insert of ${n} keys in ${base.seconds.toFixed(1)} s`);
    const wlDir = join(root, 'whitelist');
    mkdirSync(wlDir, { recursive: true });
    await writeWhitelist(join(wlDir, 'whitelist.ndjson'), w);
    const wl = await step('whitelist', wlDir, w);
    ctx.log(
      `hubpublish: whitelist of ${w} rows in ${wl.seconds.toFixed(1)} s, peak RSS ${wl.peakRssMb.toFixed(0)} MB`,
    );
    if (
      first.puts !== n ||
      diff.puts !== Math.ceil(n / 100) ||
      diff.dels !== Math.ceil((n - 1) / 100) ||
      wl.puts !== w
    )
      throw new Error(`hubpublish: unexpected counts ${JSON.stringify({ first, diff, wl })}`);
    // Optionally the same on PostgreSQL (a private cluster, default durability), report only.
    const pgN = Number(process.env.JPKI_BENCH_HUBPUBLISH_PG_REVOCATIONS ?? 0);
    const pg: Metrics = {};
    if (pgN > 0) {
      cluster = await startPostgres();
      const url = await cluster.createDatabase('hubpublish');
      const pgFirst = await step('revocations', join(root, 'pg'), pgN, url);
      const pgDiff = await step('diff', join(root, 'pg'), pgN, url);
      ctx.log(
        `hubpublish: PostgreSQL ${pgN} revocations in ${pgFirst.seconds.toFixed(1)} s (peak RSS ${pgFirst.peakRssMb.toFixed(0)} MB), diff ${pgDiff.seconds.toFixed(1)} s (${pgDiff.peakRssMb.toFixed(0)} MB)`,
      );
      Object.assign(pg, {
        'hubpublish.pg_revocations': pgN,
        'hubpublish.pg_revocations_publish_s': pgFirst.seconds,
        'hubpublish.pg_revocations_publish_cpu_s': pgFirst.cpuSeconds,
        'hubpublish.pg_revocations_peak_rss_mb': pgFirst.peakRssMb,
        'hubpublish.pg_revocations_diff_publish_s': pgDiff.seconds,
        'hubpublish.pg_revocations_diff_peak_rss_mb': pgDiff.peakRssMb,
      });
    }
    return {
      ...pg,
      'hubpublish.revocations': n,
      'hubpublish.revocations_publish_s': first.seconds,
      'hubpublish.revocations_publish_cpu_s': first.cpuSeconds,
      'hubpublish.revocations_peak_rss_mb': first.peakRssMb,
      'hubpublish.revocations_batches': first.batches,
      'hubpublish.revocations_diff_publish_s': diff.seconds,
      'hubpublish.revocations_diff_publish_cpu_s': diff.cpuSeconds,
      'hubpublish.revocations_diff_peak_rss_mb': diff.peakRssMb,
      'hubpublish.baseline_bulk_insert_s': base.seconds,
      'hubpublish.baseline_bulk_insert_cpu_s': base.cpuSeconds,
      'hubpublish.baseline_peak_rss_mb': base.peakRssMb,
      'hubpublish.revocations_publish_vs_baseline_ratio': first.seconds / base.seconds,
      'hubpublish.revocations_publish_vs_baseline_cpu_ratio': first.cpuSeconds / base.cpuSeconds,
      'hubpublish.whitelist_rows': w,
      'hubpublish.whitelist_import_s': wl.seconds,
      'hubpublish.whitelist_import_cpu_s': wl.cpuSeconds,
      'hubpublish.whitelist_peak_rss_mb': wl.peakRssMb,
    };
  } finally {
    cluster?.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--child') {
  childStep(process.argv[3]!, process.argv[4]!, Number(process.argv[5]), process.argv[6]).then(
    (r) => process.stdout.write(JSON.stringify(r) + '\n'),
    (error: unknown) => {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
