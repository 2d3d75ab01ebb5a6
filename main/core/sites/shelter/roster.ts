// The shelter roster: who checked in and out at this terminal, with the household and care needs the
// whitelist gave (or staff typed in for an unregistered evacuee). Kept in its own SQLite file next to the
// stores (opened through the project's opener: WAL, busy timeout, migrations) so it survives restarts
// and power loss, and exported as CSV with no network.
// At rest: the file is owner-only (0600 in a 0700 folder), and the personal columns — name, household,
// care needs — are sealed together with AES-256-GCM under a key derived from the fleet index key
// (secret, kept outside the data folder), bound to the row's person reference. A copy of the data folder
// alone shows only opaque references, states and times. Exports are owner-only too, and their cells are
// escaped so that a spreadsheet never runs a name as a formula.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { KioskError } from '../../../../base/errors.js';
import { migrate, openDb, type Db, type Migration } from '../../../../whitelist/db.js';
import type { RosterEntry } from '../../../api/contract.js';
import { csvCell, ownerOnlyDir, ownerOnlyFile, writeOwnerOnly } from '../private-files.js';

export interface RosterUpdate {
  personRef: string;
  displayName?: string;
  householdId?: string;
  careNeeds?: string[];
  registered: boolean;
  state: 'inside' | 'out';
  at: number;
}

interface Personal {
  displayName?: string;
  householdId?: string;
  careNeeds?: string[];
}

interface Row {
  person_ref: string;
  display_name: string | null;
  household_id: string | null;
  care_needs: string | null;
  sealed: Buffer | null;
  registered: number;
  state: 'inside' | 'out';
  since: number;
}

/** The roster file's own schema versions (10–19: this file's range of the shared numbering). */
export const rosterMigrations: Migration[] = [
  {
    // The table as earlier builds created it without a version (hence IF NOT EXISTS).
    version: 10,
    sql: `CREATE TABLE IF NOT EXISTS roster (
      person_ref TEXT PRIMARY KEY,
      display_name TEXT,
      household_id TEXT,
      care_needs TEXT,
      registered INTEGER NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('inside', 'out')),
      since INTEGER NOT NULL
    ) WITHOUT ROWID`,
  },
  // The personal columns sealed in one value; the clear columns stay only to migrate old rows (emptied).
  { version: 11, sql: 'ALTER TABLE roster ADD COLUMN sealed BLOB' },
];

const SEAL_VERSION = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** The key label under which the roster key is derived from the index key. */
export const RosterKeyLabel = 'shelter-roster/v1';

export class ShelterRoster {
  private readonly db: Db;
  private readonly getRow;
  private readonly put;
  private readonly all;

  /** `key`: 32 bytes that seal the personal columns (IndexKey.derive(RosterKeyLabel)). */
  constructor(
    readonly file: string,
    private readonly key: Buffer,
  ) {
    if (key.length !== 32) throw new KioskError('SECRET_INSECURE', 'the roster key must be 32 bytes');
    ownerOnlyFile(file);
    this.db = openDb(file, { durability: 'full' });
    try {
      // Freed cells are zeroed, so clear text an earlier build wrote does not linger in free pages.
      this.db.pragma('secure_delete = ON');
      migrate(this.db, rosterMigrations, file);
    } catch (error) {
      this.db.close();
      throw error;
    }
    this.getRow = this.db.prepare('SELECT * FROM roster WHERE person_ref = ?');
    this.put = this.db.prepare(`INSERT INTO roster
        (person_ref, display_name, household_id, care_needs, sealed, registered, state, since)
      VALUES (@personRef, NULL, NULL, NULL, @sealed, @registered, @state, @at)
      ON CONFLICT (person_ref) DO UPDATE SET display_name = NULL, household_id = NULL, care_needs = NULL,
        sealed = excluded.sealed, registered = excluded.registered, state = excluded.state,
        since = excluded.since`);
    this.all = this.db.prepare('SELECT * FROM roster ORDER BY state, since');
    this.sealClearRows();
  }

  static inDir(dir: string, key: Buffer): ShelterRoster {
    ownerOnlyDir(dir);
    return new ShelterRoster(join(dir, 'shelter-roster.db'), key);
  }

  record(update: RosterUpdate): void {
    // A check-in or -out keeps what staff registered earlier unless the whitelist now says more.
    this.db
      .transaction(() => {
        const prior = this.getRow.get(update.personRef) as Row | undefined;
        const before = prior ? this.personal(prior) : {};
        const merged: Personal = {
          ...before,
          ...(update.displayName ? { displayName: update.displayName } : {}),
          ...(update.householdId ? { householdId: update.householdId } : {}),
          ...(update.careNeeds ? { careNeeds: update.careNeeds } : {}),
        };
        this.put.run({
          personRef: update.personRef,
          sealed: this.seal(update.personRef, merged),
          registered: Math.max(prior?.registered ?? 0, update.registered ? 1 : 0),
          state: update.state,
          at: update.at,
        });
      })
      .immediate();
  }

  /** Staff registration of a person admitted as unregistered. False when the person is unknown. */
  registerDetails(
    personRef: string,
    details: { displayName: string; householdId?: string; careNeeds?: string[] },
  ): boolean {
    const prior = this.getRow.get(personRef) as Row | undefined;
    if (!prior) return false;
    this.put.run({
      personRef,
      sealed: this.seal(personRef, {
        displayName: details.displayName,
        ...(details.householdId ? { householdId: details.householdId } : {}),
        ...(details.careNeeds ? { careNeeds: details.careNeeds } : {}),
      }),
      registered: prior.registered,
      state: prior.state,
      at: prior.since,
    });
    return true;
  }

  entries(): RosterEntry[] {
    const entries = (this.all.all() as Row[]).map((r) => {
      const p = this.personal(r);
      return {
        personRef: r.person_ref,
        ...(p.displayName ? { displayName: p.displayName } : {}),
        ...(p.householdId ? { householdId: p.householdId } : {}),
        registered: r.registered === 1,
        state: r.state,
        since: new Date(r.since).toISOString(),
        ...(p.careNeeds ? { careNeeds: p.careNeeds } : {}),
      };
    });
    // Households together within each state (the household is sealed, so sorted here, not in SQL).
    return entries.sort(
      (a, b) =>
        a.state.localeCompare(b.state) ||
        (a.householdId ?? '').localeCompare(b.householdId ?? '') ||
        a.since.localeCompare(b.since),
    );
  }

  summary(): { inside: number; households: number; entries: RosterEntry[] } {
    const entries = this.entries();
    const inside = entries.filter((e) => e.state === 'inside');
    const households = new Set(inside.map((e) => e.householdId ?? e.personRef));
    return { inside: inside.length, households: households.size, entries };
  }

  /**
   * Writes the roster as CSV (UTF-8 with BOM so that spreadsheet programs read Japanese) into an
   * owner-only folder, mode 0600, and returns the path.
   */
  exportCsv(dir: string, now = new Date()): string {
    const stamp = now.toISOString().replace(/[-:]/g, '').slice(0, 13);
    const file = join(dir, `roster-${stamp}.csv`);
    const lines = [
      ['person_ref', 'display_name', 'household_id', 'registered', 'state', 'since', 'care_needs'].join(','),
    ];
    for (const e of this.entries()) {
      lines.push(
        [
          e.personRef,
          e.displayName ?? '',
          e.householdId ?? '',
          e.registered ? 'yes' : 'no',
          e.state,
          e.since,
          (e.careNeeds ?? []).join(';'),
        ]
          .map(csvCell)
          .join(','),
      );
    }
    writeOwnerOnly(file, '\uFEFF' + lines.join('\r\n') + '\r\n');
    return file;
  }

  close(): void {
    this.db.close();
  }

  // ------------------------------------------------------------------------------------------------

  /** version ‖ iv(12) ‖ ciphertext ‖ tag(16); the person reference is the associated data. */
  private seal(personRef: string, personal: Personal): Buffer | null {
    if (!personal.displayName && !personal.householdId && !personal.careNeeds) return null;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(personRef, 'utf8'));
    const body = Buffer.concat([cipher.update(JSON.stringify(personal), 'utf8'), cipher.final()]);
    return Buffer.concat([Buffer.of(SEAL_VERSION), iv, body, cipher.getAuthTag()]);
  }

  private personal(row: Row): Personal {
    if (!row.sealed) {
      // A row an earlier build wrote in clear (sealed when the file is opened).
      return {
        ...(row.display_name ? { displayName: row.display_name } : {}),
        ...(row.household_id ? { householdId: row.household_id } : {}),
        ...(row.care_needs ? { careNeeds: JSON.parse(row.care_needs) as string[] } : {}),
      };
    }
    const sealed = row.sealed;
    if (sealed.length < 1 + IV_BYTES + TAG_BYTES || sealed[0] !== SEAL_VERSION)
      throw new KioskError('STORE_CORRUPT', `${this.file}: a roster row has an unknown seal format`);
    const decipher = createDecipheriv('aes-256-gcm', this.key, sealed.subarray(1, 1 + IV_BYTES));
    decipher.setAAD(Buffer.from(row.person_ref, 'utf8'));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    try {
      const plain = Buffer.concat([
        decipher.update(sealed.subarray(1 + IV_BYTES, sealed.length - TAG_BYTES)),
        decipher.final(),
      ]);
      return JSON.parse(plain.toString('utf8')) as Personal;
    } catch {
      throw new KioskError(
        'STORE_CORRUPT',
        `${this.file}: a roster row does not open with this terminal's key (another index key, or tampered)`,
      );
    }
  }

  /** Seals what an earlier build left in clear, in one transaction. */
  private sealClearRows(): void {
    const clear = this.db
      .prepare(
        'SELECT * FROM roster WHERE display_name IS NOT NULL OR household_id IS NOT NULL OR care_needs IS NOT NULL',
      )
      .all() as Row[];
    if (clear.length === 0) return;
    this.db
      .transaction(() => {
        for (const row of clear)
          this.put.run({
            personRef: row.person_ref,
            sealed: this.seal(row.person_ref, this.personal(row)),
            registered: row.registered,
            state: row.state,
            at: row.since,
          });
      })
      .immediate();
  }
}
