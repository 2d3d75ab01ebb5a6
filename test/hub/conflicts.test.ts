// Double entries across terminals: two gates of a stadium admitting the same subject while the hub has
// them inside through the other gate are flagged once, whatever order or how often the journals arrive;
// an exit or an annulment in between, or a shelter, means no conflict; an operator closes one.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PushRecord } from '../../protocol/sync.js';
import { chainHash } from '../../whitelist/journal.js';
import { presenceFromRow } from '../../hub/presence.js';
import { SqliteHubStore } from '../../hub/sqlite-store.js';
import type { HubStore } from '../../hub/store.js';
import { run } from '../../main/cli/hub-command.js';
import { openHubDir } from '../../hub/hub-dir.js';
import { cleanup, startHub, tempDir } from '../sync/helpers.js';
import { captureStdout } from '../support/capture-stdout.js';
import { hubStoreKinds, useHubStores } from './stores.js';

const T0 = Date.parse('2026-11-21T10:00:00Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();

/** A terminal's journal as it would push it: hash-chained rows with the fields presence.ts reads. */
class GateJournal {
  readonly rows: PushRecord[] = [];
  private prev: Buffer = Buffer.alloc(32);

  constructor(
    readonly terminalId: string,
    readonly gateId: string,
    readonly siteId: string,
  ) {}

  private append(fields: Record<string, unknown>): number {
    const seq = this.rows.length + 1;
    const body = JSON.stringify({
      seq,
      terminalId: this.terminalId,
      siteId: this.siteId,
      gateId: this.gateId,
      reasons: [],
      mono: seq,
      boot: 'test-boot',
      ...fields,
    });
    const hash = chainHash(this.prev, body);
    this.prev = hash;
    this.rows.push({ seq, body, hash: hash.toString('hex') });
    return seq;
  }

  /** A grant and the gate's passage one second later; returns the grant's seq. */
  admit(subject: string, second: number, direction: 'entry' | 'exit' = 'entry'): number {
    const grant = this.append({ kind: 'grant', direction, subject, wall: at(second) });
    this.append({ kind: 'passage', direction, ref: grant, wall: at(second + 1) });
    return grant;
  }

  /** A grant the person never used: the gate did not turn. */
  grantAnnulled(subject: string, second: number): number {
    const grant = this.append({ kind: 'grant', direction: 'entry', subject, wall: at(second) });
    this.append({ kind: 'annulment', direction: 'entry', ref: grant, wall: at(second + 8) });
    return grant;
  }
}

function register(store: HubStore, gate: GateJournal, siteKind: string): void {
  store.registerTerminal(
    {
      terminalId: gate.terminalId,
      // Each terminal its own (placeholder) key: the store refuses one key for two terminals.
      publicKeyPem: `unused-${gate.terminalId}`,
      siteId: gate.siteId,
      gateId: gate.gateId,
      zone: 'main',
      siteKind,
    },
    T0,
  );
}

function push(store: HubStore, gate: GateJournal, rows: PushRecord[] = gate.rows): void {
  const terminal = { terminalId: gate.terminalId, gateId: gate.gateId, zone: 'main' };
  store.acceptJournal(
    gate.terminalId,
    rows,
    T0 + 3_600_000,
    (row, lookup) =>
      presenceFromRow(row, lookup, terminal, { receivedAt: T0 + 3_600_000, maxSkewMs: 300_000 }),
    (fromSeq, ops) => ({ fromSeq, toSeq: fromSeq + ops.length, frameGz: Buffer.alloc(1) }),
  );
}

const stores = useHubStores();

describe.each(hubStoreKinds)('hub double-entry conflicts (%s store)', (kind) => {
  let root: string;
  let store: HubStore;
  let gateA: GateJournal;
  let gateB: GateJournal;

  beforeEach(async () => {
    root = tempDir('conflicts');
    store = (await stores.create(kind, root)).store;
    gateA = new GateJournal('stadium-a', 'north', 'stadium-1');
    gateB = new GateJournal('stadium-b', 'south', 'stadium-1');
    register(store, gateA, 'stadium-gate');
    register(store, gateB, 'stadium-gate');
  });
  afterEach(() => {
    store.close();
    cleanup(root);
  });

  it('two gates admitting the same subject give exactly one conflict, also when the pushes are replayed', () => {
    const first = gateA.admit('S-1', 0);
    const second = gateB.admit('S-1', 60);
    gateA.admit('S-2', 5); // someone else: no conflict
    push(store, gateA);
    push(store, gateB);
    const conflicts = store.conflicts({ openOnly: true });
    expect(conflicts).toEqual([
      expect.objectContaining({
        siteId: 'stadium-1',
        subject: 'S-1',
        earlier: { terminalId: 'stadium-a', gateId: 'north', at: T0, journalSeq: first },
        later: { terminalId: 'stadium-b', gateId: 'south', at: T0 + 60_000, journalSeq: second },
        detectedAt: T0 + 3_600_000,
        resolvedAt: null,
      }),
    ]);

    push(store, gateB);
    push(store, gateA);
    push(store, gateB, gateB.rows.slice(1));
    expect(store.conflicts()).toHaveLength(1);
  });

  it('an exit at A before the entry at B is no conflict', () => {
    gateA.admit('S-1', 0);
    gateA.admit('S-1', 30, 'exit');
    gateB.admit('S-1', 60);
    push(store, gateA);
    push(store, gateB);
    expect(store.conflicts()).toEqual([]);
  });

  it('a late journal from A names B’s entry as the later one', () => {
    const second = gateB.admit('S-1', 60);
    const first = gateA.admit('S-1', 0);
    push(store, gateB);
    expect(store.conflicts()).toEqual([]);
    push(store, gateA);
    const [conflict, ...more] = store.conflicts();
    expect(more).toEqual([]);
    expect(conflict).toMatchObject({
      earlier: { terminalId: 'stadium-a', at: T0, journalSeq: first },
      later: { terminalId: 'stadium-b', at: T0 + 60_000, journalSeq: second },
    });
  });

  it('an exit at A that arrives after the conflict was flagged closes it as void', () => {
    gateA.admit('S-1', 0);
    gateB.admit('S-1', 60);
    push(store, gateA);
    push(store, gateB);
    expect(store.conflicts({ openOnly: true })).toHaveLength(1);
    gateA.admit('S-1', 30, 'exit');
    push(store, gateA);
    expect(store.conflicts({ openOnly: true })).toEqual([]);
    expect(store.conflicts()[0]).toMatchObject({ resolvedBy: 'hub' });
  });

  it('an annulled entry (the gate did not turn) does not count as inside', () => {
    gateA.grantAnnulled('S-1', 0);
    gateB.admit('S-1', 3); // between A's grant and its annulment
    push(store, gateA);
    push(store, gateB);
    expect(store.conflicts()).toEqual([]);
  });

  it('an annulment that arrives after the conflict was flagged closes it as void', () => {
    gateA.admit('S-1', 0);
    const unused = gateB.grantAnnulled('S-1', 60);
    push(store, gateA);
    push(
      store,
      gateB,
      gateB.rows.filter((r) => r.seq === unused),
    );
    expect(store.conflicts({ openOnly: true })).toHaveLength(1);
    push(store, gateB);
    expect(store.conflicts({ openOnly: true })).toEqual([]);
  });

  it('the same gate admitting twice is the gate’s own anti-passback, not a conflict between gates', () => {
    gateA.admit('S-1', 0);
    gateA.admit('S-1', 60);
    push(store, gateA);
    expect(store.conflicts()).toEqual([]);
  });

  it('a second check-in at a shelter is harmless; reception records nothing', () => {
    const doorA = new GateJournal('shelter-a', 'front', 'hall-7');
    const doorB = new GateJournal('shelter-b', 'back', 'hall-7');
    const deskA = new GateJournal('desk-a', 'desk', 'clinic');
    const deskB = new GateJournal('desk-b', 'desk2', 'clinic');
    register(store, doorA, 'shelter');
    register(store, doorB, 'shelter');
    register(store, deskA, 'hospital-reception');
    register(store, deskB, 'hospital-reception');
    for (const [one, two] of [
      [doorA, doorB],
      [deskA, deskB],
    ] as const) {
      one.admit('S-1', 0);
      two.admit('S-1', 60);
      push(store, one);
      push(store, two);
    }
    expect(store.presence('hall-7')).toEqual([expect.objectContaining({ state: 'inside' })]);
    expect(store.conflicts()).toEqual([]);
  });

  it('an operator resolves a conflict with a note; it leaves the open list', () => {
    gateA.admit('S-1', 0);
    gateB.admit('S-1', 60);
    push(store, gateA);
    push(store, gateB);
    const [open] = store.conflicts({ siteId: 'stadium-1', openOnly: true });
    const resolved = store.resolveConflict(open!.id, {
      note: 'ticket shared; holder asked to leave',
      by: 'steward-3',
      at: T0 + 7_200_000,
    });
    expect(resolved).toMatchObject({ resolvedBy: 'steward-3', resolvedAt: T0 + 7_200_000 });
    expect(store.conflicts({ openOnly: true })).toEqual([]);
    expect(store.conflicts({ siteId: 'stadium-1' })).toEqual([resolved]);
    expect(store.conflicts({ siteId: 'elsewhere' })).toEqual([]);
    expect(() => store.resolveConflict(open!.id, { note: 'again', by: 'x', at: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_REQUEST' }),
    );
    expect(() => store.resolveConflict(9999, { note: 'none', by: 'x', at: 0 })).toThrow(
      expect.objectContaining({ code: 'INVALID_REQUEST' }),
    );
  });
});

describe('hub double-entry conflicts: SQLite schema upgrade', () => {
  let root: string;
  let store: HubStore;
  let gateA: GateJournal;
  let gateB: GateJournal;

  beforeEach(() => {
    root = tempDir('conflicts');
    store = new SqliteHubStore(join(root, 'hub.db'));
    gateA = new GateJournal('stadium-a', 'north', 'stadium-1');
    gateB = new GateJournal('stadium-b', 'south', 'stadium-1');
  });
  afterEach(() => {
    store.close();
    cleanup(root);
  });

  it('a hub.db of the previous schema gains the conflict tables when opened', () => {
    const file = join(root, 'hub.db');
    store.close();
    const old = new Database(file);
    old.exec('DROP TABLE entry_conflict; DROP TABLE presence_event; DROP TABLE request_nonce;');
    // and the sync v2 columns (migration 3), so that the file is the schema-1 file it claims to be
    old.exec(
      'ALTER TABLE batch DROP COLUMN digest; ALTER TABLE feed DROP COLUMN digest; ALTER TABLE feed DROP COLUMN lineage;',
    );
    // and the fleet's (migration 20)
    old.exec(
      'DROP TABLE enrolment_code; DROP INDEX terminal_by_key; ALTER TABLE terminal DROP COLUMN state; ALTER TABLE terminal DROP COLUMN state_reason; ALTER TABLE terminal DROP COLUMN state_at;',
    );
    old.pragma('user_version = 1');
    old.close();
    store = new SqliteHubStore(file);
    register(store, gateA, 'stadium-gate');
    register(store, gateB, 'stadium-gate');
    gateA.admit('S-1', 0);
    gateB.admit('S-1', 60);
    push(store, gateA);
    push(store, gateB);
    expect(store.conflicts()).toHaveLength(1);
  });
});

describe('hub status page: open conflicts', () => {
  it('lists open conflicts per site in status.json and the HTML page', async () => {
    const root = tempDir('conflicts-status');
    const hub = await startHub(root, 0);
    try {
      const gateA = new GateJournal('stadium-a', 'north', 'stadium-1');
      const gateB = new GateJournal('stadium-b', 'south', 'stadium-1');
      register(hub.dir.store, gateA, 'stadium-gate');
      register(hub.dir.store, gateB, 'stadium-gate');
      gateA.admit('S-1', 0);
      gateB.admit('S-1', 60);
      gateA.admit('S-2', 0);
      gateB.admit('S-2', 90);
      push(hub.dir.store, gateA);
      push(hub.dir.store, gateB);
      const json = (await (await fetch(`${hub.url}/status.json`)).json()) as {
        conflicts: Array<{ siteId: string; open: number; recent: Array<{ subject: string }> }>;
      };
      expect(json.conflicts).toEqual([
        {
          siteId: 'stadium-1',
          open: 2,
          recent: [
            expect.objectContaining({ subject: 'S-2', later: expect.objectContaining({ gateId: 'south' }) }),
            expect.objectContaining({ subject: 'S-1' }),
          ],
        },
      ]);
      const html = await (await fetch(`${hub.url}/`)).text();
      expect(html).toContain('stadium-1 — 2 open conflicts');
      expect(html).toContain(`south, stadium-b, ${at(60)}`);

      const [first] = hub.dir.store.conflicts({ openOnly: true });
      hub.dir.store.resolveConflict(first!.id, { note: 'checked', by: 'op', at: Date.now() });
      const after = (await (await fetch(`${hub.url}/status.json`)).json()) as {
        conflicts: Array<{ open: number }>;
      };
      expect(after.conflicts).toEqual([expect.objectContaining({ open: 1 })]);
    } finally {
      await hub.stop();
      cleanup(root);
    }
  });
});

describe('hub CLI: conflicts and resolve-conflict', () => {
  const cli = (...args: string[]) => captureStdout(() => run(args));

  it('lists open conflicts of a site as JSON and closes one with a note', async () => {
    const root = tempDir('conflicts-cli');
    try {
      writeFileSync(join(root, 'index-key'), 'ab'.repeat(32) + '\n', { mode: 0o600 });
      const common = ['--dir', join(root, 'hub'), '--index-key', join(root, 'index-key')];
      const dir = openHubDir(join(root, 'hub'), { indexKeyFile: join(root, 'index-key') });
      const gateA = new GateJournal('stadium-a', 'north', 'stadium-1');
      const gateB = new GateJournal('stadium-b', 'south', 'stadium-1');
      register(dir.store, gateA, 'stadium-gate');
      register(dir.store, gateB, 'stadium-gate');
      gateA.admit('S-1', 0);
      gateB.admit('S-1', 60);
      push(dir.store, gateA);
      push(dir.store, gateB);
      dir.close();

      const listed = await cli('conflicts', '--site', 'stadium-1', '--json', ...common);
      expect(listed.code).toBe(0);
      const [conflict, ...more] = JSON.parse(listed.stdout) as Array<{ id: number; subject: string }>;
      expect(more).toEqual([]);
      expect(conflict).toMatchObject({ subject: 'S-1' });
      expect(JSON.parse((await cli('conflicts', '--site', 'other', '--json', ...common)).stdout)).toEqual([]);

      await expect(cli('resolve-conflict', String(conflict!.id), ...common)).rejects.toMatchObject({
        code: 'INVALID_REQUEST',
      });
      const resolved = await cli(
        'resolve-conflict',
        String(conflict!.id),
        '--note',
        'shared ticket',
        '--operator',
        'steward-3',
        '--json',
        ...common,
      );
      expect(resolved.code).toBe(0);
      expect(JSON.parse(resolved.stdout)).toMatchObject({ resolvedBy: 'steward-3', note: 'shared ticket' });
      expect(JSON.parse((await cli('conflicts', '--json', ...common)).stdout)).toEqual([]);
      expect(JSON.parse((await cli('conflicts', '--all', '--json', ...common)).stdout)).toHaveLength(1);
    } finally {
      cleanup(root);
    }
  });
});
