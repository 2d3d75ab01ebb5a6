import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/load.js';
import { ProfileNames, type ProfileName } from '../../config/schema.js';

export async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      profile: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals[0] !== 'check') {
    process.stderr.write('usage: jpki-kiosk config check [--config FILE] [--profile NAME] [--json]\n');
    return 2;
  }
  const profile = values.profile as ProfileName | undefined;
  if (profile && !ProfileNames.includes(profile)) {
    process.stderr.write(`unknown profile ${profile}; one of ${ProfileNames.join(', ')}\n`);
    return 2;
  }
  const config = loadConfig({ file: values.config ?? null, ...(profile ? { profile } : {}) });
  if (values.json) process.stdout.write(JSON.stringify(config, null, 2) + '\n');
  else
    process.stdout.write(
      `configuration ok: profile ${config.source.profile}, site ${config.site.kind} ${config.site.siteId}/${config.site.gateId}\n`,
    );
  return 0;
}
