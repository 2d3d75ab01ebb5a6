// national.* — a national-scale whitelist end to end on this machine, each side in its own process:
//   hub import (publisher.publishWhitelist of N generated cards) → snapshot built → served over real HTTP
//   by `hub serve` → streamed to a terminal's sync client → verified and installed → lookups after prewarm,
//   beside a raw better-sqlite3 point lookup on the same table (the ratio is what to compare across runs).
// Parts (JPKI_BENCH_NATIONAL_PARTS, default `e2e,build`):
//   e2e    the chain above at JPKI_BENCH_NATIONAL_ROWS rows (default 100,000,000; --quick 100,000);
//   build  the snapshot build alone on a state of JPKI_BENCH_NATIONAL_BUILD_ROWS rows written directly
//          (default 10,000,000; --quick 100,000): national.snapshot_build_direct_s.
// JPKI_BENCH_NATIONAL_IMPORT=direct writes the e2e hub state directly too (the cards' real rows, no
// batches): the terminal side at sizes where the publish path's memory or time does not fit the run.
// JPKI_BENCH_NATIONAL_CONTENT=0: the terminal takes the snapshot inline in the pull answer instead of by
// content address (its configured default).
// JPKI_BENCH_NATIONAL_DIR: where the data goes (default the temp folder; 100 M rows need ~60 GB);
// JPKI_BENCH_NATIONAL_KEEP=1 leaves it there (the log names the folder) to look at the files afterwards.
// Targets (docs/sync.md): 100 M rows ≤ 100 bytes/row, install ≤ 10 min, terminal RSS ≤ 300 MB, hit p99 ≤ 50 µs;
// 10 M-row snapshot build ≤ 30 s.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openHubDir } from '../hub/hub-dir.js';
import type { BenchContext, Metrics } from './harness.js';
import type { HubImportArgs, HubImportResult, TerminalArgs, TerminalResult } from './national-steps.js';

function envCount(name: string, fallback: number): number {
  const v = process.env[name];
  return v && /^\d+$/.test(v) ? Number(v) : fallback;
}

/** How to start a step of national-steps (the bench runs dist/, the smoke test a bundle). */
export interface StepRunner {
  script: string;
  /** Extra node options for the hub import (its in-memory publish path needs a big heap at scale). */
  hubNodeOptions?: string[];
  /** More environment for the steps (a bundle finds the project's packages through NODE_PATH). */
  env?: Record<string, string>;
}

function stepArgs(runner: StepRunner, step: string, args: string[], heap = false): string[] {
  return [...(heap ? (runner.hubNodeOptions ?? []) : []), runner.script, '--child', step, ...args];
}

function runStep<T>(
  runner: StepRunner,
  step: string,
  input: object,
  log: (l: string) => void,
  heap = false,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, stepArgs(runner, step, [JSON.stringify(input)], heap), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...runner.env, JPKI_LOG_LEVEL: 'silent' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      for (const line of c.toString().split('\n')) if (line.startsWith('national:')) log(line);
    });
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`national ${step} failed (${code}): ${err.slice(-2000)}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as T);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}

/** Peak RSS of another process so far (Linux VmHWM), in MB; 0 where /proc is missing. */
function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

export interface E2eResult {
  hub: HubImportResult;
  hubServePeakRssMb: number;
  terminal: TerminalResult;
}

/** The whole chain at `rows` rows under `root`. */
export async function endToEnd(
  runner: StepRunner,
  root: string,
  rows: number,
  samples: number,
  log: (l: string) => void,
  /** The hub's state written directly instead of through publishWhitelist (see national-steps.ts). */
  direct = false,
): Promise<E2eResult> {
  mkdirSync(root, { recursive: true });
  const hubDir = join(root, 'hub');
  const hub = await runStep<HubImportResult>(
    runner,
    'hub-import',
    { dir: hubDir, rows, direct } satisfies HubImportArgs,
    log,
    true,
  );
  // The terminal's identity, registered at the hub before it serves.
  const terminalId = 'national-term';
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const keyFile = join(root, 'terminal-key.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const dir = openHubDir(hubDir, { keyStore: 'file' });
  const { rootFile, indexKeyFile } = dir;
  try {
    dir.store.registerTerminal(
      {
        terminalId,
        publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
        siteId: 'national',
        gateId: 'gate-1',
        zone: 'main',
        siteKind: 'stadium-gate',
      },
      Date.now(),
    );
  } finally {
    dir.close();
  }
  const serve = spawn(
    process.execPath,
    // A fresh terminal always starts from a snapshot, whatever the size.
    stepArgs(runner, 'hub-serve', [
      '--dir',
      hubDir,
      '--index-key',
      indexKeyFile,
      '--port',
      '0',
      '--snapshot-min-ops',
      '0',
    ]),
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...runner.env, JPKI_LOG_LEVEL: 'silent' } },
  );
  try {
    const hubUrl = await new Promise<string>((resolve, reject) => {
      let err = '';
      serve.stderr!.on('data', (c: Buffer) => {
        err += c.toString();
        const m = /serving (http:\/\/\S+)/.exec(err);
        if (m) resolve(m[1]!);
      });
      serve.once('exit', (code) => reject(new Error(`hub serve exited (${code}): ${err.slice(-2000)}`)));
    });
    const terminal = await runStep<TerminalResult>(
      runner,
      'terminal',
      {
        root,
        hubUrl,
        rootFile,
        indexKeyFile,
        terminalId,
        keyFile,
        rows,
        samples,
        contentAddressed: process.env.JPKI_BENCH_NATIONAL_CONTENT !== '0',
      } satisfies TerminalArgs,
      log,
    );
    return { hub, hubServePeakRssMb: peakRssMb(serve.pid!), terminal };
  } finally {
    if (serve.exitCode === null) {
      const done = new Promise((r) => serve.once('exit', r));
      serve.kill('SIGTERM');
      await done;
    }
  }
}

export async function run(ctx: BenchContext): Promise<Metrics> {
  const parts = (process.env.JPKI_BENCH_NATIONAL_PARTS ?? 'e2e,build').split(',');
  const rows = envCount('JPKI_BENCH_NATIONAL_ROWS', ctx.quick ? 100_000 : 100_000_000);
  const buildRows = envCount('JPKI_BENCH_NATIONAL_BUILD_ROWS', ctx.quick ? 100_000 : 10_000_000);
  const samples = ctx.quick ? 5_000 : 20_000;
  const runner: StepRunner = {
    script: fileURLToPath(new URL('./national-steps.js', import.meta.url)),
    hubNodeOptions: [`--max-old-space-size=${envCount('JPKI_BENCH_NATIONAL_HUB_HEAP_MB', 16_384)}`],
  };
  const root = mkdtempSync(join(process.env.JPKI_BENCH_NATIONAL_DIR ?? tmpdir(), 'jpki-bench-national-'));
  const metrics: Metrics = {};
  try {
    if (parts.includes('build')) {
      const b = await runStep<HubImportResult>(
        runner,
        'hub-import',
        { dir: join(root, 'hub-direct'), rows: buildRows, direct: true } satisfies HubImportArgs,
        ctx.log,
        true,
      );
      rmSync(join(root, 'hub-direct'), { recursive: true, force: true });
      Object.assign(metrics, {
        'national.snapshot_build_direct_rows': buildRows,
        'national.snapshot_build_direct_s': b.buildS,
        'national.snapshot_build_direct_peak_rss_mb': b.maxRssMb,
        'national.snapshot_build_direct_wire_mb': b.wireBytes / 1e6,
      });
    }
    if (parts.includes('e2e')) {
      const direct = process.env.JPKI_BENCH_NATIONAL_IMPORT === 'direct';
      const r = await endToEnd(runner, root, rows, samples, ctx.log, direct);
      const t = r.terminal;
      if (
        t.hit.found !== samples ||
        t.miss.found !== 0 ||
        t.rawHit.found !== samples ||
        t.rawMiss.found !== 0
      )
        throw new Error(`lookup check failed: ${JSON.stringify({ hit: t.hit, miss: t.miss })}`);
      Object.assign(metrics, {
        'national.rows': rows,
        // With JPKI_BENCH_NATIONAL_IMPORT=direct the state is written, not published: another metric.
        [direct ? 'national.hub_direct_load_s' : 'national.hub_import_s']: r.hub.importS,
        'national.snapshot_build_s': r.hub.buildS,
        'national.snapshot_wire_mb': r.hub.wireBytes / 1e6,
        'national.hub_peak_rss_mb': Math.max(r.hub.maxRssMb, r.hubServePeakRssMb),
        'national.hub_import_peak_rss_mb': r.hub.maxRssMb,
        'national.hub_serve_peak_rss_mb': r.hubServePeakRssMb,
        'national.install_s': t.installS,
        'national.terminal_peak_rss_mb': t.installMaxRssMb,
        'national.terminal_lookup_rss_mb': t.maxRssMb,
        'national.bytes_per_row': t.fileBytes / rows,
        'national.prewarm_s': t.prewarmS,
        'national.lookup_hit_p50_us': t.hit.p50,
        'national.lookup_hit_p99_us': t.hit.p99,
        'national.lookup_miss_p50_us': t.miss.p50,
        'national.lookup_miss_p99_us': t.miss.p99,
        'national.lookup_raw_hit_p50_us': t.rawHit.p50,
        'national.lookup_raw_hit_p99_us': t.rawHit.p99,
        'national.lookup_raw_miss_p50_us': t.rawMiss.p50,
        'national.lookup_raw_miss_p99_us': t.rawMiss.p99,
        'national.lookup_hit_p99_ratio': t.hit.p99 / t.rawHit.p99,
        'national.lookup_miss_p99_ratio': t.miss.p99 / t.rawMiss.p99,
      });
    }
  } finally {
    if (process.env.JPKI_BENCH_NATIONAL_KEEP === '1') ctx.log(`national: data kept in ${root}`);
    else rmSync(root, { recursive: true, force: true });
  }
  return metrics;
}
