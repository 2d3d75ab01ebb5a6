// SIGKILL at random points during delta apply and journal appends, ≥ 50 times: afterwards every file
// passes integrity_check, each feed's sequence matches its content, no acknowledged journal entry is lost
// and the chain verifies. (SIGKILL models a process crash; power loss is covered by synchronous=FULL.)
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';
import { verifyJournal } from '../../whitelist/journal.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { IndexKey } from '../../whitelist/privacy.js';
import type { FeedStore } from '../../whitelist/store.js';
import { rowKey } from './crash-keys.js';
import { tempDir } from './helpers.js';

const KILLS = 55;
let bundle = '';
const keysDir = tempDir('wl-crash-keys-');
const hub = generateKeyPairSync('ed25519');
const terminal = generateKeyPairSync('ec', { namedCurve: 'P-256' });

beforeAll(() => {
  // The child runs outside vitest: bundle it (packages stay external, resolved from the project).
  bundle = join(tempDir('wl-crash-bundle-'), 'child.cjs');
  buildSync({
    entryPoints: [resolve(import.meta.dirname, 'crash-child.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    packages: 'external',
    outfile: bundle,
    logLevel: 'error',
  });
  writeFileSync(join(keysDir, 'hub.pem'), hub.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(keysDir, 'terminal.pem'), terminal.privateKey.export({ type: 'pkcs8', format: 'pem' }));
});

/**
 * Runs the child until it acknowledged its first journal entry (so its first whitelist batch is in),
 * lets it work for `ms` more, SIGKILLs it; returns the last acknowledged seq. Starting the clock at
 * the first acknowledgement rather than at "ready" keeps the kills inside the work however slow the
 * machine is: a kill that lands before the first write proves nothing and starves the progress checks.
 */
function runAndKill(dir: string, ms: number): Promise<number> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [bundle, dir, keysDir], {
      env: { ...process.env, NODE_PATH: resolve(import.meta.dirname, '../../node_modules') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!timer && /^J \d+$/m.test(out)) timer = setTimeout(() => child.kill('SIGKILL'), ms);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') return reject(new Error(`child ended by itself (${code}): ${err}`));
      const acks = [...out.matchAll(/^J (\d+)$/gm)].map((m) => Number(m[1]));
      resolveRun(acks.length ? acks[acks.length - 1]! : 0);
    });
  });
}

function checkFeed(store: FeedStore, feed: string): number {
  const seq = store.feedState().seq;
  expect(store.rowCount(), `${feed}: rows vs sequence`).toBe(seq);
  if (seq > 0) expect(store.get(Buffer.from(rowKey(feed, seq), 'hex')), `${feed}: row ${seq}`).toBeDefined();
  expect(store.get(Buffer.from(rowKey(feed, seq + 1), 'hex')), `${feed}: row ${seq + 1}`).toBeUndefined();
  return seq;
}

describe('crash safety', () => {
  it(`survives ${KILLS} SIGKILLs during delta apply and journal appends`, { timeout: 300_000 }, async () => {
    const dir = tempDir('wl-crash-');
    let acknowledged = 0;
    let lastSeqs = [0, 0];
    const progressed = { whitelist: 0, journal: 0 };
    for (let i = 0; i < KILLS; i++) {
      const ack = await runAndKill(dir, Math.floor(Math.random() * 250));
      acknowledged = Math.max(acknowledged, ack);
      const data = KioskData.open({ dir, indexKey: IndexKey.fromSecret('77'.repeat(32)) });
      try {
        for (const s of [data.whitelist, data.revocations, data.terminal]) expect(s.integrity()).toBe('ok');
        const seqs = [checkFeed(data.whitelist, 'whitelist'), checkFeed(data.revocations, 'revocations')];
        if (seqs[0]! > lastSeqs[0]!) progressed.whitelist++;
        lastSeqs = seqs;
        const head = data.journal.head().seq;
        expect(head, 'an acknowledged journal entry was lost').toBeGreaterThanOrEqual(acknowledged);
        if (head > acknowledged) progressed.journal++;
        acknowledged = head;
        expect(verifyJournal(data.terminal.db)).toMatchObject({ ok: true, records: head });
      } finally {
        data.close();
      }
    }
    // The kills landed while work was going on, not only before the first write.
    expect(progressed.whitelist).toBeGreaterThan(KILLS / 3);
    expect(acknowledged).toBeGreaterThan(KILLS);
  });
});
