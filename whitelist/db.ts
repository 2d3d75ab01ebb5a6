// Opening SQLite files with the project's settings, and schema migrations by PRAGMA user_version.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { KioskError } from '../base/errors.js';

export type Db = Database.Database;

/**
 * 'full': WAL + synchronous=FULL — a commit is on disk when it returns (journal, presence).
 * 'normal': WAL + synchronous=NORMAL — a power cut may undo the last commits but never corrupts
 * (whitelist and revocation feeds: their sequence number rolls back with their content, and sync re-pulls).
 */
export type Durability = 'full' | 'normal';

export interface Migration {
  version: number;
  sql: string;
}

export function openDb(
  file: string,
  options: { durability: Durability; readonly?: boolean; create?: boolean },
): Db {
  let db: Db;
  try {
    if (options.create !== false && !options.readonly) mkdirSync(dirname(file), { recursive: true });
    db = new Database(file, { readonly: options.readonly ?? false, fileMustExist: options.create === false });
  } catch (error) {
    throw new KioskError(
      'STORE_UNAVAILABLE',
      `cannot open ${file}: ${(error as Error).message}`,
      { file },
      { cause: error },
    );
  }
  try {
    if (!options.readonly) {
      db.pragma('journal_mode = WAL');
      db.pragma(`synchronous = ${options.durability === 'full' ? 'FULL' : 'NORMAL'}`);
    }
    db.pragma('foreign_keys = ON');
    db.pragma('cache_size = -16000');
    db.pragma('busy_timeout = 5000');
  } catch (error) {
    db.close();
    throw new KioskError(
      'STORE_CORRUPT',
      `${file} is not a usable SQLite database: ${(error as Error).message}`,
      { file },
      {
        cause: error,
      },
    );
  }
  return db;
}

/** Applies the migrations above the file's user_version, each in its own transaction. */
export function migrate(db: Db, migrations: readonly Migration[], file: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  const latest = migrations[migrations.length - 1]?.version ?? 0;
  if (current > latest)
    throw new KioskError(
      'STORE_UNAVAILABLE',
      `${file} has schema version ${current}, newer than this build (${latest})`,
      {
        file,
      },
    );
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}

export function integrityCheck(db: Db): string {
  const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
  return rows.map((r) => r.integrity_check).join('; ');
}
