// `jpki-kiosk sim card --card <demo card name | card file> [--vpcd host:port | socket path]`: one virtual
// My Number Card in a vpcd reader, inserted while this runs (removed when it exits).
// `jpki-kiosk sim pki [--json]`: generate the demo PKI if missing and list the demo cards.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/load.js';
import { projectRoot } from '../../config/paths.js';
import { KioskError } from '../../base/errors.js';
import { SimulatedCard, type CardFaults } from '../../sim/card/simulated-card.js';
import { TimingPresets, timingModel, type TimingPreset } from '../../sim/card/timing.js';
import { parseVpcdAddress, VpcdCardClient } from '../../sim/card/vpcd-client.js';
import { demoCard, ensureDemoPki } from '../../sim/pki/demo-pki.js';
import { loadTrustedCa } from '../../hsm/trusted-ca.js';
import { enableTerminalAuth } from '../../sim/card/terminal-auth.js';

const USAGE = `usage:
  jpki-kiosk sim card --card <demo name|file.card.json> [--vpcd host:port|/path.sock] [--timing ${Object.keys(TimingPresets).join('|')}]
                      [--t0] [--no-pinless] [--config F] faults: [--remove-after N] [--stall-at N] [--wrong-sw N:SW]
                      [--corrupt-cert OFFSET] [--endless-61xx-at N]   (N counts commands from power-on)
  jpki-kiosk sim pki [--json] [--config F]
`;

function dataDir(configFile: string | undefined): string {
  try {
    return loadConfig({ file: configFile ?? null }).data.dir;
  } catch (error) {
    if (configFile) throw error;
    return join(projectRoot(), 'var');
  }
}

function defaultVpcd(configFile: string | undefined): string {
  try {
    return `127.0.0.1:${loadConfig({ file: configFile ?? null }).demo.vpcdPort}`;
  } catch {
    return '127.0.0.1:35963';
  }
}

async function resolveCard(card: string, configFile: string | undefined): Promise<string> {
  if (card.endsWith('.json') || card.includes('/')) {
    if (!existsSync(card)) throw new KioskError('CONFIG_NOT_FOUND', `card file not found: ${card}`);
    return card;
  }
  const set = await ensureDemoPki(dataDir(configFile));
  return demoCard(set, card).profilePath;
}

function count(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,6}$/.test(text))
    throw new KioskError('INVALID_REQUEST', `--${name} wants a number, got ${text}`);
  return Number(text);
}

function parseFaults(values: Record<string, string | boolean | undefined>): CardFaults {
  const str = (k: string) => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const faults: CardFaults = {};
  const removeAfter = count('remove-after', str('remove-after'));
  if (removeAfter !== undefined) faults.removeAtCommand = removeAfter + 1;
  const stall = count('stall-at', str('stall-at'));
  if (stall !== undefined) faults.stallAtCommand = stall;
  const endless = count('endless-61xx-at', str('endless-61xx-at'));
  if (endless !== undefined) faults.endlessGetResponseAt = endless;
  const corrupt = count('corrupt-cert', str('corrupt-cert'));
  if (corrupt !== undefined) faults.corruptCertificate = { offset: corrupt };
  const wrong = str('wrong-sw');
  if (wrong !== undefined) {
    const m = /^(\d{1,6}):([0-9a-fA-F]{4})$/.exec(wrong);
    if (!m) throw new KioskError('INVALID_REQUEST', `--wrong-sw wants N:SW (e.g. 3:6F00), got ${wrong}`);
    faults.wrongStatus = { atCommand: Number(m[1]), sw: parseInt(m[2]!, 16) };
  }
  return faults;
}

export async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      card: { type: 'string' },
      vpcd: { type: 'string' },
      timing: { type: 'string' },
      t0: { type: 'boolean', default: false },
      'no-pinless': { type: 'boolean', default: false },
      'remove-after': { type: 'string' },
      'stall-at': { type: 'string' },
      'wrong-sw': { type: 'string' },
      'corrupt-cert': { type: 'string' },
      'endless-61xx-at': { type: 'string' },
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const sub = positionals[0];
  if (sub === 'pki') {
    const set = await ensureDemoPki(dataDir(values.config));
    if (values.json) process.stdout.write(JSON.stringify(set, null, 2) + '\n');
    else {
      process.stdout.write(`demo PKI in ${set.dir} (CA ${set.caPemPath}); PIN of every card: 1234\n`);
      for (const c of set.cards)
        process.stdout.write(`  ${c.name.padEnd(18)} serial ${c.serialHex.padEnd(10)} ${c.purpose}\n`);
    }
    return 0;
  }
  if (sub !== 'card' || !values.card) {
    process.stderr.write(USAGE);
    return 2;
  }
  const path = await resolveCard(values.card, values.config);
  const timing = values.timing;
  if (timing && !(timing in TimingPresets))
    throw new KioskError(
      'INVALID_REQUEST',
      `unknown timing ${timing}; one of ${Object.keys(TimingPresets).join(', ')}`,
    );
  const faults = parseFaults(values);
  const card = SimulatedCard.fromFile(path, {
    ...(timing ? { timing: timingModel(timing as TimingPreset) } : {}),
    t0Style: values.t0,
    faults,
  });
  // Like a personalised card, trust the demo 特定機関 CA when the demo has one, so that a kiosk in
  // PIN-less mode can authenticate this card too; --no-pinless behaves like today's real cards.
  const institutionCaDir = join(dataDir(values.config), 'demo', 'institution-ca');
  if (!values['no-pinless'] && existsSync(join(institutionCaDir, 'ca.json'))) {
    enableTerminalAuth(card.applet, { trusted: [loadTrustedCa(institutionCaDir)] });
  }
  const address = values.vpcd ?? process.env.JPKI_VPCD ?? defaultVpcd(values.config);
  let endpoint;
  try {
    endpoint = parseVpcdAddress(address);
  } catch (error) {
    throw new KioskError('INVALID_REQUEST', (error as Error).message);
  }
  const client = new VpcdCardClient({ endpoint, card });
  client.on('inserted', () =>
    process.stderr.write(`sim card: '${card.applet.profile.name}' inserted (${address})\n`),
  );
  client.on('removed', (reason) => process.stderr.write(`sim card: removed (${reason})\n`));
  try {
    await client.insert(15_000);
  } catch {
    await client.remove();
    throw new KioskError('READER_NOT_FOUND', `no vpcd listening at ${address} (is pcscd with vpcd running?)`);
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    client.on('removed', () => {
      if (card.isRemoved) resolve();
    });
  });
  await client.remove();
  return 0;
}
