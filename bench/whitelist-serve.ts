// A fresh process that only serves lookups, as the terminal does: measures hit and miss latency and its
// resident memory. Run by bench/whitelist.ts; prints one JSON line.
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { KioskData } from '../whitelist/kiosk-data.js';
import { IndexKey } from '../whitelist/privacy.js';
import { summarize } from './harness.js';
import { BENCH_INDEX_KEY, BENCH_ISSUER, benchSerial, benchSpki } from './whitelist-data.js';

const [dir, rowsArg, samplesArg] = process.argv.slice(2);
const rows = Number(rowsArg);
const samples = Number(samplesArg);
const data = KioskData.open({ dir: dir!, indexKey: IndexKey.fromSecret(BENCH_INDEX_KEY) });
const pick = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo));
const inputs = (lo: number, hi: number) =>
  Array.from({ length: samples }, () => {
    const i = pick(lo, hi);
    return { issuerKeyId: BENCH_ISSUER, serial: benchSerial(i), spkiSha256: benchSpki(i) };
  });
const hits = inputs(0, rows);
const misses = inputs(rows * 2, rows * 3);

/**
 * Share of the whitelist file in the OS page cache (util-linux fincore, i.e. mincore(2)), or null where
 * fincore is missing. A lookup whose leaf page was evicted waits for the disk: this number says how far
 * a p99 measures the store and how far the machine's memory management.
 */
function residentPct(): number | null {
  try {
    const out = execFileSync(
      'fincore',
      ['--bytes', '--noheadings', '-o', 'RES,SIZE', data.whitelist.currentPath],
      {
        encoding: 'utf8',
      },
    );
    const [res, size] = out.trim().split(/\s+/).map(Number);
    return size ? (100 * res!) / size : null;
  } catch {
    return null;
  }
}

function time(list: typeof hits): { us: number[]; found: number } {
  const us: number[] = [];
  let found = 0;
  for (const input of list) {
    const t = performance.now();
    const r = data.lookup(input);
    us.push((performance.now() - t) * 1000);
    if (r.card) found++;
  }
  return { us, found };
}

// As the terminal does when it opens its stores (main/core/terminal/devices.ts).
const prewarmStarted = performance.now();
await data.prewarm();
const prewarmMs = performance.now() - prewarmStarted;
// Warm-up: a terminal serves for hours, so measure the optimised code (V8 tiers a function up over
// thousands of calls; 2,000 left the first measured phase visibly slower) and a used statement cache.
time(inputs(0, rows));
const residentBefore = residentPct();
const hit = time(hits);
const miss = time(misses);
const residentAfter = residentPct();
const h = summarize(hit.us);
const m = summarize(miss.us);
process.stdout.write(
  JSON.stringify({
    hitP50: h.p50,
    hitP99: h.p99,
    missP50: m.p50,
    missP99: m.p99,
    hitsFound: hit.found,
    missesFound: miss.found,
    rssMb: process.memoryUsage().rss / 2 ** 20,
    prewarmMs,
    residentBefore,
    residentAfter,
  }) + '\n',
);
data.close();
