// Test support: a private SoftHSM2 configuration and token directory in a temp folder, one per test
// file (the module reads SOFTHSM2_CONF once per process, and vitest runs each file in its own process).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pkcs11js from 'pkcs11js';

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

/**
 * Makes the token forget every session, as when it is pulled out: C_CloseAllSessions through a second
 * pkcs11js handle on the same module. SoftHSM2's state is per process, so this reaches the sessions
 * the HSM client's worker thread holds; the module is already initialised by then (ALREADY_INITIALIZED
 * is expected) and is deliberately not finalised here, which would end the client's use of it too.
 */
export function dropTokenSessions(tokenLabel: string, module = SOFTHSM_MODULE): void {
  const p = new pkcs11js.PKCS11();
  p.load(module);
  try {
    p.C_Initialize();
  } catch (error) {
    if ((error as { code?: unknown }).code !== pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw error;
  }
  const slot = p
    .C_GetSlotList(true)
    .find((s) => p.C_GetTokenInfo(s).label.replace(/[\s\0]+$/, '') === tokenLabel);
  if (!slot) throw new Error(`no token labelled ${tokenLabel}`);
  p.C_CloseAllSessions(slot);
}
