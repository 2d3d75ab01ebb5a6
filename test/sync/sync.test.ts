// End to end through the real stack: hub (fastify + SQLite) on loopback, terminal stores (SQLite),
// signed requests and signed batches. Each fault is proven by assertions on both databases.
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
} from './helpers.js';

describe('sync: pull and push through a real hub', () => {
  let root: string;
  let hub: TestHub;

  beforeEach(async () => {
    root = tempDir('basic');
    hub = await startHub(root, 0);
  });
  afterEach(async () => {
    await hub.stop();
    cleanup(root);
  });

  it('pulls the whitelist and revocations, then only the difference', async () => {
    const rows = Array.from({ length: 50 }, (_, i) => cardRow(i));
    hub.dir.publisher.publishWhitelist(rows, 'test');
    hub.dir.publisher.publishRevocations(
      rows[3]!.issuerKeyId,
      [
        {
          issuerKeyId: rows[3]!.issuerKeyId,
          serial: rows[3]!.serial,
          at: 1_700_000_000,
          reason: 'keyCompromise',
        },
      ],
      'crl 1',
    );
    const t = openTerminal(root, 'term-1', hub.dir, hub.url);
    try {
      const report = await t.client.syncNow();
      expect(report.ok).toBe(true);
      expect(lookup(t, rows[7]!).card?.subject).toBe('S7');
      expect(lookup(t, rows[3]!).revoked?.reason).toBe('keyCompromise');
      expect(lookup(t, rows[4]!).revoked).toBeNull();
      const status = t.client.status();
      expect(status.feeds.whitelist?.sequence).toBe(50);
      expect(status.feeds.whitelist?.lastSuccessAt).not.toBeNull();
      expect(status.dataAgeSeconds).not.toBeNull();
      expect(status.dataAgeSeconds!).toBeLessThan(5);
      expect(Math.abs(status.clockSkewMs!)).toBeLessThan(2_000);
      expect(status.clockFault).toBe(false);

      // Change one row, drop one, add one: three operations travel as one delta.
      const next = rows.filter((_, i) => i !== 10).map((r, i) => (i === 0 ? cardRow(0, 'v2') : r));
      next.push(cardRow(99));
      const summary = hub.dir.publisher.publishWhitelist(next, 'test 2');
      expect(summary).toMatchObject({ puts: 2, dels: 1, unchanged: 48 });
      const second = await t.client.syncNow();
      expect(second.pulls.whitelist).toMatchObject({ applied: 1, snapshot: false, sequence: 53 });
      expect(lookup(t, rows[10]!).card).toBeNull();
      expect(lookup(t, cardRow(99)).card?.subject).toBe('S99');
      expect(lookup(t, cardRow(0, 'v2')).card?.entitlements[0]).toMatchObject({ memberId: 'm0-v2' });
    } finally {
      await t.close();
    }
  });

  it('sends a snapshot to a terminal that is too far behind, and installs it whole', async () => {
    await hub.stop();
    hub = await startHub(root, 0, { snapshotMinOps: 10 });
    hub.dir.publisher.publishWhitelist(
      Array.from({ length: 300 }, (_, i) => cardRow(i)),
      'big',
    );
    const t = openTerminal(root, 'term-snap', hub.dir, hub.url);
    try {
      const report = await t.client.syncNow();
      expect(report.pulls.whitelist).toMatchObject({ snapshot: true, sequence: 300 });
      expect(t.data.whitelist.rowCount()).toBe(300);
      expect(t.data.whitelist.feedState().epoch).toBe(hub.dir.store.feedInfo('whitelist').epoch);
      expect(lookup(t, cardRow(299)).card?.subject).toBe('S299');
      // Later changes arrive as deltas on top of the snapshot.
      hub.dir.publisher.publishWhitelist(
        Array.from({ length: 301 }, (_, i) => cardRow(i)),
        'one more',
      );
      const again = await t.client.syncNow();
      expect(again.pulls.whitelist).toMatchObject({ snapshot: false, applied: 1, sequence: 301 });
      expect(t.data.whitelist.rowCount()).toBe(301);
    } finally {
      await t.close();
    }
  });

  it('pushes the journal idempotently and relays entries to another gate (peer entries)', async () => {
    const a = openTerminal(root, 'gate-a-1', hub.dir, hub.url);
    const b = openTerminal(root, 'gate-b-1', hub.dir, hub.url);
    try {
      for (let i = 0; i < 5; i++) journalEntry(a, `P${i}`);
      const r1 = await a.client.push();
      expect(r1).toMatchObject({ sent: 5, acked: 5, duplicates: 0 });
      expect(hub.dir.store.journalCount('gate-a-1')).toBe(5);
      expect(a.data.journal.pendingUpload()).toBe(0);

      // An answer lost on the way back looks like this to the terminal: push again from an older mark.
      const db = (
        a.data.terminal as unknown as { db: { prepare(s: string): { run(...a: unknown[]): unknown } } }
      ).db;
      db.prepare("UPDATE journal_meta SET value = 2 WHERE key = 'uploaded_seq'").run();
      journalEntry(a, 'P5');
      const r2 = await a.client.push();
      expect(r2).toMatchObject({ sent: 4, acked: 6, duplicates: 3 });
      expect(hub.dir.store.journalCount('gate-a-1')).toBe(6);

      await b.client.pull('peer-entries');
      expect(b.data.terminal.presence('P5')?.state).toBe('inside');
      expect(b.data.terminal.presence('P0')).toMatchObject({ state: 'inside', terminalId: 'gate-a-1' });
      expect(b.data.terminal.peerFeedState().seq).toBe(6);

      // A gate at another site learns nothing of these entries.
      const c = openTerminal(root, 'elsewhere-1', hub.dir, hub.url, { site: 'site-2' });
      try {
        await c.client.pull('peer-entries');
        expect(c.data.terminal.presence('P0')).toBeUndefined();
        expect(c.data.terminal.peerFeedState().seq).toBe(0);
      } finally {
        await c.close();
      }
    } finally {
      await a.close();
      await b.close();
    }
  });
});
