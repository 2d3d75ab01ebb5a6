// Whitelist benchmark: snapshot import, lookups (hit/miss, decryption included), bytes per row,
// delta apply, resident memory of a lookup-serving process, and the journal's durability cost.
// Full size: 10 M whitelist rows and 1 M revocations (override with JPKI_BENCH_WL_ROWS /
// JPKI_BENCH_WL_REVOCATIONS); --quick: 50,000 / 10,000.
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import {
  publisherKeyId,
  signBatch,
  type FeedBatch,
  type SnapshotFeedName,
  type SnapshotRow,
  type WhitelistOp,
} from '../protocol/feed-format.js';
import { revocationRow, whitelistPutOp, whitelistRow } from '../whitelist/feed-ops.js';
import { SnapshotWriter } from '../protocol/snapshot-rows.js';
import { KioskData } from '../whitelist/kiosk-data.js';
import { IndexKey } from '../whitelist/privacy.js';
import { TerminalStore } from '../whitelist/terminal-store.js';
import { measure, type BenchContext, type Metrics } from './harness.js';
import { BENCH_INDEX_KEY, BENCH_ISSUER, benchRecord, benchSerial, benchSpki } from './whitelist-data.js';

const hub = generateKeyPairSync('ed25519');
const indexKey = IndexKey.fromSecret(BENCH_INDEX_KEY);

function envCount(name: string, fallback: number): number {
  const v = process.env[name];
  return v && /^\d+$/.test(v) ? Number(v) : fallback;
}

/**
 * Writes a snapshot of `n` rows in key order the way a hub would: rows are spread into 256 bucket files
 * by the first key byte, then each bucket is sorted in memory and appended.
 */
export function buildSnapshot(
  dir: string,
  feed: SnapshotFeedName,
  n: number,
  rowFor: (i: number) => SnapshotRow,
  log: (l: string) => void,
  publisherKey: KeyObject = hub.privateKey,
): { rowsFile: string; manifest: Buffer } {
  const bucketDir = mkdtempSync(join(dir, `${feed}-buckets-`));
  const fds = Array.from({ length: 256 }, (_, b) => openSync(join(bucketDir, String(b)), 'w'));
  const pending: Buffer[][] = Array.from({ length: 256 }, () => []);
  const sizes = new Array<number>(256).fill(0);
  const flush = (b: number) => {
    writeSync(fds[b]!, Buffer.concat(pending[b]!));
    pending[b] = [];
    sizes[b] = 0;
  };
  for (let i = 0; i < n; i++) {
    const { k, v } = rowFor(i);
    const b = k[0]!;
    const len = Buffer.alloc(2);
    len.writeUInt16BE(v.length);
    pending[b]!.push(k, len, v);
    sizes[b]! += 18 + v.length;
    if (sizes[b]! > 1 << 16) flush(b);
    if ((i + 1) % 1_000_000 === 0) log(`  ${feed}: ${i + 1} rows generated`);
  }
  for (let b = 0; b < 256; b++) {
    flush(b);
    closeSync(fds[b]!);
  }
  const rowsFile = join(dir, `${feed}.rows`);
  const writer = new SnapshotWriter(rowsFile, feed);
  for (let b = 0; b < 256; b++) {
    const buf = readFileSync(join(bucketDir, String(b)));
    const entries: SnapshotRow[] = [];
    for (let p = 0; p < buf.length;) {
      const vlen = buf.readUInt16BE(p + 16);
      entries.push({ k: buf.subarray(p, p + 16), v: buf.subarray(p + 18, p + 18 + vlen) });
      p += 18 + vlen;
    }
    entries.sort((x, y) => Buffer.compare(x.k, y.k));
    for (const e of entries) writer.add(e.k, e.v);
  }
  rmSync(bucketDir, { recursive: true, force: true });
  const { signed } = writer.finish(
    { epoch: `${feed}-bench`, seq: n, asOf: new Date().toISOString() },
    publisherKey,
  );
  return { rowsFile, manifest: signed };
}

function cardRow(i: number): SnapshotRow {
  return whitelistRow(indexKey, {
    issuerKeyId: BENCH_ISSUER,
    serial: benchSerial(i),
    spkiSha256: benchSpki(i),
    record: benchRecord(i),
  });
}

export async function run(ctx: BenchContext): Promise<Metrics> {
  const rows = envCount('JPKI_BENCH_WL_ROWS', ctx.quick ? 50_000 : 10_000_000);
  const revocations = envCount('JPKI_BENCH_WL_REVOCATIONS', ctx.quick ? 10_000 : 1_000_000);
  const samples = ctx.quick ? 5_000 : 20_000;
  const dir = mkdtempSync(join(tmpdir(), 'jpki-bench-whitelist-'));
  const storeDir = join(dir, 'store');
  const metrics: Metrics = { 'whitelist.rows': rows, 'whitelist.revocations': revocations };
  try {
    // 1. Snapshots (publisher side, not measured), then import on the terminal (measured).
    let t = performance.now();
    const wl = buildSnapshot(dir, 'whitelist', rows, cardRow, ctx.log);
    const rv = buildSnapshot(
      dir,
      'revocations',
      revocations,
      (i) =>
        revocationRow(indexKey, {
          issuerKeyId: BENCH_ISSUER,
          serial: benchSerial(i * 7),
          revokedAt: 1_750_000_000 + i,
          reason: 'affiliationChanged',
        }),
      ctx.log,
    );
    ctx.log(`  snapshots built by the "hub" in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    const trust = {
      publishers: [{ publicKey: hub.publicKey, feeds: ['whitelist', 'revocations'] as const }],
    };
    let data = KioskData.open({ dir: storeDir, indexKey, trust: { publishers: [...trust.publishers] } });
    t = performance.now();
    data.importSnapshot(wl.manifest, wl.rowsFile);
    const importSeconds = (performance.now() - t) / 1000;
    metrics['whitelist.snapshot_import_rows_per_s'] = rows / importSeconds;
    t = performance.now();
    data.importSnapshot(rv.manifest, rv.rowsFile);
    metrics['whitelist.revocation_import_rows_per_s'] = revocations / ((performance.now() - t) / 1000);
    rmSync(wl.rowsFile);
    rmSync(rv.rowsFile);
    metrics['whitelist.bytes_per_row'] = data.whitelist.fileBytes() / rows;
    metrics['whitelist.revocation_bytes_per_row'] = data.revocations.fileBytes() / revocations;
    ctx.log(`  whitelist file ${(data.whitelist.fileBytes() / 2 ** 20).toFixed(0)} MiB after import`);

    // 2. Lookups and resident memory, in a fresh process that only serves lookups.
    data.close();
    const serve = fileURLToPath(new URL('./whitelist-serve.js', import.meta.url));
    const served = JSON.parse(
      execFileSync(process.execPath, [serve, storeDir, String(rows), String(samples)], { encoding: 'utf8' }),
    ) as Record<string, number>;
    if (served.hitsFound !== samples || served.missesFound !== 0)
      throw new Error(
        `lookup check failed: ${served.hitsFound}/${samples} hits, ${served.missesFound} false hits`,
      );
    metrics['whitelist.lookup_hit_p50_us'] = served.hitP50!;
    metrics['whitelist.lookup_hit_p99_us'] = served.hitP99!;
    metrics['whitelist.lookup_miss_p50_us'] = served.missP50!;
    metrics['whitelist.lookup_miss_p99_us'] = served.missP99!;
    metrics['whitelist.rss_mb'] = served.rssMb!;
    metrics['whitelist.prewarm_ms'] = served.prewarmMs!;
    // Page-cache residency of the whitelist file around the lookups: below ~99 %, p99 measures the disk.
    if (typeof served.residentBefore === 'number')
      metrics['whitelist.page_cache_resident_pct_before'] = served.residentBefore;
    if (typeof served.residentAfter === 'number')
      metrics['whitelist.page_cache_resident_pct_after'] = served.residentAfter;

    // 3. Delta apply on the full store: signed batches of 10,000 ops (updates, inserts, deletes),
    //    verified and applied as the terminal does.
    data = KioskData.open({ dir: storeDir, indexKey, trust: { publishers: [...trust.publishers] } });
    const batchOps = 10_000;
    const batches = ctx.quick ? 3 : 10;
    const kid = publisherKeyId(hub.publicKey);
    const wires: Buffer[] = [];
    let seq = data.whitelist.feedState().seq;
    for (let b = 0; b < batches; b++) {
      const ops: WhitelistOp[] = [];
      for (let j = 0; j < batchOps; j++) {
        const r = Math.random();
        const i = r < 0.5 ? Math.floor(Math.random() * rows) : rows + b * batchOps + j;
        ops.push(
          r > 0.9
            ? {
                op: 'del',
                k: indexKey
                  .cardKey(BENCH_ISSUER, benchSerial(Math.floor(Math.random() * rows)))
                  .toString('hex'),
              }
            : whitelistPutOp(indexKey, {
                issuerKeyId: BENCH_ISSUER,
                serial: benchSerial(i),
                spkiSha256: benchSpki(i),
                record: benchRecord(i),
              }),
        );
      }
      const batch: FeedBatch = {
        format: 'jpki-kiosk/delta/v1',
        feed: 'whitelist',
        publisherKeyId: kid,
        epoch: 'whitelist-bench',
        fromSeq: seq,
        toSeq: seq + ops.length,
        asOf: new Date().toISOString(),
        ops,
      };
      seq += ops.length;
      wires.push(signBatch(batch, hub.privateKey));
    }
    t = performance.now();
    const perBatch: number[] = [];
    for (const wire of wires) {
      const b0 = performance.now();
      data.applyBatch(wire);
      perBatch.push(performance.now() - b0);
    }
    metrics['whitelist.delta_apply_ops_per_s'] = (batches * batchOps) / ((performance.now() - t) / 1000);
    ctx.log(`  delta batches of ${batchOps} ops: ${perBatch.map((ms) => ms.toFixed(0)).join(', ')} ms`);
    metrics['whitelist.delta_batch_ops'] = batchOps;
    data.close();

    // 4. Journal append: the cost of durability (WAL + synchronous=FULL vs NORMAL).
    for (const durability of ['full', 'normal'] as const) {
      const jdir = mkdtempSync(join(dir, `journal-${durability}-`));
      const store = TerminalStore.open(jdir, { durability });
      const subject = randomBytes(4).toString('hex');
      const stats = await measure(
        () =>
          store.journal.append({
            kind: 'grant',
            terminalId: 'bench-t',
            siteId: 'bench-s',
            gateId: 'g',
            direction: 'entry',
            subject,
            serialRef: '00'.repeat(16),
            outcome: 'admitted',
            reasons: ['ok'],
          }),
        { warmup: 20, iterations: ctx.quick ? 200 : 1000 },
      );
      metrics[`whitelist.journal_append_${durability}_p50_us`] = stats.p50 * 1000;
      metrics[`whitelist.journal_append_${durability}_p99_us`] = stats.p99 * 1000;
      store.close();
    }
    return metrics;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
