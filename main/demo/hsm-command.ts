// `jpki-kiosk hsm demo [--config F] [--profile NAME] [--json]`: provisions the demo token, keys, mock
// 特定機関 CA (TEST) and institution certificate (main/demo/hsm.ts). A demo command: packaged apps omit it.
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/load.js';
import { ProfileNames, type ProfileName } from '../../config/schema.js';
import { ensureDemoHsm } from './hsm.js';

const USAGE = 'usage: jpki-kiosk hsm demo [--config FILE] [--profile NAME] [--json]';

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      profile: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const profile = values.profile as ProfileName | undefined;
  if (profile && !ProfileNames.includes(profile)) {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  const config = loadConfig({ file: values.config ?? null, ...(profile ? { profile } : {}) });
  const result = await ensureDemoHsm(config);
  const text = result.actions.length
    ? result.actions.map((a) => `- ${a}`).join('\n')
    : 'demo HSM already provisioned; nothing to do';
  process.stdout.write(values.json ? JSON.stringify(result, null, 2) + '\n' : text + '\n');
  return 0;
}
