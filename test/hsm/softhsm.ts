// Test support: a private SoftHSM2 configuration and token directory in a temp folder, one per test
// file (the module reads SOFTHSM2_CONF once per process, and vitest runs each file in its own process).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';

export interface TempSoftHsm {
  dir: string;
  conf: string;
  tokenDir: string;
  cleanup(): void;
}

export function tempSoftHsm(prefix = 'jpki-hsm-test-'): TempSoftHsm {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const tokenDir = join(dir, 'tokens');
  mkdirSync(tokenDir);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  return { dir, conf, tokenDir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
