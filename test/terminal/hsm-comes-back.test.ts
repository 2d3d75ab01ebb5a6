// The terminal with its HSM taken away and given back while it runs: the tap during the loss is a
// terminal fault (never an admission), the screen is out of service, and the terminal returns to
// service by itself once the token is back. SoftHSM2 token folder moved aside and restored.
import { cpSync, mkdtempSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KioskConfig } from '../../config/load.js';
import { projectRoot } from '../../config/paths.js';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { writeDemoConfig } from '../../main/demo/config.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../main/demo/index.js';
import { tapDemoCard } from '../../main/demo/wallet.js';
import { demoCards } from '../support/demo-cards.js';
import { dropTokenSessions } from '../support/softhsm.js';

const dataDir = mkdtempSync(join(tmpdir(), 'jpki-hsm-loss-'));
let env: DemoEnvironment;
let terminal: Terminal;
let config: KioskConfig;

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  await demoCards();
  cpSync(join(projectRoot(), 'var', 'demo', 'pki'), join(dataDir, 'demo', 'pki'), { recursive: true });
  config = writeDemoConfig(dataDir, 'hsm-loss', {
    demo: { enabled: true, vpcdPort: 36345 },
    actuators: { gate: null, signal: null },
  });
  env = await startDemoEnvironment(config, { timing: 'instant' });
  terminal = await createTerminal({ config, wallet: env.wallet, autoCheck: false });
  await until('reader and HSM ready', () => terminal.status().outOfService === null);
}, 120_000);

afterAll(async () => {
  await terminal?.close();
  await env?.stop();
});

describe('HSM lost and back while the terminal runs', () => {
  it('faults the tap, shows out of service, and recovers without a restart', async () => {
    expect((await tapDemoCard(terminal, env.wallet, 'valid')).outcome).toBe('admitted');
    const tokens = join(dataDir, 'demo', 'hsm', 'tokens');
    const aside = join(dataDir, 'demo', 'hsm', 'tokens-aside');
    cpSync(tokens, aside, { recursive: true });
    // The token drops its sessions and its store disappears (a pulled USB HSM).
    dropTokenSessions(config.hsm.tokenLabel!, config.hsm.module);
    renameSync(tokens, join(dataDir, 'demo', 'hsm', 'tokens-gone'));

    const during = await tapDemoCard(terminal, env.wallet, 'kiosk-member');
    expect(during).toMatchObject({ outcome: 'error', reasons: ['terminal_fault'] });
    await until('out of service', () => terminal.status().outOfService?.code === 'HSM_UNAVAILABLE');
    expect(terminal.status().hsm.state).toBe('unavailable');

    renameSync(aside, tokens);
    await until('back in service', () => terminal.status().outOfService === null, 30_000);
    expect(terminal.status().hsm.state).toBe('ready');
    expect((await tapDemoCard(terminal, env.wallet, 'kiosk-member')).reasons).toEqual(['not_registered']);
  }, 90_000);
});
