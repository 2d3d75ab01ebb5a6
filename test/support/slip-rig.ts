// A terminal that prints slips for the slip tests: the demo environment (virtual cards, SoftHSM) of
// the site kind given, printing through a private CUPS PDF queue. One per test file: a process loads
// one PKCS#11 configuration.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import type { Decision } from '../../base/decision.js';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { writeDemoConfig } from '../../main/demo/config.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../main/demo/index.js';
import { DEMO_RESIDENTS } from '../../main/demo/provider.js';
import { VpcdDemoWallet } from '../../main/demo/wallet.js';
import { startCups, type PrivateCups } from './cups.js';

const run = promisify(execFile);

export interface SlipRig {
  env: DemoEnvironment;
  cups: PrivateCups;
  terminal: Terminal;
  wallet: VpcdDemoWallet;
}

export async function startRig(
  name: string,
  vpcdPort: number,
  site: Record<string, unknown>,
  printing: Record<string, unknown>,
): Promise<SlipRig> {
  const cups = await startCups(name);
  const dataDir = mkdtempSync(join(tmpdir(), `jpki-${name}-`));
  const config = writeDemoConfig(dataDir, name, {
    site,
    demo: { enabled: true, vpcdPort },
    actuators: { gate: null, signal: null },
    ui: { staffPin: { file: '${data}/demo/staff-pin' } },
    policy: { kiosk: { services: [], providers: {} } },
    printing: { driver: 'cups', server: cups.server, queue: cups.queue, ...printing },
  });
  const env = await startDemoEnvironment(config, { timing: 'instant' });
  const wallet = new VpcdDemoWallet({
    config,
    cards: env.assets.cards,
    endpoint: env.pcscd!.endpoint(vpcdPort),
    timing: 'instant',
  });
  const terminal = await createTerminal({ config, wallet });
  return { env, cups, terminal, wallet };
}

export async function stopRig(rig: SlipRig | undefined): Promise<void> {
  await rig?.terminal.close();
  await rig?.wallet.close();
  await rig?.env.stop();
  await rig?.cups.stop();
}

/** Touches a demo card and waits for the decision. */
export async function touch(rig: SlipRig, card: string): Promise<Decision> {
  const decided = new Promise<Decision>((resolve) => {
    const off = rig.terminal.subscribe((e) => {
      if (e.name === 'decision') {
        off();
        resolve(e.payload);
      }
    });
  });
  await rig.wallet.insert(card);
  const decision = await decided;
  await rig.wallet.remove();
  return decision;
}

export async function waitForJobs(cups: PrivateCups, n: number): Promise<void> {
  for (let i = 0; i < 150 && cups.jobs().length < n; i++) await new Promise((r) => setTimeout(r, 100));
}

/** Page width in points of the first page (pdfinfo): 80 mm ≈ 227 pt, A4 = 595 pt. */
export async function pageWidth(pdf: string): Promise<number> {
  const { stdout } = await run('pdfinfo', [pdf]);
  const m = /Page size:\s+([\d.]+) x/.exec(stdout);
  return Number(m?.[1]);
}

export function expectNoName(text: string): void {
  for (const person of Object.values(DEMO_RESIDENTS)) {
    expect(text).not.toContain(person.name);
    expect(text).not.toContain(person.nameKana);
  }
}
