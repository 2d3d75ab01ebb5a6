// The hub's end-to-end promise for revocations: a CRL that revokes the demo `valid` card, imported at
// the hub, turns that card's next decision at a running terminal into `revoked` after one sync — no
// restart. Real hub (fastify + SQLite on loopback), real terminal (pcscd + vpcd, SoftHSM2 signing the
// sync requests with the terminal key, SQLite stores).
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type KioskConfig } from '../../config/load.js';
import { projectRoot } from '../../config/paths.js';
import type { Decision } from '../../base/decision.js';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { DEMO_STAFF_PIN, ensureDemoAssets } from '../../main/demo/provision.js';
import { VpcdDemoWallet, tapDemoCard } from '../../main/demo/wallet.js';
import { freePort } from './helpers.js';
import { createHub, type Hub } from '../../hub/server.js';
import { openHubDir, type HubDir } from '../../hub/hub-dir.js';
import { importCrl } from '../../hub/import-crl.js';
import { demoCrl } from '../../sim/pki/crl.js';
import { startPcscd, type PrivatePcscd } from '../support/pcscd.js';
import { demoCards } from '../support/demo-cards.js';
import { publishDemoCard, registerConfiguredTerminal } from '../support/hub-terminal.js';

const VPCD_PORT = 36320;
let HUB_PORT = 0;
const dataDir = mkdtempSync(join(tmpdir(), 'jpki-hub-revocation-'));
let hubDir: HubDir;
let hub: Hub;
let pcscd: PrivatePcscd;
let terminal: Terminal;
let wallet: VpcdDemoWallet;
let config: KioskConfig;

function tap(card: string): Promise<Decision> {
  return tapDemoCard(terminal, wallet, card);
}

beforeAll(async () => {
  HUB_PORT = await freePort();
  await demoCards();
  cpSync(join(projectRoot(), 'var', 'demo', 'pki'), join(dataDir, 'demo', 'pki'), { recursive: true });
  // The hub shares the fleet index key with its terminals; the terminal pins the hub's publisher key.
  const base = {
    version: 1,
    profile: 'demo',
    data: { dir: dataDir },
    log: { level: 'silent' },
    actuators: { gate: null, signal: null },
    demo: { enabled: true, vpcdPort: VPCD_PORT },
  };
  writeFileSync(join(dataDir, 'base.json'), JSON.stringify(base));
  const assets = await ensureDemoAssets(loadConfig({ file: join(dataDir, 'base.json'), env: {} }));
  // File keys: this process's SoftHSM2 configuration is the demo terminal's.
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
        hubUrl: `http://127.0.0.1:${HUB_PORT}/`,
        rootPath: hubDir.rootFile,
        pullIntervalSeconds: 3600,
        pushIntervalSeconds: 3600,
      },
    }),
  );
  config = loadConfig({ file, env: {} });

  // The organiser publishes the ticket of the `valid` card; the terminal registers with its HSM key.
  publishDemoCard(hubDir.publisher, assets.cards);
  await registerConfiguredTerminal(hubDir.store, config);
  hub = createHub({
    store: hubDir.store,
    publisher: hubDir.publisher,
    roots: hubDir.keys,
    hubId: hubDir.hubId,
  });
  await hub.app.listen({ host: '127.0.0.1', port: HUB_PORT });

  pcscd = await startPcscd({ vpcdPorts: [VPCD_PORT] });
  wallet = new VpcdDemoWallet({
    config,
    cards: assets.cards,
    endpoint: pcscd.endpoint(VPCD_PORT),
    timing: 'instant',
  });
  terminal = await createTerminal({ config, wallet, autoCheck: false });
  await terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
}, 120_000);

afterAll(async () => {
  await terminal?.close();
  await hub?.close();
  hubDir?.close();
});

describe('a CRL imported at the hub reaches a running terminal in one sync', () => {
  it('admits the valid card with the hub data, then refuses it as revoked after the CRL and one sync', async () => {
    // The terminal pins the hub's root, so the demo seeds nothing: the ticket arrives from the hub with
    // the sync the terminal starts with, or with this one, whichever is first.
    await terminal.syncNow(undefined);
    expect(terminal.devices.data!.whitelist.feedState().seq).toBeGreaterThan(0);
    expect(await tap('valid')).toMatchObject({ outcome: 'admitted', reasons: ['ok'] });

    const crl = await demoCrl(dataDir, ['valid'], { fileName: 'valid-revoked.crl' });
    const caPem = readFileSync(join(dataDir, 'demo', 'pki', 'auth-ca.pem'), 'utf8');
    const imported = await importCrl(hubDir.store, hubDir.publisher, readFileSync(crl), [caPem], crl);
    expect(imported.entries).toBe(1);

    const second = await terminal.syncNow(undefined);
    expect(second.pulled).toBe(1);
    expect(second.pushed).toBeGreaterThan(0); // the admitted entry went up in the same sync
    expect(await tap('valid')).toMatchObject({ outcome: 'refused', reasons: ['revoked'] });
    expect(terminal.status().sync.state).not.toBe('failed');
  });
});
