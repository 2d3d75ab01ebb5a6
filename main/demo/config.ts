// A demo configuration of its own in a data folder: tests, benchmarks and a second demo kiosk on the
// same machine each get their own stores, token and reader port, on top of the embedded demo profile.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig, type KioskConfig } from '../../config/load.js';

export function writeDemoConfig(
  dataDir: string,
  name: string,
  overrides: Record<string, unknown> = {},
): KioskConfig {
  const file = join(dataDir, `${name}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      profile: 'demo',
      data: { dir: dataDir },
      log: { level: 'silent' },
      ...overrides,
    }),
  );
  return loadConfig({ file, env: {} });
}
