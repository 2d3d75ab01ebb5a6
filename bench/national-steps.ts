// The steps of the national benchmark (bench/national.ts), each run in a process of its own so that its
// peak memory (process.resourceUsage().maxRSS) is that step's alone:
//   hub-import <json>   the hub imports N generated cards (publisher.publishWhitelist, the operator's path)
//                       or, with `direct`, gets N rows written straight into its state (to time the
//                       snapshot build alone), then builds the whitelist snapshot;
//   hub-serve <argv…>   the CLI's `hub serve`, in this process;
//   terminal <json>     a terminal (KioskData + SyncClient) pulls the whitelist from the hub over HTTP,
//                       installs the snapshot, then serves lookups after prewarm, beside a raw
//                       better-sqlite3 point lookup on the same table.
// Every step prints one JSON line last on stdout. The smoke test (test/sync/national-smoke.test.ts) runs
// the same file bundled.
import { createPrivateKey } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { openHubDir } from '../hub/hub-dir.js';
import { main as cli } from '../main/cli/index.js';
import { SyncClient } from '../main/core/sync/client.js';
import { kioskDataJournal, kioskDataRoots, kioskDataSinks } from '../main/core/sync/kiosk-data-sinks.js';
import { softwareSigner } from '../protocol/http-signature.js';
import type { CardRowInput } from '../whitelist/feed-ops.js';
import { KioskData } from '../whitelist/kiosk-data.js';
import { IndexKey } from '../whitelist/privacy.js';
import { summarize } from './harness.js';
import { unpackRows, type RowsWorkerData } from './national-rows-worker.js';
import { BENCH_ISSUER, benchRecord, benchSerial, benchSpki } from './whitelist-data.js';

export interface HubImportArgs {
  dir: string;
  rows: number;
  /** Write the cards' rows into the hub's state directly instead of publishing them (no batches). */
  direct?: boolean;
}

export interface HubImportResult {
  importS: number;
  buildS: number;
  wireBytes: number;
  maxRssMb: number;
}

export interface TerminalArgs {
  root: string;
  hubUrl: string;
  rootFile: string;
  indexKeyFile: string;
  terminalId: string;
  keyFile: string;
  rows: number;
  samples: number;
  /** Fetch the snapshot by content address (default true, as configured terminals do) or inline. */
  contentAddressed?: boolean;
}

export interface TerminalResult {
  rows: number;
  installS: number;
  /** Peak RSS of the terminal process up to the end of the install. */
  installMaxRssMb: number;
  fileBytes: number;
  prewarmS: number;
  hit: { p50: number; p99: number; found: number };
  miss: { p50: number; p99: number; found: number };
  rawHit: { p50: number; p99: number; found: number };
  rawMiss: { p50: number; p99: number; found: number };
  maxRssMb: number;
}

const maxRssMb = () => process.resourceUsage().maxRSS / 1024;

export function* benchCards(rows: number): Generator<CardRowInput> {
  for (let i = 0; i < rows; i++)
    yield {
      issuerKeyId: BENCH_ISSUER,
      serial: benchSerial(i),
      spkiSha256: benchSpki(i),
      record: benchRecord(i),
    };
}

async function hubImport(a: HubImportArgs, log: (l: string) => void): Promise<HubImportResult> {
  const hub = openHubDir(a.dir, { keyStore: 'file' });
  try {
    const t0 = performance.now();
    if (a.direct) {
      // The state a hub holds after importing these cards (real keys and sealed records, so that the
      // terminal's lookups find them), written without the publish path's batches. Row keys are keyed
      // hashes, so the rows arrive in random key order: they are appended to a scratch table first and
      // moved into the state table sorted (SQLite's external merge sort), which keeps a 100-million-row
      // load linear instead of a random B-tree insert per row.
      const db = hub.sqlite!.db;
      const scratch = join(a.dir, 'direct-load.db');
      db.prepare('ATTACH DATABASE ? AS load').run(scratch);
      db.pragma('load.journal_mode = OFF');
      db.pragma('load.synchronous = OFF');
      db.pragma('threads = 2');
      // Rows appended to an empty table need no rollback journal pages and no second copy in a WAL.
      db.pragma('journal_mode = DELETE');
      db.exec('CREATE TABLE load.row (k BLOB NOT NULL, v BLOB NOT NULL)');
      const insert = db.prepare('INSERT INTO load.row (k, v) VALUES (?, ?)');
      const write = db.transaction((packed: Uint8Array) => {
        let n = 0;
        for (const row of unpackRows(packed)) n += insert.run(row.k, row.v).changes;
        return n;
      });
      db.pragma('cache_size = -262144'); // 256 MiB: part of this process's peak RSS
      // Sealing is the cost (tens of µs a row); workers seal, this thread only writes. The worker file
      // sits beside this one with the same extension (dist/ .js, the smoke test's bundles .cjs).
      const here = fileURLToPath(import.meta.url);
      const rowsWorkerFile = join(dirname(here), `national-rows-worker${extname(here)}`);
      const threads = Math.max(1, Math.min(4, availableParallelism()));
      const indexKeySecret = readFileSync(hub.indexKeyFile, 'utf8');
      let written = 0;
      let nextLog = 10_000_000;
      await Promise.all(
        Array.from({ length: threads }, (_, w) => {
          const from = Math.floor((a.rows * w) / threads);
          const to = Math.floor((a.rows * (w + 1)) / threads);
          const worker = new Worker(rowsWorkerFile, {
            workerData: { indexKeySecret, from, to, chunkRows: 20_000 } satisfies RowsWorkerData,
          });
          return new Promise<void>((resolve, reject) => {
            worker.on('message', (packed: Uint8Array | null) => {
              if (packed === null) return void worker.terminate().then(() => resolve(), reject);
              written += write(packed);
              if (written >= nextLog) {
                log(`national: hub state ${written} rows appended`);
                nextLog += 10_000_000;
              }
              worker.postMessage('next');
            });
            worker.once('error', reject);
          });
        }),
      );
      if (written !== a.rows) throw new Error(`direct load wrote ${written} of ${a.rows} rows`);
      log(`national: hub state appended in ${((performance.now() - t0) / 1000).toFixed(1)} s; sorting`);
      db.prepare(
        "INSERT INTO state (feed, k, h, v, scope) SELECT 'whitelist', k, ?, v, ? FROM load.row ORDER BY k",
      ).run(Buffer.alloc(32), BENCH_ISSUER);
      db.exec('DETACH DATABASE load');
      rmSync(scratch, { force: true });
      db.pragma('journal_mode = WAL');
      db.prepare("UPDATE feed SET head = ? WHERE feed = 'whitelist'").run(a.rows);
      hub.sqlite!.recount('whitelist');
    } else {
      const summary = hub.publisher.publishWhitelist(benchCards(a.rows), 'national benchmark');
      log(`national: hub published ${summary.puts} rows in ${summary.batches} batches`);
    }
    const importS = (performance.now() - t0) / 1000;
    log(`national: hub state of ${a.rows} rows in ${importS.toFixed(1)} s`);
    const b0 = performance.now();
    const built = await hub.publisher.snapshotFile('whitelist');
    const buildS = (performance.now() - b0) / 1000;
    const wireBytes = statSync(built.file).size;
    log(`national: snapshot built in ${buildS.toFixed(1)} s (${(wireBytes / 1e6).toFixed(0)} MB)`);
    return { importS, buildS, wireBytes, maxRssMb: maxRssMb() };
  } finally {
    hub.close();
  }
}

function timeEach<T>(inputs: T[], fn: (x: T) => boolean): { p50: number; p99: number; found: number } {
  const us: number[] = [];
  let found = 0;
  for (const x of inputs) {
    const t = performance.now();
    if (fn(x)) found++;
    us.push((performance.now() - t) * 1000);
  }
  const s = summarize(us);
  return { p50: s.p50, p99: s.p99, found };
}

async function terminal(a: TerminalArgs, log: (l: string) => void): Promise<TerminalResult> {
  const indexKey = IndexKey.fromSecret(readFileSync(a.indexKeyFile, 'utf8'));
  const data = KioskData.open({ dir: join(a.root, a.terminalId), indexKey, root: readFileSync(a.rootFile) });
  const client = new SyncClient({
    hubUrl: a.hubUrl,
    signer: softwareSigner(a.terminalId, createPrivateKey(readFileSync(a.keyFile))),
    sinks: kioskDataSinks(data),
    journal: kioskDataJournal(data),
    roots: kioskDataRoots(data),
    stagingDir: join(a.root, a.terminalId, 'staging'),
    // As a terminal is configured by default (config/schema.ts sync.contentAddressed): the checkpoint
    // first, then the snapshot fetched by address and staged whole before it is installed. Timeouts are
    // the client's defaults.
    contentAddressed: a.contentAddressed ?? true,
  });
  try {
    const t0 = performance.now();
    const r = await client.pull('whitelist');
    const installS = (performance.now() - t0) / 1000;
    const installMaxRssMb = maxRssMb();
    const rows = data.whitelist.rowCount();
    if (!r.snapshot || rows !== a.rows)
      throw new Error(`snapshot did not install whole: ${rows} of ${a.rows} rows (snapshot ${r.snapshot})`);
    log(
      `national: terminal installed ${rows} rows in ${installS.toFixed(1)} s, peak RSS ${installMaxRssMb.toFixed(0)} MB`,
    );
    const fileBytes = statSync(data.whitelist.currentPath).size;

    const p0 = performance.now();
    await data.prewarm();
    const prewarmS = (performance.now() - p0) / 1000;
    const pick = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo));
    const inputs = (lo: number, hi: number) =>
      Array.from({ length: a.samples }, () => {
        const i = pick(lo, hi);
        return { issuerKeyId: BENCH_ISSUER, serial: benchSerial(i), spkiSha256: benchSpki(i) };
      });
    const lookup = (x: ReturnType<typeof inputs>[number]) => data.lookup(x).card !== null;
    // Warm-up: V8 tiers the lookup up over thousands of calls; a terminal serves for hours.
    timeEach(inputs(0, a.rows), lookup);
    const hit = timeEach(inputs(0, a.rows), lookup);
    const miss = timeEach(inputs(a.rows * 2, a.rows * 3), lookup);

    // The same-run baseline: a bare point lookup on the same table, key already derived.
    const raw = new Database(data.whitelist.currentPath, { readonly: true });
    try {
      const get = raw.prepare('SELECT v FROM row WHERE k = ?').pluck();
      const keys = (xs: ReturnType<typeof inputs>) =>
        xs.map((x) => indexKey.cardKey(x.issuerKeyId, x.serial));
      const rawLookup = (k: Buffer) => get.get(k) !== undefined;
      timeEach(keys(inputs(0, a.rows)), rawLookup);
      const rawHit = timeEach(keys(inputs(0, a.rows)), rawLookup);
      const rawMiss = timeEach(keys(inputs(a.rows * 2, a.rows * 3)), rawLookup);
      return {
        rows,
        installS,
        installMaxRssMb,
        fileBytes,
        prewarmS,
        hit,
        miss,
        rawHit,
        rawMiss,
        maxRssMb: maxRssMb(),
      };
    } finally {
      raw.close();
    }
  } finally {
    await client.stop();
    data.close();
  }
}

/** Runs one step as this process's work: `node national-steps.js --child <step> <arg…>`. */
export async function childMain(argv: string[]): Promise<void> {
  const [flag, step, ...args] = argv;
  if (flag !== '--child') return;
  const log = (l: string) => process.stderr.write(`${l}\n`);
  if (step === 'hub-serve') {
    process.exitCode = await cli(['hub', 'serve', ...args]);
    return;
  }
  const input = JSON.parse(args[0]!) as HubImportArgs & TerminalArgs;
  const out = step === 'hub-import' ? await hubImport(input, log) : await terminal(input, log);
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  childMain(process.argv.slice(2)).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  });
