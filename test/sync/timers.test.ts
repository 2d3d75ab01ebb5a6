// The running module: timers pull and push on their own schedules; a push the hub keeps refusing backs
// off and never holds up downloads; the peer-entries long poll brings another gate's entry within seconds.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  cardRow,
  cleanup,
  journalEntry,
  lookup,
  openTerminal,
  startHub,
  tempDir,
  type TestHub,
  freePort,
} from './helpers.js';

/** Picked once per test, so a stopped hub can come back on the same address. */
let PORT = 0;

async function until(what: string, cond: () => boolean, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('sync timers', () => {
  let root: string;
  let hub: TestHub;
  beforeEach(async () => {
    root = tempDir('timers');
    PORT = await freePort();
    hub = await startHub(root, PORT);
  });
  afterEach(async () => {
    await hub.stop();
    cleanup(root);
  });

  it('a refused upload backs off while downloads keep arriving', async () => {
    // The terminal was reinstalled: its journal restarts at 1 with other content than the hub holds.
    const first = openTerminal(root, 'reinstalled', hub.dir, hub.url);
    journalEntry(first, 'OLD');
    await first.client.push();
    await first.close();
    rmSync(join(root, 'reinstalled'), { recursive: true, force: true });
    const t = openTerminal(root, 'reinstalled', hub.dir, hub.url, {
      register: false,
      signer: first.signer,
      pullIntervalMs: 150,
      pushIntervalMs: 150,
    });
    try {
      journalEntry(t, 'NEW');
      t.client.start();
      await until('a refused push', () => t.client.status().push.failures >= 2);
      expect(t.client.status().push.lastError?.code).toBe('JOURNAL_BROKEN');
      hub.dir.publisher.publishWhitelist([cardRow(1), cardRow(2)], 'while the push fails');
      await until('the whitelist to arrive', () => lookup(t, cardRow(2)).card !== null);
      const s = t.client.status();
      expect(s.feeds.whitelist?.lastError).toBeNull();
      expect(s.push.queueLength).toBe(1);
      expect(hub.dir.store.journalCount('reinstalled')).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('an entry at gate A reaches gate B through the long poll within seconds', async () => {
    const a = openTerminal(root, 'gate-a', hub.dir, hub.url, {
      pullIntervalMs: 60_000,
      pushIntervalMs: 60_000,
    });
    const b = openTerminal(root, 'gate-b', hub.dir, hub.url, {
      pullIntervalMs: 60_000,
      pushIntervalMs: 60_000,
      peerWaitSeconds: 20,
    });
    try {
      b.client.start();
      await until('B to be polling', () => b.client.status().feeds['peer-entries']?.lastAttemptAt !== null);
      await new Promise((r) => setTimeout(r, 100));
      // An on-demand sync does not queue behind the long poll: peer entries are left to it.
      const onDemand = await b.client.syncNow();
      expect(Object.keys(onDemand.pulls).sort()).toEqual(['revocations', 'whitelist']);
      journalEntry(a, 'RUNNER');
      a.client.pushSoon();
      // Both periodic timers are a minute away: only pushSoon and the long poll can bring it (the delay
      // itself is measured by the sync benchmark, not asserted here).
      await until('B to see the entry', () => b.data.terminal.presence('RUNNER')?.state === 'inside', 20_000);
      expect(b.data.terminal.presence('RUNNER')).toMatchObject({ terminalId: 'gate-a', gateId: 'gate-a' });
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('reports health: running during a round, retrying with the reason while the hub is away, ready after retryNow', async () => {
    const t = openTerminal(root, 'health', hub.dir, hub.url, {
      pullIntervalMs: 200,
      pushIntervalMs: 60_000,
      // The longest wait full jitter allows: 200 ms, the interval.
      random: () => 1,
    });
    try {
      expect(t.client.health()).toMatchObject({ name: 'sync', state: 'stopped' });
      t.client.start();
      await until('the first rounds', () => t.client.health().state === 'ready');
      const round = t.client.syncNow();
      expect(t.client.health().state).toBe('running');
      expect((await round).ok).toBe(true);
      expect(t.client.health().state).toBe('ready');

      await hub.stop();
      await until('a failed pull round', () => t.client.health().state === 'retrying');
      expect(t.client.health()).toMatchObject({ error: { code: 'SYNC_UNREACHABLE' } });
      expect(t.client.health().failures).toBeGreaterThanOrEqual(1);
      expect(t.client.health().retryAt).not.toBeNull();

      hub = await startHub(root, PORT);
      t.client.retryNow();
      await until('back', () => t.client.health().state === 'ready');
      expect(t.client.health()).toMatchObject({ error: null, failures: 0 });
    } finally {
      await t.close();
    }
  });
});
