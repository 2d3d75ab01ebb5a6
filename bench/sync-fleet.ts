// sync.fleet_*: 1,000 simulated terminals pulling and pushing concurrently against a hub in its own
// process. Each simulated terminal verifies every batch but keeps only its position and an in-memory
// journal, so the hub, not the terminals, is what is measured. Part of the `sync` suite (sync.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openHubDir } from '../hub/hub-dir.js';
import { SyncClient } from '../main/core/sync/client.js';
import type { FeedPosition, FeedSink, JournalSource } from '../main/core/sync/sinks.js';
import type { FeedName, PushRecord } from '../protocol/sync.js';
import { openBatch, openManifest, type PublisherTrust } from '../protocol/feed-format.js';
import { openPinnedRoot, trustFromRoot } from '../protocol/root-of-trust.js';
import {
  chainDigest,
  checkCheckpoint,
  openCheckpoint,
  openPushReply,
  trustedPart,
  type TrustedCheckpoint,
} from '../protocol/checkpoint.js';
import { chainHash } from '../whitelist/journal.js';
import type { BenchContext, Metrics } from './harness.js';
import { BASE_PORT, ISSUER, newTerminal, register, spawnHub, stopChild } from './sync-setup.js';

/**
 * A simulated terminal's feed: verifies every batch and checkpoint (as a real store would) and keeps only
 * the position, chain digest and trusted checkpoint.
 */
export class CountingSink implements FeedSink {
  private pos: FeedPosition = { seq: 0, epoch: null };
  private digest: string | null = null;
  private trusted: TrustedCheckpoint | null = null;
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
    this.digest = chainDigest(this.digest, signed);
    return this.pos;
  }
  checkManifest(manifest: Buffer) {
    return openManifest(manifest, this.trust);
  }
  installSnapshot(manifest: Buffer): FeedPosition {
    const m = openManifest(manifest, this.trust);
    this.pos = { seq: m.seq, epoch: m.epoch };
    this.digest = m.digest;
    return this.pos;
  }
  acceptCheckpoint(signed: Buffer, nonce: string, receivedAt: number) {
    const c = openCheckpoint(signed, this.trust);
    checkCheckpoint(
      c,
      { feed: this.feed, ...this.pos, digest: this.digest, trusted: this.trusted },
      { nonce },
    );
    this.trusted = trustedPart(c);
    if (!c.more) this.synced = receivedAt;
    return { ...this.trusted, more: c.more };
  }
  checkpoint(): TrustedCheckpoint | null {
    return this.trusted;
  }
  freshness(now: number) {
    return { lastSyncAt: this.synced, dataAgeMs: this.synced === null ? null : now - this.synced };
  }
}

export class MemoryJournal implements JournalSource {
  private rows: PushRecord[] = [];
  private prev: Buffer = Buffer.alloc(32);
  private mark = 0;
  constructor(
    private readonly terminalId: string,
    private readonly trust: PublisherTrust,
  ) {}
  openPushReply(signed: Buffer, expect: { nonce: string; terminalId: string }) {
    return openPushReply(signed, this.trust, expect);
  }
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

export async function fleet(ctx: BenchContext, root: string, n: number): Promise<Metrics> {
  const dir = join(root, 'hub-fleet');
  const hub = openHubDir(dir, { keyStore: 'file' });
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
  const trust = trustFromRoot(openPinnedRoot(readFileSync(hub.rootFile)));
  hub.close();
  const port = BASE_PORT + 3;
  const child = await spawnHub(dir, join(dir, 'index-key'), port);
  const clients = terminals.map((t) => {
    const journal = new MemoryJournal(t.id, trust);
    const client = new SyncClient({
      hubUrl: `http://127.0.0.1:${port}`,
      signer: t.signer,
      sinks: {
        whitelist: new CountingSink('whitelist', trust),
        revocations: new CountingSink('revocations', trust),
      },
      journal,
      stagingDir: join(root, 'fleet-staging'),
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
    const view = openHubDir(dir, { keyStore: 'file' });
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
