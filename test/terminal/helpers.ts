// A terminal that is constructed but never started: no reader, HSM or stores are opened, so commands
// that need only the staff session, the PIN pad and the patron session run on a fake clock.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type KioskConfig } from '../../config/load.js';
import { Terminal } from '../../main/core/terminal/index.js';
import { FakeClock } from '../support/fake-clock.js';

export const STAFF_PIN = '2468';

export function configFor(site: Record<string, unknown> = {}, profile = 'demo'): KioskConfig {
  const dir = mkdtempSync(join(tmpdir(), 'jpki-terminal-'));
  const file = join(dir, 'site.json');
  writeFileSync(
    file,
    JSON.stringify({ profile, site, ui: { staffPin: { env: 'TEST_STAFF_PIN' } }, data: { dir } }),
  );
  return loadConfig({ file, env: {} });
}

export function unstartedTerminal(config = configFor()): { terminal: Terminal; clock: FakeClock } {
  const clock = new FakeClock();
  const terminal = new Terminal({ config, clock, env: { TEST_STAFF_PIN: STAFF_PIN }, autoCheck: false });
  return { terminal, clock };
}
