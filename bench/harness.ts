// Benchmark harness: warm up, repeat, report medians and p99. Metrics are named `<suite>.<metric>`
// and printed as one JSON object by `npm run bench -- --json`. Targets live in the docs, never in
// timed unit tests: this machine is shared and noisy, so medians and ratios matter.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

export interface Stats {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(samples: number[]): Stats {
  if (samples.length === 0) throw new Error('no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
  return {
    n: sorted.length,
    min: sorted[0]!,
    p50: at(0.5),
    p90: at(0.9),
    p99: at(0.99),
    max: sorted[sorted.length - 1]!,
    mean: sorted.reduce((s, v) => s + v, 0) / sorted.length,
  };
}

export interface MeasureOptions {
  warmup?: number;
  iterations?: number;
}

/** Times `fn` in milliseconds: `warmup` unrecorded runs, then `iterations` recorded ones. */
export async function measure(fn: () => unknown, options: MeasureOptions = {}): Promise<Stats> {
  const { warmup = 5, iterations = 50 } = options;
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    await fn();
    samples.push(performance.now() - start);
  }
  return summarize(samples);
}

export type Metrics = Record<string, number | string>;

export interface BenchContext {
  /** True for `--quick`: smaller data sets, for CI smoke runs. */
  quick: boolean;
  /** Progress and per-stage breakdowns go here (stderr), never into the JSON. */
  log: (line: string) => void;
}

export interface BenchSuite {
  run(ctx: BenchContext): Promise<Metrics>;
}

/**
 * Runs a bench module as a child process (`node <module> --child …args`) and returns the JSON of its
 * last stdout line. Suites that need their own pcscd or PKCS#11 process use it: libpcsclite binds one
 * pcscd per process, and a benchmark must not inherit another suite's token state. `forwardStderr` passes
 * the child's progress lines on as they come.
 */
export function runBenchChild<T>(
  moduleUrl: string,
  args: string[],
  label: string,
  options: { forwardStderr?: boolean } = {},
): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(moduleUrl), '--child', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, JPKI_LOG_LEVEL: 'silent' },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => {
      if (options.forwardStderr) process.stderr.write(chunk);
      err += chunk.toString();
    });
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`${label} child failed (${code}): ${err.slice(-2000)}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as T);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  });
}
