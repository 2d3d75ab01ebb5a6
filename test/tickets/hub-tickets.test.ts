// QR tickets with a real hub: the hub issues a ticket (signed by its publisher key), a terminal that
// pins the hub's root admits it offline, the next push brings the journal to the hub (presence shows
// the ticket inside), and a ticket the hub revokes is refused after the next pull. Real hub (fastify +
// SQLite on loopback), real terminal (pcscd + vpcd for its reader, SoftHSM2 signing its sync requests).
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type KioskConfig } from '../../config/load.js';
import { projectRoot } from '../../config/paths.js';
import type { Decision } from '../../base/decision.js';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { DEMO_STAFF_PIN, ensureDemoAssets } from '../../main/demo/provision.js';
import { VpcdDemoWallet } from '../../main/demo/wallet.js';
import { createHub, type Hub } from '../../hub/server.js';
import { openHubDir, type HubDir } from '../../hub/hub-dir.js';
import { SoftwareScanner } from '../../sim/scanner/software-scanner.js';
import { startPcscd, type PrivatePcscd } from '../support/pcscd.js';
import { demoCards } from '../support/demo-cards.js';
import { freePort } from '../sync/helpers.js';
import { registerConfiguredTerminal } from '../support/hub-terminal.js';

const VPCD_PORT = 36360;
const dataDir = mkdtempSync(join(tmpdir(), 'jpki-hub-tickets-'));
let hubDir: HubDir;
let hub: Hub;
let pcscd: PrivatePcscd;
let terminal: Terminal;
let wallet: VpcdDemoWallet;
let config: KioskConfig;
const scanner = new SoftwareScanner();

const ticketFields = (id: string) => ({
  v: 1 as const,
  id,
  eventId: 'HUB-EVENT',
  seat: 'C-7',
  gates: [] as string[],
  validFrom: '2026-01-01T00:00:00Z',
  validTo: '2030-01-01T00:00:00Z',
});

function scan(text: string): Promise<Decision> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no decision within 10 s')), 10_000);
    const off = terminal.subscribe((event) => {
      if (event.name !== 'decision') return;
      clearTimeout(timer);
      off();
      resolve(event.payload);
    });
    expect(scanner.scan(text)).toBe(true);
  });
}

beforeAll(async () => {
  const hubPort = await freePort();
  await demoCards();
  cpSync(join(projectRoot(), 'var', 'demo', 'pki'), join(dataDir, 'demo', 'pki'), { recursive: true });
  const base = {
    version: 1,
    profile: 'demo',
    data: { dir: dataDir },
    log: { level: 'silent' },
    actuators: { gate: null, signal: null },
    demo: { enabled: true, vpcdPort: VPCD_PORT },
    policy: { stadium: { doubleTouchSeconds: 0 } },
  };
  writeFileSync(join(dataDir, 'base.json'), JSON.stringify(base));
  const assets = await ensureDemoAssets(loadConfig({ file: join(dataDir, 'base.json'), env: {} }));
  hubDir = openHubDir(join(dataDir, 'hub'), {
    indexKeyFile: join(dataDir, 'demo', 'index-key'),
    keyStore: 'file',
  });
  const file = join(dataDir, 'terminal.json');
  writeFileSync(
    file,
    JSON.stringify({
      ...base,
      sync: {
        enabled: true,
        hubUrl: `http://127.0.0.1:${hubPort}/`,
        rootPath: hubDir.rootFile,
        pullIntervalSeconds: 3600,
        pushIntervalSeconds: 3600,
      },
    }),
  );
  config = loadConfig({ file, env: {} });
  await registerConfiguredTerminal(hubDir.store, config);
  hub = createHub({
    store: hubDir.store,
    publisher: hubDir.publisher,
    roots: hubDir.keys,
    hubId: hubDir.hubId,
  });
  await hub.app.listen({ host: '127.0.0.1', port: hubPort });
  pcscd = await startPcscd({ vpcdPorts: [VPCD_PORT] });
  wallet = new VpcdDemoWallet({
    config,
    cards: assets.cards,
    endpoint: pcscd.endpoint(VPCD_PORT),
    timing: 'instant',
  });
  terminal = await createTerminal({ config, wallet, scanner, autoCheck: false });
  await terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
  await terminal.syncNow(undefined);
  const until = Date.now() + 30_000;
  while ((await terminal.getStatus(undefined)).outOfService !== null && Date.now() < until)
    await new Promise((r) => setTimeout(r, 100));
}, 120_000);

afterAll(async () => {
  await terminal?.close();
  await hub?.close();
  hubDir?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('tickets issued and revoked at the hub', () => {
  it('a hub-issued ticket is admitted, its journal reaches the hub, and a revoked one is refused', async () => {
    const first = hubDir.publisher.issueTicket(ticketFields('HUB-T-0001'));
    const second = hubDir.publisher.issueTicket(ticketFields('HUB-T-0002'));
    const before = hubDir.store.journalCount(config.site.terminalId);
    // The decision needs nothing from the hub: the ticket and the terminal's own data.
    expect(await scan(first)).toMatchObject({ outcome: 'admitted', credential: 'qr_ticket' });
    expect((await scan(first)).publicView.headline).toBe('already_inside');

    const pushed = await terminal.syncNow(undefined);
    expect(pushed.pushed).toBeGreaterThanOrEqual(2);
    expect(hubDir.store.journalCount(config.site.terminalId)).toBe(before + 2);
    // Both records carry the ticket's subject, as a card's carry the card holder's.
    const data = terminal.devices.data!;
    const subjects = [data.journal.head().seq - 1, data.journal.head().seq].map(
      (seq) => data.journal.get(seq)?.subject,
    );
    expect(subjects).toEqual(['ticket:HUB-T-0001', 'ticket:HUB-T-0001']);

    // Revoked at the hub; the terminal learns it with the next pull.
    hubDir.publisher.revokeTicket('HUB-T-0002', Math.floor(Date.now() / 1000), 'lost ticket');
    expect((await terminal.syncNow(undefined)).pulled).toBeGreaterThan(0);
    expect(await scan(second)).toMatchObject({ outcome: 'refused', reasons: ['revoked'] });
  });
});
