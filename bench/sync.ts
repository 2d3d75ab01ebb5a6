// sync.* — the sync protocol measured end to end on loopback with real SQLite on both sides:
//  - a revocation delta of 1,000,000 serials: hub → terminal → applied (target < 30 s);
//  - a 10,000,000-row whitelist snapshot: streamed and installed (target < 2 min);
//  - global anti-passback: entry journaled at gate A → presence at gate B (target ≤ 5 s);
//  - 1,000 simulated terminals pulling and pushing concurrently against a hub in its own process.
// --quick shrinks every size. JPKI_BENCH_SYNC_PARTS=revocations,snapshot,peers,fleet picks parts.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync, rmSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { projectRoot } from '../config/paths.js';
import { openHubDir, type HubDir } from '../hub/hub-dir.js';
import { createHub } from '../hub/server.js';
import { SyncClient } from '../main/core/sync/client.js';
import { softwareSigner, type RequestSigner } from '../protocol/http-signature.js';
import { kioskDataJournal, kioskDataSinks } from '../main/core/sync/kiosk-data-sinks.js';
import type { FeedName, PushRecord } from '../protocol/sync.js';
import type { FeedPosition, FeedSink, JournalSource } from '../main/core/sync/sinks.js';
import { KioskData } from '../whitelist/kiosk-data.js';
import { openBatch, openManifest, trustFromPem, type PublisherTrust } from '../protocol/feed-format.js';
import { chainHash } from '../whitelist/journal.js';
import { IndexKey } from '../whitelist/privacy.js';
import { summarize, type BenchContext, type Metrics } from './harness.js';

const BASE_PORT = 36460;
const ISSUER = 'b1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

function sizes(quick: boolean) {
  const env = (k: string, full: number, small: number) => Number(process.env[k] ?? (quick ? small : full));
  return {
    revocations: env('JPKI_BENCH_SYNC_REVOCATIONS', 1_000_000, 20_000),
    snapshotRows: env('JPKI_BENCH_SYNC_SNAPSHOT_ROWS', 10_000_000, 200_000),
    terminals: env('JPKI_BENCH_SYNC_TERMINALS', 1_000, 100),
    peerRounds: env('JPKI_BENCH_SYNC_PEER_ROUNDS', 30, 10),
  };
}

interface Terminal {
  id: string;
  signer: RequestSigner;
  publicPem: string;
}

function newTerminal(id: string): Terminal {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    id,
    signer: softwareSigner(id, privateKey),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

function register(hub: HubDir, t: Terminal, gate = 'gate-a'): void {
  hub.store.registerTerminal(
    {
      terminalId: t.id,
      publicKeyPem: t.publicPem,
      siteId: 'stadium',
      gateId: gate,
      zone: 'main',
      siteKind: 'stadium-gate',
    },
    Date.now(),
  );
}

function realTerminal(
  root: string,
  hub: HubDir,
  url: string,
  t: Terminal,
  extra: Partial<ConstructorParameters<typeof SyncClient>[0]> = {},
) {
  const data = KioskData.open({
    dir: join(root, t.id),
    indexKey: IndexKey.fromSecret(readFileSync(hub.indexKeyFile, 'utf8')),
    trust: trustFromPem(readFileSync(hub.publicKeyFile)),
  });
  const client = new SyncClient({
    hubUrl: url,
    signer: t.signer,
    sinks: kioskDataSinks(data),
    journal: kioskDataJournal(data),
    stagingDir: join(root, t.id, 'staging'),
    idleTimeoutMs: 120_000,
    ...extra,
  });
  return { data, client };
}

/** The hub in its own process (`jpki-kiosk hub serve`), as a deployment runs it. */
async function spawnHub(dir: string, indexKeyFile: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [
      join(projectRoot(), 'bin', 'jpki-kiosk.js'),
      'hub',
      'serve',
      '--dir',
      dir,
      '--index-key',
      indexKeyFile,
      '--port',
      String(port),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, JPKI_LOG_LEVEL: 'silent' } },
  );
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('serving')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`hub exited (${code}): ${err}`)));
  });
  return child;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await done;
}

// ---- 1. revocation delta ------------------------------------------------------------------------------

async function revocationDelta(ctx: BenchContext, root: string, n: number): Promise<Metrics> {
  const hub = openHubDir(join(root, 'hub-rev'));
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
  const hub = openHubDir(join(root, 'hub-snap'));
  const t = newTerminal('snap-term');
  register(hub, t);
  // Bulk-load the hub's state in key order (as a hub that imported this list would hold it).
  const l0 = performance.now();
  const insert = hub.store.db.prepare(
    "INSERT INTO state (feed, k, h, v, scope) VALUES ('whitelist', ?, ?, ?, ?)",
  );
  const h = Buffer.alloc(32);
  const step = 2n ** 64n / BigInt(rows);
  const load = hub.store.db.transaction((from: number, to: number) => {
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
  hub.store.db.prepare("UPDATE feed SET head = ? WHERE feed = 'whitelist'").run(rows);
  hub.store.recount('whitelist');
  ctx.log(`sync: hub loaded ${rows} whitelist rows in ${(performance.now() - l0).toFixed(0)} ms`);
  const server = createHub({ store: hub.store, publisher: hub.publisher, hubId: hub.hubId });
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
  const hub = openHubDir(dir);
  const a = newTerminal('gate-a-1');
  const b = newTerminal('gate-b-1');
  register(hub, a, 'gate-a');
  register(hub, b, 'gate-b');
  hub.close();
  const port = BASE_PORT + 2;
  const child = await spawnHub(dir, join(dir, 'index-key'), port);
  const hubView = openHubDir(dir);
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

// ---- 4. fleet of simulated terminals ----------------------------------------------------------------

/** A simulated terminal's feed: verifies every batch (as a real store would) and keeps only the position. */
class CountingSink implements FeedSink {
  private pos: FeedPosition = { seq: 0, epoch: null };
  private synced: number | null = null;
  constructor(
    readonly feed: FeedName,
    private readonly trust: PublisherTrust,
  ) {}
  position(): FeedPosition {
    return this.pos;
  }
  applyBatch(signed: Buffer): FeedPosition {
    const b = openBatch(signed, this.trust);
    if (b.fromSeq !== this.pos.seq) throw new Error(`gap at ${this.pos.seq}`);
    this.pos = { seq: b.toSeq, epoch: b.epoch };
    return this.pos;
  }
  installSnapshot(manifest: Buffer): FeedPosition {
    const m = openManifest(manifest, this.trust);
    this.pos = { seq: m.seq, epoch: m.epoch };
    return this.pos;
  }
  freshness(now: number) {
    return { lastSyncAt: this.synced, dataAgeMs: this.synced === null ? null : now - this.synced };
  }
  markSynced(at: number): void {
    this.synced = at;
  }
}

class MemoryJournal implements JournalSource {
  private rows: PushRecord[] = [];
  private prev: Buffer = Buffer.alloc(32);
  private mark = 0;
  constructor(private readonly terminalId: string) {}
  append(subject: string): void {
    const seq = this.rows.length + 1;
    const body = JSON.stringify({
      seq,
      kind: 'grant',
      terminalId: this.terminalId,
      siteId: 'stadium',
      gateId: 'gate-a',
      direction: 'entry',
      subject,
      wall: new Date().toISOString(),
    });
    this.prev = chainHash(this.prev, body);
    this.rows.push({ seq, body, hash: this.prev.toString('hex') });
  }
  uploadWatermark(): number {
    return this.mark;
  }
  readSince(after: number, limit = 500): PushRecord[] {
    return this.rows.slice(after, after + limit);
  }
  pendingUpload(): number {
    return this.rows.length - this.mark;
  }
  markUploaded(seq: number): void {
    this.mark = Math.max(this.mark, seq);
  }
}

async function fleet(ctx: BenchContext, root: string, n: number): Promise<Metrics> {
  const dir = join(root, 'hub-fleet');
  const hub = openHubDir(dir);
  const terminals = Array.from({ length: n }, (_, i) => newTerminal(`t${String(i).padStart(4, '0')}`));
  for (const t of terminals) register(hub, t);
  hub.publisher.publishWhitelist(
    Array.from({ length: 1000 }, (_, i) => ({
      issuerKeyId: ISSUER,
      serial: (0x50000000 + i).toString(16),
      spkiSha256: '11'.repeat(32),
      record: { subject: `F${i}`, entitlements: [{ kind: 'member' as const, memberId: `m${i}` }] },
    })),
    'fleet',
  );
  hub.publisher.publishRevocations(
    ISSUER,
    Array.from({ length: 100 }, (_, i) => ({
      issuerKeyId: ISSUER,
      serial: (0x60000000 + i).toString(16),
      at: 1_760_000_000,
      reason: 'unspecified' as const,
    })),
    'fleet',
  );
  const trust = trustFromPem(readFileSync(hub.publicKeyFile));
  hub.close();
  const port = BASE_PORT + 3;
  const child = await spawnHub(dir, join(dir, 'index-key'), port);
  const clients = terminals.map((t) => {
    const journal = new MemoryJournal(t.id);
    const client = new SyncClient({
      hubUrl: `http://127.0.0.1:${port}`,
      signer: t.signer,
      sinks: {
        whitelist: new CountingSink('whitelist', trust),
        revocations: new CountingSink('revocations', trust),
      },
      journal,
      idleTimeoutMs: 120_000,
    });
    return { journal, client };
  });
  try {
    const rounds: number[] = [];
    let errors = 0;
    let requests = 0;
    for (let round = 0; round < 3; round++) {
      for (const [i, c] of clients.entries())
        for (let k = 0; k < 5; k++) c.journal.append(`S${i}-${round}-${k}`);
      const t0 = performance.now();
      const reports = await Promise.all(clients.map((c) => c.client.syncNow()));
      rounds.push(performance.now() - t0);
      for (const r of reports) {
        requests += 3;
        if (!r.ok) errors++;
      }
      ctx.log(
        `sync: round ${round + 1}: ${n} terminals pulled 2 feeds and pushed 5 records in ${rounds[round]!.toFixed(0)} ms`,
      );
    }
    const pending = clients.reduce((s, c) => s + c.journal.pendingUpload(), 0);
    const view = openHubDir(dir);
    const held = view.store.journalCount();
    view.close();
    if (held !== n * 15 || pending !== 0) errors++;
    return {
      'sync.fleet_terminals': n,
      'sync.fleet_errors': errors,
      'sync.fleet_first_round_ms': rounds[0]!,
      'sync.fleet_steady_round_ms': Math.max(rounds[1]!, rounds[2]!),
      'sync.fleet_requests_per_s': requests / (rounds.reduce((s, v) => s + v, 0) / 1000),
      'sync.fleet_journal_rows_held': held,
    };
  } finally {
    await Promise.all(clients.map((c) => c.client.stop()));
    await stopChild(child);
  }
}

export async function run(ctx: BenchContext): Promise<Metrics> {
  const s = sizes(ctx.quick);
  const parts = (process.env.JPKI_BENCH_SYNC_PARTS ?? 'revocations,snapshot,peers,fleet').split(',');
  const root = mkdtempSync(join(tmpdir(), 'jpki-bench-sync-'));
  const metrics: Metrics = {};
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
