// sync.* — the sync protocol measured end to end on loopback with real SQLite on both sides:
//  - a revocation delta of 1,000,000 serials: hub → terminal → applied (target < 30 s);
//  - a 10,000,000-row whitelist snapshot: streamed and installed (target < 2 min);
//  - global anti-passback: entry journaled at gate A → presence at gate B (target ≤ 5 s);
//  - 1,000 simulated terminals pulling and pushing concurrently against a hub in its own process.
//  - the signed checkpoint that ends every pull answer (v2): sign and verify µs, bytes (sync-checkpoint.ts).
// --quick shrinks every size. JPKI_BENCH_SYNC_PARTS=revocations,snapshot,peers,fleet picks parts.
// The fleet part is sync-fleet.ts; terminal and hub set-up shared by the parts is sync-setup.ts.
import { randomBytes } from 'node:crypto';
import { rmSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { openHubDir } from '../hub/hub-dir.js';
import { createHub } from '../hub/server.js';
import { summarize, type BenchContext, type Metrics } from './harness.js';
import { fleet } from './sync-fleet.js';
import { checkpointCost } from './sync-checkpoint.js';
import { ISSUER, BASE_PORT, newTerminal, register, realTerminal, spawnHub, stopChild } from './sync-setup.js';

function sizes(quick: boolean) {
  const env = (k: string, full: number, small: number) => Number(process.env[k] ?? (quick ? small : full));
  return {
    revocations: env('JPKI_BENCH_SYNC_REVOCATIONS', 1_000_000, 20_000),
    snapshotRows: env('JPKI_BENCH_SYNC_SNAPSHOT_ROWS', 10_000_000, 200_000),
    terminals: env('JPKI_BENCH_SYNC_TERMINALS', 1_000, 100),
    peerRounds: env('JPKI_BENCH_SYNC_PEER_ROUNDS', 30, 10),
  };
}

// ---- 1. revocation delta ------------------------------------------------------------------------------

async function revocationDelta(ctx: BenchContext, root: string, n: number): Promise<Metrics> {
  const hub = openHubDir(join(root, 'hub-rev'), { keyStore: 'file' });
  const t = newTerminal('rev-term');
  register(hub, t);
  hub.publisher.publishRevocations(
    ISSUER,
    [{ issuerKeyId: ISSUER, serial: '01', at: 1_700_000_000, reason: 'unspecified' }],
    'base',
  );
  const server = createHub({
    store: hub.store,
    publisher: hub.publisher,
    roots: hub.keys,
    hubId: hub.hubId,
    snapshotMinOps: Number.MAX_SAFE_INTEGER,
  });
  await server.app.listen({ host: '127.0.0.1', port: BASE_PORT });
  const { data, client } = realTerminal(root, hub, `http://127.0.0.1:${BASE_PORT}`, t);
  try {
    await client.pull('revocations');
    const entries = Array.from({ length: n }, (_, i) => ({
      issuerKeyId: ISSUER,
      serial: (0x40000000 + i).toString(16),
      at: 1_760_000_000 + (i % 86_400),
      reason: 'keyCompromise' as const,
    }));
    const p0 = performance.now();
    const published = hub.publisher.publishRevocations(ISSUER, entries, 'bench CRL');
    const publishMs = performance.now() - p0;
    ctx.log(`sync: published ${n} revocations as ${published.batches} batches in ${publishMs.toFixed(0)} ms`);
    const t0 = performance.now();
    const r = await client.pull('revocations');
    const e2eMs = performance.now() - t0;
    if (data.revocations.rowCount() !== n || r.snapshot)
      throw new Error('revocation delta did not apply whole');
    ctx.log(
      `sync: ${n} revocations hub → terminal → applied in ${e2eMs.toFixed(0)} ms (${r.applied} batches)`,
    );
    return {
      'sync.revocation_delta_serials': n,
      'sync.revocation_publish_ms': publishMs,
      'sync.revocation_delta_e2e_ms': e2eMs,
      'sync.revocation_delta_serials_per_s': n / (e2eMs / 1000),
    };
  } finally {
    await client.stop();
    data.close();
    await server.close();
    hub.close();
  }
}

// ---- 2. whitelist snapshot -----------------------------------------------------------------------------

async function snapshot(ctx: BenchContext, root: string, rows: number): Promise<Metrics> {
  const hub = openHubDir(join(root, 'hub-snap'), { keyStore: 'file' });
  const t = newTerminal('snap-term');
  register(hub, t);
  // Bulk-load the hub's state in key order (as a hub that imported this list would hold it).
  const l0 = performance.now();
  const insert = hub.sqlite!.db.prepare(
    "INSERT INTO state (feed, k, h, v, scope) VALUES ('whitelist', ?, ?, ?, ?)",
  );
  const h = Buffer.alloc(32);
  const step = 2n ** 64n / BigInt(rows);
  const load = hub.sqlite!.db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const k = Buffer.alloc(16);
      k.writeBigUInt64BE(BigInt(i) * step, 0);
      randomBytes(8).copy(k, 8);
      const v = randomBytes(40);
      v[0] = 1; // a sealed record's version byte
      insert.run(k, h, v, ISSUER);
    }
  });
  for (let i = 0; i < rows; i += 200_000) load(i, Math.min(rows, i + 200_000));
  hub.sqlite!.db.prepare("UPDATE feed SET head = ? WHERE feed = 'whitelist'").run(rows);
  hub.sqlite!.recount('whitelist');
  ctx.log(`sync: hub loaded ${rows} whitelist rows in ${(performance.now() - l0).toFixed(0)} ms`);
  const server = createHub({ store: hub.store, publisher: hub.publisher, roots: hub.keys, hubId: hub.hubId });
  await server.app.listen({ host: '127.0.0.1', port: BASE_PORT + 1 });
  const { data, client } = realTerminal(root, hub, `http://127.0.0.1:${BASE_PORT + 1}`, t);
  try {
    const b0 = performance.now();
    const built = await hub.publisher.snapshotFile('whitelist');
    const buildMs = performance.now() - b0;
    const bytes = statSync(built.file).size;
    ctx.log(
      `sync: hub built the snapshot (${(bytes / 1e6).toFixed(0)} MB on the wire) in ${buildMs.toFixed(0)} ms`,
    );
    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
    // How long the terminal's event loop (taps, UI) was held at a stretch while the snapshot went in.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const t0 = performance.now();
    const r = await client.pull('whitelist');
    const ms = performance.now() - t0;
    loopDelay.disable();
    clearInterval(sampler);
    if (!r.snapshot || data.whitelist.rowCount() !== rows) throw new Error('snapshot did not install whole');
    ctx.log(`sync: ${rows}-row snapshot streamed and installed in ${ms.toFixed(0)} ms`);
    return {
      'sync.snapshot_rows': rows,
      'sync.snapshot_build_ms': buildMs,
      'sync.snapshot_wire_mb': bytes / 1e6,
      'sync.snapshot_stream_install_ms': ms,
      'sync.snapshot_rows_per_s': rows / (ms / 1000),
      'sync.snapshot_peak_rss_mb': peakRss / 1e6,
      'sync.snapshot_event_loop_max_ms': loopDelay.max / 1e6,
      'sync.snapshot_event_loop_p99_ms': loopDelay.percentile(99) / 1e6,
    };
  } finally {
    await client.stop();
    data.close();
    await server.close();
    hub.close();
  }
}

// ---- 3. peer entries (global anti-passback) ---------------------------------------------------------

async function peers(ctx: BenchContext, root: string, rounds: number): Promise<Metrics> {
  const dir = join(root, 'hub-peers');
  const hub = openHubDir(dir, { keyStore: 'file' });
  const a = newTerminal('gate-a-1');
  const b = newTerminal('gate-b-1');
  register(hub, a, 'gate-a');
  register(hub, b, 'gate-b');
  hub.close();
  const port = BASE_PORT + 2;
  const child = await spawnHub(dir, join(dir, 'index-key'), port);
  const hubView = openHubDir(dir, { keyStore: 'file' });
  const url = `http://127.0.0.1:${port}`;
  const ta = realTerminal(root, hubView, url, a, { pullIntervalMs: 3_600_000, pushIntervalMs: 3_600_000 });
  const tb = realTerminal(root, hubView, url, b, {
    pullIntervalMs: 3_600_000,
    pushIntervalMs: 3_600_000,
    peerWaitSeconds: 25,
  });
  try {
    tb.client.start();
    await new Promise((r) => setTimeout(r, 300));
    const delays: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const subject = `P${i}`;
      const t0 = performance.now();
      ta.data.journal.append({
        kind: 'grant',
        terminalId: a.id,
        siteId: 'stadium',
        gateId: 'gate-a',
        direction: 'entry',
        subject,
        outcome: 'admitted',
        reasons: ['ok'],
      });
      ta.client.pushSoon(0);
      while (tb.data.terminal.presence(subject)?.state !== 'inside') {
        if (performance.now() - t0 > 30_000) throw new Error('peer entry did not arrive in 30 s');
        await new Promise((r) => setTimeout(r, 2));
      }
      delays.push(performance.now() - t0);
      await new Promise((r) => setTimeout(r, 50));
    }
    const s = summarize(delays);
    ctx.log(
      `sync: gate A → hub → gate B presence p50 ${s.p50.toFixed(1)} ms, max ${s.max.toFixed(1)} ms over ${rounds}`,
    );
    return {
      'sync.peer_entry_delay_p50_ms': s.p50,
      'sync.peer_entry_delay_p99_ms': s.p99,
      'sync.peer_entry_delay_max_ms': s.max,
    };
  } finally {
    await ta.client.stop();
    await tb.client.stop();
    ta.data.close();
    tb.data.close();
    hubView.close();
    await stopChild(child);
  }
}

export async function run(ctx: BenchContext): Promise<Metrics> {
  const s = sizes(ctx.quick);
  const parts = (process.env.JPKI_BENCH_SYNC_PARTS ?? 'revocations,snapshot,peers,fleet').split(',');
  const root = mkdtempSync(join(tmpdir(), 'jpki-bench-sync-'));
  // Cheap and independent of the sizes: always measured (sync v2's checkpoint, per pull answer).
  const metrics: Metrics = checkpointCost(ctx.quick ? 2_000 : 20_000);
  try {
    if (parts.includes('revocations'))
      Object.assign(metrics, await revocationDelta(ctx, root, s.revocations));
    if (parts.includes('snapshot')) Object.assign(metrics, await snapshot(ctx, root, s.snapshotRows));
    if (parts.includes('peers')) Object.assign(metrics, await peers(ctx, root, s.peerRounds));
    if (parts.includes('fleet')) Object.assign(metrics, await fleet(ctx, root, s.terminals));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return metrics;
}
