// Personal data the sites keep or write, at rest: the shelter roster (through the shared opener, with
// migrations, its personal columns sealed), its CSV exports and the FHIR Coverage files — owner-only
// whatever the umask, and CSV cells a spreadsheet will not run as formulas.
import { existsSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { csvCell } from '../../main/core/sites/private-files.js';
import { rosterMigrations, ShelterRoster } from '../../main/core/sites/shelter/roster.js';
import {
  coverageFromDecision,
  writeCoverageToFolder,
} from '../../main/core/sites/hospital-reception/fhir.js';
import { makeDecision } from '../support/fake-core.js';
import { seededRandom } from '../support/seeded-random.js';

const key = Buffer.alloc(32, 7);
let previousUmask = 0;
beforeEach(() => {
  // The kiosk's umask does not decide who reads personal data.
  previousUmask = process.umask(0);
});
afterEach(() => {
  process.umask(previousUmask);
});

const mode = (path: string) => statSync(path).mode & 0o777;

/** Every byte SQLite has on disk for `file`: the database and its write-ahead log. */
function diskBytes(file: string): Buffer {
  return Buffer.concat([file, `${file}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
}

describe('shelter roster at rest', () => {
  it('is owner-only and keeps names, households and care needs sealed', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'jpki-roster-')), 'store');
    const roster = ShelterRoster.inDir(dir, key);
    roster.record({
      personRef: 'P-1',
      displayName: '避難 花子',
      householdId: 'HH-secret-77',
      careNeeds: ['insulin-daily'],
      registered: true,
      state: 'inside',
      at: Date.parse('2026-11-21T10:00:00Z'),
    });
    roster.record({
      personRef: 'P-1',
      registered: true,
      state: 'out',
      at: Date.parse('2026-11-21T11:00:00Z'),
    });
    expect(roster.entries()).toEqual([
      {
        personRef: 'P-1',
        displayName: '避難 花子',
        householdId: 'HH-secret-77',
        careNeeds: ['insulin-daily'],
        registered: true,
        state: 'out',
        since: '2026-11-21T11:00:00.000Z',
      },
    ]);
    expect(mode(dir)).toBe(0o700);
    for (const f of readdirSync(dir)) expect(mode(join(dir, f)), f).toBe(0o600);
    const bytes = diskBytes(roster.file);
    for (const secret of ['避難 花子', 'HH-secret-77', 'insulin-daily'])
      expect(bytes.includes(Buffer.from(secret, 'utf8')), secret).toBe(false);
    roster.close();
    // Another key does not open it: a typed error, not garbage.
    const other = new ShelterRoster(roster.file, Buffer.alloc(32, 8));
    expect(() => other.entries()).toThrow(expect.objectContaining({ code: 'STORE_CORRUPT' }));
    other.close();
  });

  it('an earlier clear roster is migrated through the shared opener and sealed in place', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jpki-roster-old-'));
    const file = join(dir, 'shelter-roster.db');
    const old = new Database(file);
    old.exec(rosterMigrations[0]!.sql);
    old
      .prepare(
        `INSERT INTO roster (person_ref, display_name, household_id, care_needs, registered, state, since)
         VALUES ('P-9', '旧 太郎', 'HH-old-5', '["wheelchair-old"]', 1, 'inside', 1)`,
      )
      .run();
    old.close();
    const roster = new ShelterRoster(file, key);
    expect(roster.entries()[0]).toMatchObject({
      personRef: 'P-9',
      displayName: '旧 太郎',
      householdId: 'HH-old-5',
      careNeeds: ['wheelchair-old'],
    });
    roster.close();
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(rosterMigrations.at(-1)!.version);
    const row = check
      .prepare('SELECT display_name, household_id, care_needs, sealed FROM roster')
      .get() as Record<string, unknown>;
    check.close();
    expect(row).toMatchObject({ display_name: null, household_id: null, care_needs: null });
    expect(Buffer.isBuffer(row.sealed)).toBe(true);
    expect(mode(file)).toBe(0o600);
    // The clear text is gone from the file, not only from the row (secure_delete).
    const bytes = diskBytes(file);
    for (const secret of ['旧 太郎', 'HH-old-5', 'wheelchair-old'])
      expect(bytes.includes(Buffer.from(secret, 'utf8')), secret).toBe(false);
  });
});

describe('CSV export', () => {
  it('is owner-only and escapes every cell a spreadsheet would run as a formula', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jpki-roster-csv-'));
    const roster = ShelterRoster.inDir(join(dir, 'store'), key);
    const hostile = ['=HYPERLINK("http://x","y")', '+81-3', '-2+3', '@SUM(A1)', '\tcalc', '\rcalc'];
    hostile.forEach((name, i) =>
      roster.record({ personRef: `P-${i}`, displayName: name, registered: false, state: 'inside', at: i }),
    );
    const out = join(dir, 'exports');
    const file = roster.exportCsv(out, new Date('2026-11-21T12:00:00Z'));
    roster.close();
    expect(mode(out)).toBe(0o700);
    expect(mode(file)).toBe(0o600);
    const text = readFileSync(file, 'utf8');
    for (const name of hostile) {
      expect(text).toContain(csvCell(name));
      expect(csvCell(name).replace(/^"/, '').startsWith("'")).toBe(true);
    }
    // No cell of the file starts with a formula character outside quotes after escaping.
    for (const line of text
      .replace(/^\uFEFF/, '')
      .split('\r\n')
      .slice(1, -1))
      expect(line.split(',')[1]).toMatch(/^("?')/);
  });

  it('leaves ordinary text as it was (seeded random names)', () => {
    const random = seededRandom(1414);
    const alphabet = 'abcあいう漢字 0123456789';
    for (let i = 0; i < 200; i++) {
      const len = 1 + Math.floor(random() * 12);
      let s = '';
      for (let j = 0; j < len; j++) s += alphabet[Math.floor(random() * alphabet.length)];
      expect(csvCell(s)).toBe(s);
    }
  });
});

describe('FHIR Coverage files', () => {
  it('are written owner-only into an owner-only folder', () => {
    const folder = join(mkdtempSync(join(tmpdir(), 'jpki-fhir-')), 'coverage');
    const decision = makeDecision({
      site: 'hospital-reception',
      staffView: {
        subjectId: 'S-1',
        insurance: { status: 'valid', insurerNumber: '06130012', number: '123' },
      },
    });
    const file = writeCoverageToFolder(coverageFromDecision(decision, 'T-1'), folder);
    expect(mode(folder)).toBe(0o700);
    expect(mode(file)).toBe(0o600);
    expect(readdirSync(folder)).toEqual([`coverage-${decision.id}.json`]);
  });
});
