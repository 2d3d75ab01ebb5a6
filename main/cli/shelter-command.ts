// `jpki-kiosk shelter roster export`: the shelter roster as CSV in policy.shelter.rosterDir (or --out),
// with no network — what staff hand to the municipality. Reads the roster the kiosk keeps in its store
// folder through the roster module's own API.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { KioskError } from '../../base/errors.js';
import { loadConfig } from '../../config/load.js';
import { RosterKeyLabel, ShelterRoster } from '../core/sites/shelter/roster.js';
import { loadIndexKey } from '../../whitelist/privacy.js';
import { storeDir } from '../../whitelist/kiosk-data.js';

const USAGE = `usage: jpki-kiosk shelter roster export [--config F] [--out DIR] [--json]

  Writes the shelter roster (who checked in and out, households, care needs) as CSV (UTF-8 with BOM, for
  spreadsheet programs) into DIR (default: the configuration's policy.shelter.rosterDir) and prints the
  file's path. Staff mode on the kiosk has the same button.`;

export async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (positionals[0] !== 'roster' || positionals[1] !== 'export') {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  const config = loadConfig({ file: values.config ?? null });
  const dir = storeDir(config);
  if (!existsSync(join(dir, 'shelter-roster.db')))
    throw new KioskError(
      'STORE_UNAVAILABLE',
      `no shelter roster in ${dir}: this terminal has not served a shelter`,
    );
  // The roster's personal columns are sealed with a key derived from the terminal's index key.
  const indexKey = loadIndexKey({
    ref: config.data.indexKey,
    dataDir: config.data.dir,
    demo: config.source.profile === 'demo',
  });
  const roster = ShelterRoster.inDir(dir, indexKey.derive(RosterKeyLabel));
  try {
    const file = roster.exportCsv(values.out ?? config.policy.shelter.rosterDir);
    const { inside, households, entries } = roster.summary();
    process.stdout.write(
      values.json
        ? JSON.stringify({ file, entries: entries.length, inside, households }) + '\n'
        : `${file}: ${entries.length} people (${inside} inside, ${households} households)\n`,
    );
    return 0;
  } finally {
    roster.close();
  }
}

export const usage = USAGE;
