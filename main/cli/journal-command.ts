// `jpki-kiosk journal verify|tail`: check the entry journal's chain and seals; show the newest records.
import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig, type KioskConfig } from '../../config/load.js';
import { hsmFromConfig, TERMINAL_KEY_LABEL } from '../../hsm/config.js';
import { KioskError } from '../../base/errors.js';
import { openDb } from '../../whitelist/db.js';
import { Journal, verifyJournal } from '../../whitelist/journal.js';
import { storeDir } from '../../whitelist/kiosk-data.js';

const USAGE = `usage: jpki-kiosk journal verify [--config FILE | --file terminal.db] [--pubkey PEM] [--json]
       jpki-kiosk journal tail   [--config FILE | --file terminal.db] [--limit N] [--json]
       jpki-kiosk journal backup FILE [--config FILE | --file terminal.db] [--json]
       jpki-kiosk journal prune [--older-than DAYS] [--config FILE | --file terminal.db] [--json]

  verify   the hash chain, and every HSM seal's signature: with the key in --pubkey, else the terminal's
           own key read from its HSM (label ${TERMINAL_KEY_LABEL}); no key at all is a failure, not a skip
  tail     the newest records
  backup   an online copy (SQLite backup API) of the journal database into FILE while the kiosk runs;
           FILE must not exist. The copy verifies like the original.
  prune    retention: remove records the hub has acknowledged and older than DAYS (default the
           configuration's data.journalRetentionDays), cut at a sealed record; never an unacknowledged one`;

/** The terminal's own public key (the one that seals), read from its HSM; typed HSM_* errors otherwise. */
async function terminalPublicKey(config: KioskConfig): Promise<string> {
  const hsm = hsmFromConfig(config, { retry: { baseMs: 60_000, capMs: 60_000 } });
  try {
    await hsm.start();
    if (hsm.state !== 'ready') {
      const e = hsm.status().error;
      throw new KioskError(
        e?.code ?? 'HSM_UNAVAILABLE',
        `${e?.message ?? 'HSM unavailable'}: the seals cannot be checked without the terminal key (or give --pubkey PEM)`,
      );
    }
    return (await hsm.publicKey(TERMINAL_KEY_LABEL)).pem;
  } finally {
    await hsm.close();
  }
}

export async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      file: { type: 'string' },
      pubkey: { type: 'string' },
      limit: { type: 'string', default: '20' },
      'older-than': { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const command = positionals[0];
  if (command !== 'verify' && command !== 'tail' && command !== 'backup' && command !== 'prune') {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  const config =
    values.file && (values.pubkey || command !== 'verify')
      ? null
      : loadConfig({ file: values.config ?? null });
  const file = values.file ?? join(storeDir(config!), 'terminal.db');
  if (!existsSync(file)) throw new KioskError('STORE_UNAVAILABLE', `no journal at ${file}`);
  if (command === 'backup') {
    const target = positionals[1];
    if (!target) throw new KioskError('INVALID_REQUEST', 'journal backup needs a FILE to write');
    if (existsSync(target)) throw new KioskError('INVALID_REQUEST', `${target} exists; name a new file`);
    const source = openDb(file, { durability: 'full', readonly: true, create: false });
    try {
      const progress = await source.backup(target);
      const copy = openDb(target, { durability: 'full', readonly: true, create: false });
      const check = (() => {
        try {
          return verifyJournal(copy);
        } finally {
          copy.close();
        }
      })();
      if (!check.ok)
        throw new KioskError('JOURNAL_BROKEN', `the backup does not verify: ${check.firstBad!.problem}`);
      const result = { file: target, pages: progress.totalPages, records: check.records, seals: check.seals };
      process.stdout.write(
        values.json
          ? JSON.stringify(result) + '\n'
          : `journal backed up to ${target}: ${check.records} records\n`,
      );
      return 0;
    } finally {
      source.close();
    }
  }
  if (command === 'prune') {
    const days =
      values['older-than'] !== undefined ? Number(values['older-than']) : config?.data.journalRetentionDays;
    if (days === null || days === undefined || !Number.isFinite(days) || days <= 0)
      throw new KioskError(
        'INVALID_REQUEST',
        'journal prune needs --older-than DAYS (or data.journalRetentionDays)',
      );
    const db = openDb(file, { durability: 'full', create: false });
    try {
      const r = new Journal(db).prune(new Date(Date.now() - days * 86_400_000).toISOString());
      process.stdout.write(
        values.json
          ? JSON.stringify(r) + '\n'
          : `${r.removed} records removed; the journal now starts at ${r.from}\n`,
      );
      return 0;
    } finally {
      db.close();
    }
  }
  // Seals are checked by default: with --pubkey, else with this terminal's own key from its HSM.
  const pem =
    command === 'verify'
      ? values.pubkey
        ? readFileSync(values.pubkey)
        : await terminalPublicKey(config!)
      : null;
  const db = openDb(file, { durability: 'full', readonly: true, create: false });
  try {
    if (command === 'tail') {
      const limit = Math.max(1, Math.min(10_000, Number.parseInt(values.limit, 10) || 20));
      const rows = db
        .prepare('SELECT body FROM journal ORDER BY seq DESC LIMIT ?')
        .pluck()
        .all(limit) as string[];
      const records = rows.reverse().map((b) => JSON.parse(b) as Record<string, unknown>);
      if (values.json) process.stdout.write(JSON.stringify(records) + '\n');
      else
        for (const r of records)
          process.stdout.write(
            `${String(r.seq).padStart(8)} ${String(r.wall)} ${String(r.kind).padEnd(11)} ${String(r.outcome ?? '-').padEnd(8)} ${String(r.gateId)} ${String(r.direction)} ${((r.reasons as string[] | undefined) ?? []).join(',')}\n`,
          );
      return 0;
    }
    const key = createPublicKey(pem!);
    const result = verifyJournal(db, { keyFor: () => key });
    if (values.json) {
      const error = result.ok ? undefined : { code: 'JOURNAL_BROKEN', message: result.firstBad!.problem };
      process.stdout.write(JSON.stringify({ ...result, error }) + '\n');
    } else if (result.ok)
      process.stdout.write(
        `journal ok: ${result.records} records, ${result.seals} seals (signatures verified with ${values.pubkey ?? 'the terminal key in the HSM'})\n`,
      );
    else
      process.stderr.write(`journal BROKEN at record ${result.firstBad!.seq}: ${result.firstBad!.problem}\n`);
    return result.ok ? 0 : 1;
  } finally {
    db.close();
  }
}

/** What `jpki-kiosk journal --help` prints (main/cli/index.ts answers --help for every command). */
export const usage = USAGE;
