// One hub-scale scenario: N simulated terminals (own P-256 keys, real HTTP on loopback, every batch and
// checkpoint verified) syncing in rounds against a hub deployment — one instance on SQLite, one instance
// on PostgreSQL, or two instances on PostgreSQL behind an nginx load balancer — then the journal rows
// the hub holds counted against what the terminals wrote. Shared by the `hubscale` bench suite (full
// size, the CLI's `hub serve`) and the smoke test in test/hub/ (small size, a bundled child).
import type { ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openHubDir } from '../hub/hub-dir.js';
import { SyncClient } from '../main/core/sync/client.js';
import { softwareSigner, type RequestSigner } from '../protocol/http-signature.js';
import { openPinnedRoot, trustFromRoot } from '../protocol/root-of-trust.js';
import { CountingSink, MemoryJournal } from './sync-fleet.js';

export type ScaleKind = 'sqlite' | 'pg1' | 'pg2';

export interface ScaleEnv {
  root: string;
  /** A fresh PostgreSQL database (connection string). */
  database(name: string): Promise<string>;
  /** A load balancer on `port` over the upstream ports. */
  balancer(upstreams: number[], port: number): Promise<{ stop(): Promise<void> }>;
  /** A hub instance serving `dir` (store null: its SQLite file), signed-for `authority`; resolves when listening. */
  instance(o: {
    dir: string;
    store: string | null;
    port: number;
    authority: string;
    indexKeyFile: string;
  }): Promise<ChildProcess>;
  log(line: string): void;
}

export interface ScaleTerminal {
  id: string;
  signer: RequestSigner;
  publicPem: string;
}

export function scaleTerminals(n: number): ScaleTerminal[] {
  return Array.from({ length: n }, (_, i) => {
    const id = `hs${String(i).padStart(5, '0')}`;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return {
      id,
      signer: softwareSigner(id, privateKey),
      publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    };
  });
}

export interface ScaleResult {
  kind: ScaleKind;
  terminals: number;
  rounds: number[];
  errors: number;
  /** Journal rows the hub holds, and what the terminals wrote. */
  held: number;
  expected: number;
  pending: number;
  requestsPerSecond: number;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs `task` over `items` with at most `limit` in flight. */
async function pool<T, R>(items: T[], limit: number, task: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await task(items[i]!);
      }
    }),
  );
  return out;
}

const RECORDS_PER_ROUND = 5;

export async function runScale(
  env: ScaleEnv,
  kind: ScaleKind,
  terminals: ScaleTerminal[],
  o: { rounds: number; concurrency: number; issuer: string },
): Promise<ScaleResult> {
  const dir = join(env.root, `hub-${kind}`);
  const indexKeyFile = join(env.root, `index-key-${kind}`);
  writeFileSync(indexKeyFile, 'ef'.repeat(32) + '\n', { mode: 0o600 });
  const store = kind === 'sqlite' ? null : await env.database(`hubscale_${kind}`);
  const setup = openHubDir(dir, { keyStore: 'file', indexKeyFile, store });
  for (const t of terminals)
    setup.store.registerTerminal(
      {
        terminalId: t.id,
        publicKeyPem: t.publicPem,
        siteId: 'arena',
        gateId: 'gate-a',
        zone: 'main',
        siteKind: 'stadium-gate',
      },
      Date.now(),
    );
  setup.publisher.publishWhitelist(
    Array.from({ length: 1000 }, (_, i) => ({
      issuerKeyId: o.issuer,
      serial: (0x70000000 + i).toString(16),
      spkiSha256: '22'.repeat(32),
      record: { subject: `H${i}`, entitlements: [{ kind: 'member' as const, memberId: `h${i}` }] },
    })),
    'hubscale',
  );
  setup.publisher.publishRevocations(
    o.issuer,
    Array.from({ length: 100 }, (_, i) => ({
      issuerKeyId: o.issuer,
      serial: (0x71000000 + i).toString(16),
      at: 1_760_000_000,
      reason: 'unspecified' as const,
    })),
    'hubscale',
  );
  const trust = trustFromRoot(openPinnedRoot(readFileSync(setup.rootFile)));
  setup.close();

  const instances = kind === 'pg2' ? 2 : 1;
  const ports = await Promise.all(Array.from({ length: instances }, () => freePort()));
  const lbPort = kind === 'pg2' ? await freePort() : null;
  const authority = `127.0.0.1:${lbPort ?? ports[0]}`;
  const children: ChildProcess[] = [];
  let lb: { stop(): Promise<void> } | null = null;
  const clients = terminals.map((t) => {
    const journal = new MemoryJournal(t.id, trust);
    const client = new SyncClient({
      hubUrl: `http://${authority}`,
      signer: t.signer,
      sinks: {
        whitelist: new CountingSink('whitelist', trust),
        revocations: new CountingSink('revocations', trust),
      },
      journal,
      stagingDir: join(env.root, `staging-${kind}`),
      idleTimeoutMs: 300_000,
    });
    return { journal, client };
  });
  try {
    for (const port of ports)
      children.push(await env.instance({ dir, store, port, authority, indexKeyFile }));
    if (lbPort !== null) lb = await env.balancer(ports, lbPort);
    const rounds: number[] = [];
    let errors = 0;
    let requests = 0;
    const reasons = new Map<string, number>();
    const samples = new Map<string, string>();
    for (let round = 0; round < o.rounds; round++) {
      for (const [i, c] of clients.entries())
        for (let k = 0; k < RECORDS_PER_ROUND; k++) c.journal.append(`H${i}-${round}-${k}`);
      const t0 = performance.now();
      // A terminal's connections close after its sync: in the field syncs are a minute or two apart, longer
      // than a hub keeps an idle connection, and ten thousand terminals' idle sockets would otherwise
      // exhaust this process's (and the hub's) file descriptors.
      const reports = await pool(clients, o.concurrency, async (c) => {
        const r = await c.client.syncNow();
        c.client.closeIdleConnections();
        return r;
      });
      rounds.push(performance.now() - t0);
      for (const r of reports) {
        requests += 3;
        if (r.ok) continue;
        errors++;
        for (const part of [...Object.values(r.pulls), r.push])
          if (part && 'code' in part) {
            reasons.set(part.code, (reasons.get(part.code) ?? 0) + 1);
            if (!samples.has(part.code)) samples.set(part.code, part.message);
          }
      }
      env.log(
        `hubscale ${kind}: round ${round + 1}: ${terminals.length} terminals in ${rounds[round]!.toFixed(0)} ms (${errors} errors so far${reasons.size ? `: ${JSON.stringify(Object.fromEntries(reasons))}` : ''})`,
      );
    }
    for (const [code, message] of samples) env.log(`hubscale ${kind}: e.g. ${code}: ${message}`);
    const pending = clients.reduce((s, c) => s + c.journal.pendingUpload(), 0);
    const view = openHubDir(dir, { keyStore: 'file', indexKeyFile, store });
    const held = view.store.journalCount();
    view.close();
    return {
      kind,
      terminals: terminals.length,
      rounds,
      errors,
      held,
      expected: terminals.length * RECORDS_PER_ROUND * o.rounds,
      pending,
      requestsPerSecond: requests / (rounds.reduce((s, v) => s + v, 0) / 1000),
    };
  } finally {
    await Promise.all(clients.map((c) => c.client.stop()));
    await lb?.stop();
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
  }
}

/** The steady round: the slowest round after the first (which installs both feeds). */
export function steadyRound(r: ScaleResult): number {
  return Math.max(...(r.rounds.length > 1 ? r.rounds.slice(1) : r.rounds));
}
