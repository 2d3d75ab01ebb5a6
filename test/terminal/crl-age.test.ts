// Revocation age is the CRL's age: with the hub reachable and answering every pull (so the hub-sync age
// stays zero) but its CRL import stopped, a terminal turns stale at the oldest CRL's nextUpdate +
// revocation.crlGraceHours and applies the site's stale policy. Real hub (fastify + SQLite on loopback),
// real terminal (pcscd + vpcd, SoftHSM2 signing the sync requests, SQLite stores); one injected clock
// shared by hub and terminal moves time — no sleeps.
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
import { createHub, type Hub } from '../../hub/server.js';
import { openHubDir, type HubDir } from '../../hub/hub-dir.js';
import { freePort } from '../sync/helpers.js';
import { importCrl } from '../../hub/import-crl.js';
import { demoCrl } from '../../sim/pki/crl.js';
import { startPcscd, type PrivatePcscd } from '../support/pcscd.js';
import { demoCards } from '../support/demo-cards.js';
import { publishDemoCard, registerConfiguredTerminal } from '../support/hub-terminal.js';

const VPCD_PORT = 36330;
let HUB_PORT = 0;
const HOUR = 3600_000;
const GRACE_HOURS = 6;
const dataDir = mkdtempSync(join(tmpdir(), 'jpki-crl-age-'));
/** The one clock of hub and terminal. */
const T0 = Math.floor(Date.now() / 1000) * 1000; // CRL times have whole seconds
let nowMs = T0;
let hubDir: HubDir;
let hub: Hub;
let pcscd: PrivatePcscd;
let terminal: Terminal;
let wallet: VpcdDemoWallet;
let config: KioskConfig;

function tap(card: string): Promise<Decision> {
  return tapDemoCard(terminal, wallet, card);
}

/** Moves the shared clock and syncs once (staff mode, which syncNow needs, expired meanwhile). */
async function at(ms: number): Promise<void> {
  nowMs = ms;
  await terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
  await terminal.syncNow(undefined);
}

beforeAll(async () => {
  HUB_PORT = await freePort();
  await demoCards();
  cpSync(join(projectRoot(), 'var', 'demo', 'pki'), join(dataDir, 'demo', 'pki'), { recursive: true });
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
    now: () => nowMs,
    keyStore: 'file',
  });
  const file = join(dataDir, 'terminal.json');
  writeFileSync(
    file,
    JSON.stringify({
      ...base,
      // The site refuses on stale revocation data; the hub-sync limit is the default (26 h).
      revocation: { stalePolicy: 'deny', crlGraceHours: GRACE_HOURS },
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

  publishDemoCard(hubDir.publisher, assets.cards);
  // The CA's CRL (thisUpdate T0, nextUpdate T0 + 36 h) revokes another card; it is the last one the hub
  // imports: its import stops here.
  const crl = await demoCrl(dataDir, ['revoked'], { fileName: 'crl.crl', thisUpdate: new Date(T0) });
  const caPem = readFileSync(join(dataDir, 'demo', 'pki', 'auth-ca.pem'), 'utf8');
  await importCrl(hubDir.store, hubDir.publisher, readFileSync(crl), [caPem], crl, { now: () => nowMs });

  await registerConfiguredTerminal(hubDir.store, config, nowMs);
  hub = createHub({
    store: hubDir.store,
    publisher: hubDir.publisher,
    hubId: hubDir.hubId,
    now: () => nowMs,
    // Request signatures carry the system clock (protocol/http-signature.ts), not the injected one.
    maxSkewSeconds: 7 * 24 * 3600,
  });
  await hub.app.listen({ host: '127.0.0.1', port: HUB_PORT });

  pcscd = await startPcscd({ vpcdPorts: [VPCD_PORT] });
  wallet = new VpcdDemoWallet({
    config,
    cards: assets.cards,
    endpoint: pcscd.endpoint(VPCD_PORT),
    timing: 'instant',
  });
  terminal = await createTerminal({ config, wallet, autoCheck: false, now: () => new Date(nowMs) });
  await terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
}, 120_000);

afterAll(async () => {
  await terminal?.close();
  await hub?.close();
  hubDir?.close();
});

describe('revocation freshness follows the CRL, not the hub', () => {
  it('turns stale at nextUpdate + grace while the hub keeps answering, and applies the stale policy', async () => {
    // Security: before, every answered pull reset the data age, so this terminal stayed fresh forever.
    await terminal.syncNow(undefined);
    const nextUpdate = T0 + 36 * HOUR;
    expect(terminal.status().data).toMatchObject({
      stale: false,
      staleReasons: [],
      crlNextUpdate: new Date(nextUpdate).toISOString(),
      crlGraceHours: GRACE_HOURS,
    });
    expect(await tap('valid')).toMatchObject({ outcome: 'admitted', reasons: ['ok'] });

    // Past nextUpdate, within the grace: the hub answers (sync age 0), the CRL is late but tolerated.
    await at(nextUpdate + GRACE_HOURS * HOUR - 60_000);
    expect(terminal.status().sync.state).not.toBe('failed');
    expect(terminal.status().data).toMatchObject({ stale: false, staleReasons: [] });
    // (No tap here: the holder would be inside, and anti-passback would answer the next tap.)

    // nextUpdate + grace: stale because of the CRL alone — the hub still answers every pull.
    await at(nextUpdate + GRACE_HOURS * HOUR + 60_000);
    expect(terminal.status().sync.state).not.toBe('failed');
    expect(terminal.status().data).toMatchObject({ stale: true, staleReasons: ['crl_expired'] });
    expect(await tap('valid')).toMatchObject({ outcome: 'refused', reasons: ['data_too_old'] });

    // The hub imports the CA's next CRL (no serial changes: a status-only update); one sync later the
    // terminal is fresh again.
    const crl = await demoCrl(dataDir, ['revoked'], {
      crlNumber: 2,
      fileName: 'crl2.crl',
      thisUpdate: new Date(nowMs - HOUR),
    });
    const caPem = readFileSync(join(dataDir, 'demo', 'pki', 'auth-ca.pem'), 'utf8');
    const r = await importCrl(hubDir.store, hubDir.publisher, readFileSync(crl), [caPem], crl, {
      now: () => nowMs,
    });
    expect(r).toMatchObject({ puts: 0, dels: 0, batches: 1 });
    await at(nowMs);
    expect(terminal.status().data).toMatchObject({ stale: false, staleReasons: [] });
    expect(await tap('valid')).toMatchObject({ outcome: 'admitted', reasons: ['ok'] });
  });
});
