// `jpki-kiosk journal verify|tail`: check the entry journal's chain and seals; show the newest records.
import { createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/load.js';
import { KioskError } from '../../base/errors.js';
import { openDb } from '../../whitelist/db.js';
import { verifyJournal } from '../../whitelist/journal.js';
import { storeDir } from '../../whitelist/kiosk-data.js';

const USAGE = `usage: jpki-kiosk journal verify [--config FILE | --file terminal.db] [--pubkey PEM] [--json]
       jpki-kiosk journal tail   [--config FILE | --file terminal.db] [--limit N] [--json]`;

export async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      file: { type: 'string' },
      pubkey: { type: 'string' },
      limit: { type: 'string', default: '20' },
      json: { type: 'boolean', default: false },
    },
  });
  const command = positionals[0];
  if (command !== 'verify' && command !== 'tail') {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  const file = values.file ?? join(storeDir(loadConfig({ file: values.config ?? null })), 'terminal.db');
  if (!existsSync(file)) throw new KioskError('STORE_UNAVAILABLE', `no journal at ${file}`);
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
    const key = values.pubkey ? createPublicKey(readFileSync(values.pubkey)) : undefined;
    const result = verifyJournal(db, key ? { keyFor: () => key } : {});
    if (values.json) {
      const error = result.ok ? undefined : { code: 'JOURNAL_BROKEN', message: result.firstBad!.problem };
      process.stdout.write(JSON.stringify({ ...result, error }) + '\n');
    } else if (result.ok)
      process.stdout.write(
        `journal ok: ${result.records} records, ${result.seals} seals${key ? ' (signatures verified)' : ' (signatures not checked: no --pubkey)'}\n`,
      );
    else
      process.stderr.write(`journal BROKEN at record ${result.firstBad!.seq}: ${result.firstBad!.problem}\n`);
    return result.ok ? 0 : 1;
  } finally {
    db.close();
  }
}
