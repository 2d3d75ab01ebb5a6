// Paper at the gate: a stadium gate that hands out seat receipts prints one per admission, through a
// private CUPS queue; the printed text has the seat and the gate and nothing that names the person.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { writeDemoConfig } from '../../main/demo/config.js';
import { DEMO_RECORDS } from '../../main/demo/data.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../main/demo/index.js';
import { DEMO_RESIDENTS } from '../../main/demo/provider.js';
import { VpcdDemoWallet } from '../../main/demo/wallet.js';
import { pdfText, startCups, type PrivateCups } from '../support/cups.js';

const VPCD_PORT = 36750;
const dataDir = mkdtempSync(join(tmpdir(), 'jpki-seat-receipt-'));
let env: DemoEnvironment;
let cups: PrivateCups;
let terminal: Terminal;
let wallet: VpcdDemoWallet;

beforeAll(async () => {
  cups = await startCups('gate-receipts');
  const config = writeDemoConfig(dataDir, 'gate', {
    site: { kind: 'stadium-gate', gateId: 'gate-a', zone: 'main', direction: 'entry' },
    demo: { enabled: true, vpcdPort: VPCD_PORT },
    actuators: { gate: null, signal: null },
    ui: { staffPin: { file: '${data}/demo/staff-pin' } },
    policy: { kiosk: { services: [], providers: {} } },
    printing: { driver: 'cups', server: cups.server, queue: cups.queue, seatReceipt: true },
  });
  env = await startDemoEnvironment(config, { timing: 'instant' });
  wallet = new VpcdDemoWallet({
    config,
    cards: env.assets.cards,
    endpoint: env.pcscd!.endpoint(VPCD_PORT),
    timing: 'instant',
  });
  terminal = await createTerminal({ config, wallet });
}, 120_000);

afterAll(async () => {
  await terminal?.close();
  await wallet?.close();
  await env?.stop();
  await cups?.stop();
});

describe('seat receipt at the gate', () => {
  it('prints the seat and the gate, and no name', async () => {
    const decided = new Promise<string>((resolve) =>
      terminal.subscribe((e) => {
        if (e.name === 'decision') resolve(e.payload.outcome);
      }),
    );
    await wallet.insert('valid');
    expect(await decided).toBe('admitted');
    for (let i = 0; i < 100 && cups.jobs().length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    const [job] = cups.jobs();
    expect(job?.title.startsWith('slip:seat:')).toBe(true);
    const text = await pdfText(job!.pdf);
    const entitlement = DEMO_RECORDS.valid!.entitlements[0] as { seat: string };
    expect(text).toContain(entitlement.seat);
    expect(text).toContain('gate-a');
    expect(text).not.toContain(DEMO_RECORDS.valid!.subject);
    for (const person of Object.values(DEMO_RESIDENTS)) expect(text).not.toContain(person.name);
  }, 60_000);
});
