// Files of personal data the sites write (shelter roster and its CSV exports, FHIR Coverage files):
// folders 0700 and files 0600 whatever the process umask, so that other accounts on the kiosk read none
// of it. An existing folder or file is tightened, not trusted.
import { chmodSync, closeSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/** Creates `dir` (and parents) and makes `dir` itself owner-only. */
export function ownerOnlyDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
}

/** Makes sure `file` exists with mode 0600 (SQLite then creates its -wal and -shm files alike). */
export function ownerOnlyFile(file: string): void {
  ownerOnlyDir(dirname(file));
  closeSync(openSync(file, 'a', 0o600));
  chmodSync(file, 0o600);
}

/** Writes `data` to `file` (mode 0600) through a temporary name, so a watcher never sees half a file. */
export function writeOwnerOnly(file: string, data: string | Uint8Array): void {
  ownerOnlyDir(dirname(file));
  const part = `${file}.part`;
  writeFileSync(part, data, { mode: 0o600 });
  chmodSync(part, 0o600);
  renameSync(part, file);
}

/**
 * A CSV cell that a spreadsheet will not run as a formula: text starting with = + - @, a tab or a carriage
 * return gets a leading apostrophe (OWASP's advice for CSV injection); then RFC 4180 quoting.
 */
export function csvCell(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}
