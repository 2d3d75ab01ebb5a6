import { generateKeyPairSync, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run as journalCli } from '../../main/cli/journal-command.js';
import { verifyJournal, type JournalEntryInput, type JournalSealer } from '../../whitelist/journal.js';
import { TerminalStore } from '../../whitelist/terminal-store.js';
import { errorCode, tempDir } from './helpers.js';

const terminalKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
/** The terminal key's public half as the CLI reads it (--pubkey): seals are always checked. */
const pubkeyFile = join(tempDir('wl-journal-key-'), 'terminal.pem');
writeFileSync(pubkeyFile, terminalKey.publicKey.export({ type: 'spki', format: 'pem' }));
const sealer: JournalSealer = {
  keyId: 'terminal-key-1',
  sign: async (data) => sign('sha256', data, { key: terminalKey.privateKey, dsaEncoding: 'ieee-p1363' }),
};
const keyFor = (id: string) => (id === sealer.keyId ? terminalKey.publicKey : undefined);

const base = { terminalId: 't1', siteId: 's1', gateId: 'g1', direction: 'entry' } as const;
const grant = (subject: string): JournalEntryInput => ({
  ...base,
  kind: 'grant',
  subject,
  serialRef: 'ab'.repeat(16),
  outcome: 'admitted',
  reasons: ['ok'],
});

const stores: TerminalStore[] = [];
afterEach(() => stores.splice(0).forEach((s) => s.close()));

async function journalWith(n: number, sealEvery = 4): Promise<{ dir: string; file: string }> {
  const dir = tempDir('wl-journal-');
  const store = TerminalStore.open(dir);
  for (let i = 1; i <= n; i++) {
    const rec = store.journal.append(grant(`u-${i}`));
    if (i % 2 === 0) store.journal.append({ ...base, kind: 'passage', ref: rec.seq });
    await store.journal.sealIfDue(sealer, sealEvery);
  }
  store.close();
  return { dir, file: join(dir, 'terminal.db') };
}

/** Tampers with the file as a thief or insider with sqlite3 would: triggers are no obstacle to them. */
function tamper(file: string, sql: string): void {
  const db = new Database(file);
  db.exec('DROP TRIGGER IF EXISTS journal_no_update; DROP TRIGGER IF EXISTS journal_no_delete;');
  db.exec(sql);
  db.close();
}

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await journalCli(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

describe('journal', () => {
  it('appends hash-chained records with references, seals them, and verifies', async () => {
    const { file, dir } = await journalWith(6);
    const store = TerminalStore.open(dir);
    stores.push(store);
    expect(store.journal.head().seq).toBe(9);
    expect(store.journal.get(3)).toMatchObject({ kind: 'passage', ref: 2 });
    expect(store.journal.seals().length).toBeGreaterThanOrEqual(2);
    expect(verifyJournal(store.db, { keyFor })).toEqual({
      ok: true,
      records: 9,
      seals: store.journal.seals().length,
    });
    expect((await cli(['verify', '--pubkey', pubkeyFile, '--file', file])).code).toBe(0);
    // Another key than the one that sealed: the seals are checked, so this fails.
    const other = join(dir, 'other.pem');
    writeFileSync(
      other,
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }),
    );
    const wrong = await cli(['verify', '--pubkey', other, '--file', file]);
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/signature does not verify/);
  });

  it('retention: only acknowledged, old records go, cut at a seal; the rest still verifies, tampering still shows', async () => {
    const { dir, file } = await journalWith(10, 3);
    const store = TerminalStore.open(dir);
    stores.push(store);
    const head = store.journal.head().seq;
    const seals = store.journal.seals().map((x) => x.seq);
    // Nothing is acknowledged yet: nothing goes, however old.
    expect(store.journal.prune('9999-01-01T00:00:00.000Z')).toMatchObject({ removed: 0 });
    store.journal.markUploaded(8);
    // Newer than the cut-off: nothing goes.
    expect(store.journal.prune('2000-01-01T00:00:00.000Z')).toMatchObject({ removed: 0 });
    const keep = Math.max(...seals.filter((q) => q <= 8));
    const r = store.journal.prune('9999-01-01T00:00:00.000Z');
    expect(r).toEqual({ removed: keep - 1, from: keep });
    expect(store.journal.get(keep - 1)).toBeUndefined();
    expect(store.journal.get(keep)).toBeDefined();
    expect(store.journal.pendingUpload()).toBe(head - 8);
    expect(verifyJournal(store.db, { keyFor })).toMatchObject({ ok: true, records: head - keep + 1 });
    // Appending goes on from the head; the journal still verifies.
    store.journal.append(grant('after-prune'));
    expect(verifyJournal(store.db, { keyFor }).ok).toBe(true);
    store.close();
    stores.pop();
    expect((await cli(['verify', '--pubkey', pubkeyFile, '--file', file])).code).toBe(0);

    // The first kept record edited: its hash no longer follows the kept start.
    tamper(file, `UPDATE journal SET body = replace(body, '"entry"', '"exit"') WHERE seq = ${keep}`);
    expect((await cli(['verify', '--pubkey', pubkeyFile, '--file', file])).code).toBe(1);
  });

  it('retention: a journal cut where there is no seal is reported', async () => {
    const { dir, file } = await journalWith(10, 3);
    const store = TerminalStore.open(dir);
    store.journal.markUploaded(8);
    const { from } = store.journal.prune('9999-01-01T00:00:00.000Z');
    store.close();
    tamper(file, `DELETE FROM journal_seal WHERE seq = ${from}`);
    const res = await cli(['verify', '--pubkey', pubkeyFile, '--file', file, '--json']);
    expect(res.code).toBe(1);
    expect(JSON.parse(res.out).firstBad.problem).toMatch(/no seal/);
  });

  it('backup: an online copy while the journal is open, which verifies like the original', async () => {
    const { file, dir } = await journalWith(6);
    const store = TerminalStore.open(dir);
    stores.push(store);
    const copy = join(dir, 'backup.db');
    const res = await cli(['backup', copy, '--file', file, '--json']);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.out)).toMatchObject({ file: copy, records: 9 });
    expect((await cli(['verify', '--pubkey', pubkeyFile, '--file', copy])).code).toBe(0);
    // An existing file is never overwritten.
    await expect(cli(['backup', copy, '--file', file])).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('refuses bad entries with typed errors and appends nothing', () => {
    const store = TerminalStore.open(tempDir('wl-journal-'));
    stores.push(store);
    store.journal.append({ ...base, kind: 'decision', outcome: 'refused', reasons: ['revoked'] });
    expect(errorCode(() => store.journal.append({ ...base, kind: 'passage', ref: 1 }))).toBe(
      'INVALID_REQUEST',
    );
    expect(errorCode(() => store.journal.append({ ...base, kind: 'passage' }))).toBe('INVALID_REQUEST');
    expect(errorCode(() => store.journal.append({ ...base, kind: 'staff-annul', ref: 1 }))).toBe(
      'INVALID_REQUEST',
    );
    expect(errorCode(() => store.journal.append({ ...grant('x'), reasons: ['nonsense' as 'ok'] }))).toBe(
      'INVALID_REQUEST',
    );
    expect(errorCode(() => store.journal.append({ ...grant('x'), serialRef: '0123' }))).toBe(
      'INVALID_REQUEST',
    );
    expect(store.journal.head().seq).toBe(1);
    expect(
      store.journal.append({ ...base, kind: 'staff-annul', ref: 1, note: 'wrong gate', staffId: 'st-9' }).seq,
    ).toBe(2);
    // The file itself refuses in-place edits through SQLite.
    expect(() => store.db.prepare("UPDATE journal SET body = 'x' WHERE seq = 1").run()).toThrow(
      /append-only/,
    );
  });

  it('keeps an upload watermark that never moves backwards or past the head', () => {
    const store = TerminalStore.open(tempDir('wl-journal-'));
    stores.push(store);
    for (let i = 0; i < 5; i++) store.journal.append(grant(`u${i}`));
    expect(store.journal.readSince(0, 3).map((r) => r.seq)).toEqual([1, 2, 3]);
    store.journal.markUploaded(3);
    store.journal.markUploaded(2);
    expect(store.journal.uploadWatermark()).toBe(3);
    expect(store.journal.pendingUpload()).toBe(2);
    expect(store.journal.readSince(store.journal.uploadWatermark()).map((r) => r.seq)).toEqual([4, 5]);
    expect(errorCode(() => store.journal.markUploaded(6))).toBe('INVALID_REQUEST');
  });

  it.each([
    [
      'an edited record',
      `UPDATE journal SET body = replace(body, '"u-3"', '"u-X"') WHERE seq = 4`,
      4,
      /edited/,
    ],
    ['a deleted record', 'DELETE FROM journal WHERE seq = 4', 4, /missing/],
    [
      'two swapped records',
      `UPDATE journal SET seq = -1 WHERE seq = 3; UPDATE journal SET seq = 3 WHERE seq = 4; UPDATE journal SET seq = 4 WHERE seq = -1`,
      3,
      /reordered/,
    ],
    ['a deleted last record under a seal', 'DELETE FROM journal WHERE seq = 9', 9, /missing/],
  ])('names the first bad record after %s', async (_label, sql, seq, problem) => {
    const { file } = await journalWith(6, 3);
    tamper(file, sql);
    const res = await cli(['verify', '--pubkey', pubkeyFile, '--file', file, '--json']);
    expect(res.code).toBe(1);
    const parsed = JSON.parse(res.out) as {
      ok: boolean;
      firstBad: { seq: number; problem: string };
      error: { code: string };
    };
    expect(parsed.firstBad.seq).toBe(seq);
    expect(parsed.firstBad.problem).toMatch(problem);
    expect(parsed.error.code).toBe('JOURNAL_BROKEN');
    const human = await cli(['verify', '--pubkey', pubkeyFile, '--file', file]);
    expect(human.err).toContain(`record ${seq}`);
  });

  it('catches a chain rewritten with recomputed hashes through the seal signature', async () => {
    const { file } = await journalWith(6, 9); // one seal, at the last record
    const db = new Database(file);
    const { createHash } = await import('node:crypto');
    db.exec('DROP TRIGGER journal_no_update;');
    const rows = db.prepare('SELECT seq, body FROM journal ORDER BY seq').all() as Array<{
      seq: number;
      body: string;
    }>;
    let prev = Buffer.alloc(32);
    for (const r of rows) {
      const body = r.seq === 3 ? r.body.replace('"passage"', '"decision"') : r.body;
      const hash = createHash('sha256').update(prev).update(body).digest();
      db.prepare('UPDATE journal SET body = ?, hash = ? WHERE seq = ?').run(body, hash, r.seq);
      prev = hash;
    }
    // A forger without the terminal key cannot re-sign: patch the seal head to match the new chain.
    db.prepare('UPDATE journal_seal SET head = ?').run(prev);
    db.close();
    const ro = new Database(file, { readonly: true });
    const result = verifyJournal(ro, { keyFor });
    ro.close();
    expect(result.ok).toBe(false);
    expect(result.firstBad?.problem).toMatch(/seal signature does not verify/);
  });
});
