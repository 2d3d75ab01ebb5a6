// The shelter roster: who checked in and out at this terminal, with the household and care needs the
// whitelist gave (or staff typed in for an unregistered evacuee). Kept in its own SQLite file next to the
// stores so it survives restarts and power loss, and exported as CSV with no network.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { RosterEntry } from '../../../api/contract.js';

export interface RosterUpdate {
  personRef: string;
  displayName?: string;
  householdId?: string;
  careNeeds?: string[];
  registered: boolean;
  state: 'inside' | 'out';
  at: number;
}

interface Row {
  person_ref: string;
  display_name: string | null;
  household_id: string | null;
  care_needs: string | null;
  registered: number;
  state: 'inside' | 'out';
  since: number;
}

export class ShelterRoster {
  private readonly db: Database.Database;
  private readonly upsert;
  private readonly register;
  private readonly all;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS roster (
      person_ref TEXT PRIMARY KEY,
      display_name TEXT,
      household_id TEXT,
      care_needs TEXT,
      registered INTEGER NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('inside', 'out')),
      since INTEGER NOT NULL
    ) WITHOUT ROWID`);
    // A check-in or -out keeps what staff registered earlier unless the whitelist now says more.
    this.upsert = this.db
      .prepare(`INSERT INTO roster (person_ref, display_name, household_id, care_needs, registered, state, since)
      VALUES (@personRef, @displayName, @householdId, @careNeeds, @registered, @state, @at)
      ON CONFLICT (person_ref) DO UPDATE SET
        display_name = COALESCE(excluded.display_name, roster.display_name),
        household_id = COALESCE(excluded.household_id, roster.household_id),
        care_needs = COALESCE(excluded.care_needs, roster.care_needs),
        registered = MAX(roster.registered, excluded.registered),
        state = excluded.state,
        since = excluded.since`);
    this.register = this.db.prepare(
      'UPDATE roster SET display_name = @displayName, household_id = @householdId, care_needs = @careNeeds WHERE person_ref = @personRef',
    );
    this.all = this.db.prepare('SELECT * FROM roster ORDER BY state, household_id, since');
  }

  static inDir(dir: string): ShelterRoster {
    mkdirSync(dir, { recursive: true });
    return new ShelterRoster(join(dir, 'shelter-roster.db'));
  }

  record(update: RosterUpdate): void {
    this.upsert.run({
      personRef: update.personRef,
      displayName: update.displayName ?? null,
      householdId: update.householdId ?? null,
      careNeeds: update.careNeeds ? JSON.stringify(update.careNeeds) : null,
      registered: update.registered ? 1 : 0,
      state: update.state,
      at: update.at,
    });
  }

  /** Staff registration of a person admitted as unregistered. False when the person is unknown. */
  registerDetails(
    personRef: string,
    details: { displayName: string; householdId?: string; careNeeds?: string[] },
  ): boolean {
    return (
      this.register.run({
        personRef,
        displayName: details.displayName,
        householdId: details.householdId ?? null,
        careNeeds: details.careNeeds ? JSON.stringify(details.careNeeds) : null,
      }).changes > 0
    );
  }

  entries(): RosterEntry[] {
    return (this.all.all() as Row[]).map((r) => ({
      personRef: r.person_ref,
      ...(r.display_name ? { displayName: r.display_name } : {}),
      ...(r.household_id ? { householdId: r.household_id } : {}),
      registered: r.registered === 1,
      state: r.state,
      since: new Date(r.since).toISOString(),
      ...(r.care_needs ? { careNeeds: JSON.parse(r.care_needs) as string[] } : {}),
    }));
  }

  summary(): { inside: number; households: number; entries: RosterEntry[] } {
    const entries = this.entries();
    const inside = entries.filter((e) => e.state === 'inside');
    const households = new Set(inside.map((e) => e.householdId ?? e.personRef));
    return { inside: inside.length, households: households.size, entries };
  }

  /** Writes the roster as CSV (UTF-8 with BOM so that spreadsheet programs read Japanese) and returns the path. */
  exportCsv(dir: string, now = new Date()): string {
    mkdirSync(dir, { recursive: true });
    const stamp = now.toISOString().replace(/[-:]/g, '').slice(0, 13);
    const file = join(dir, `roster-${stamp}.csv`);
    const quote = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
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
          .map(quote)
          .join(','),
      );
    }
    writeFileSync(file, '\uFEFF' + lines.join('\r\n') + '\r\n');
    return file;
  }

  close(): void {
    this.db.close();
  }
}
