// Companion seat transfer end to end: the hub issues a one-time code for one seat of the purchaser's
// ticket; at a registration desk (staff mode, online) the companion's card proves its key and the desk
// sends the code and the card's reference, signed with its HSM key; the hub moves the seat in one signed
// whitelist batch. A gate terminal that pulls that delta admits the companion's card offline with the seat,
// and the purchaser's card no longer holds it. A used code and an expired code are refused, typed.
// Real hub (fastify + SQLite over HTTP), two real terminals (pcscd + vpcd readers, SoftHSM2 keys).
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type KioskConfig } from '../../config/load.js';
import { projectRoot } from '../../config/paths.js';
import { KioskError } from '../../base/errors.js';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { DEMO_STAFF_PIN, ensureDemoAssets, spkiSha256OfCertificate } from '../../main/demo/provision.js';
import { tapDemoCard, VpcdDemoWallet } from '../../main/demo/wallet.js';
import { createHub, type Hub } from '../../hub/server.js';
import { openHubDir, type HubDir } from '../../hub/hub-dir.js';
import { issueTransferCodes } from '../../hub/companions.js';
import { IndexKey } from '../../whitelist/privacy.js';
import type { DemoCard, DemoCardSet } from '../../sim/pki/demo-pki.js';
import { startPcscd, type PrivatePcscd } from '../support/pcscd.js';
import { demoCards } from '../support/demo-cards.js';
import { freePort } from '../sync/helpers.js';
import { registerConfiguredTerminal } from '../support/hub-terminal.js';

const DESK_PORT = 36384;
const GATE_PORT = 36385;
const EVENT = 'COMPANION-2026';
const root = mkdtempSync(join(tmpdir(), 'jpki-companions-'));
const indexKeyFile = join(root, 'index-key');
let hubDir: HubDir;
let hub: Hub;
let hubPort = 0;
let hubClosed = false;
let pcscd: PrivatePcscd;
let cards: DemoCardSet;
const started: Array<{ terminal: Terminal; wallet: VpcdDemoWallet; config: KioskConfig }> = [];

const seat = (s: string) => ({
  kind: 'ticket' as const,
  eventId: EVENT,
  seat: s,
  zones: ['main'],
  gates: [],
  validFrom: '2026-01-01T00:00:00+09:00',
  validTo: '2030-12-31T23:59:59+09:00',
  entriesAllowed: 1,
});

function card(name: string): DemoCard {
  const c = cards.cards.find((x) => x.name === name);
  if (!c) throw new Error(`no demo card ${name}`);
  return c;
}

const ref = (name: string) => ({
  issuerKeyId: card(name).issuerKeyIdHex.toLowerCase(),
  serial: card(name).serialHex,
  spkiSha256: spkiSha256OfCertificate(card(name).certPath),
});

/** A terminal with its own data folder, HSM token and reader, on the shared hub and index key. */
async function startTerminal(name: string, vpcdPort: number, reader: string, hubPort: number) {
  const dataDir = join(root, name);
  mkdirSync(join(dataDir, 'demo'), { recursive: true });
  cpSync(join(projectRoot(), 'var', 'demo', 'pki'), join(dataDir, 'demo', 'pki'), { recursive: true });
  const file = join(dataDir, 'terminal.json');
  writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      profile: 'demo',
      site: { terminalId: `T-${name}`, gateId: 'gate-a' },
      data: { dir: dataDir, indexKey: { file: indexKeyFile } },
      // One PKCS#11 configuration per process: both terminals' tokens live under one SoftHSM2 config.
      hsm: { softhsmConf: join(root, 'hsm', 'softhsm2.conf'), tokenLabel: `token-${name}` },
      log: { level: 'silent' },
      card: { reader },
      actuators: { gate: null, signal: null },
      demo: { enabled: true, vpcdPort },
      policy: { stadium: { doubleTouchSeconds: 0 } },
      sync: {
        enabled: true,
        hubUrl: `http://127.0.0.1:${hubPort}/`,
        rootPath: hubDir.rootFile,
        pullIntervalSeconds: 3600,
        pushIntervalSeconds: 3600,
      },
    }),
  );
  const config = loadConfig({ file, env: {} });
  const assets = await ensureDemoAssets(config);
  await registerConfiguredTerminal(hubDir.store, config);
  const wallet = new VpcdDemoWallet({
    config,
    cards: assets.cards,
    endpoint: pcscd.endpoint(vpcdPort),
    timing: 'instant',
  });
  const terminal = await createTerminal({ config, wallet, autoCheck: false });
  started.push({ terminal, wallet, config });
  await terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
  await terminal.syncNow(undefined);
  const until = Date.now() + 30_000;
  while ((await terminal.getStatus(undefined)).outOfService !== null && Date.now() < until)
    await new Promise((r) => setTimeout(r, 100));
  return { terminal, wallet, config };
}

async function bindAtDesk(
  desk: { terminal: Terminal; wallet: VpcdDemoWallet; config: KioskConfig },
  cardName: string,
  code: string,
) {
  await desk.wallet.insert(cardName);
  try {
    await desk.terminal.waitForCard(10_000);
    return await desk.terminal.bindCompanion({ code });
  } finally {
    await desk.wallet.remove();
    // The next card is a new one only once the reader has seen this one go (pcscd polls presence).
    const until = Date.now() + 3000;
    while (Date.now() < until && ['card_present', 'busy'].includes(desk.terminal.status().reader.state))
      await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (error) {
    expect(error).toBeInstanceOf(KioskError);
    return (error as KioskError).code;
  }
  throw new Error('expected a refusal');
}

beforeAll(async () => {
  cards = await demoCards();
  writeFileSync(indexKeyFile, IndexKey.generateHex() + '\n', { mode: 0o600 });
  hubDir = openHubDir(join(root, 'hub'), { indexKeyFile, keyStore: 'file' });
  hubPort = await freePort();
  hub = createHub({
    store: hubDir.store,
    publisher: hubDir.publisher,
    roots: hubDir.keys,
    hubId: hubDir.hubId,
  });
  await hub.app.listen({ host: '127.0.0.1', port: hubPort });
  // The purchaser ('valid') bought three seats; the companion ('unregistered') has no entry yet.
  hubDir.publisher.publishWhitelist(
    [
      {
        ...ref('valid'),
        record: { subject: 'BUYER-0001', entitlements: [seat('A-12'), seat('A-13'), seat('A-14')] },
      },
    ],
    'ticketing export',
  );
  pcscd = await startPcscd({ vpcdPorts: [DESK_PORT, GATE_PORT] });
}, 120_000);

afterAll(async () => {
  for (const s of started) await s.terminal.close();
  if (!hubClosed) await hub?.close();
  hubDir?.close();
  await pcscd?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('companion seat transfer', () => {
  it('moves one seat to the companion card through the feed; used and expired codes are refused', async () => {
    // pcscd names the readers of one private instance after its first vpcd port, one slot per port.
    const desk = await startTerminal('desk', DESK_PORT, `Virtual PCD ${DESK_PORT} 00 00`, hubPort);
    const gate = await startTerminal('gate', GATE_PORT, `Virtual PCD ${DESK_PORT} 00 01`, hubPort);

    const now = Date.now();
    const [a13] = issueTransferCodes(
      { store: hubDir.store, indexKey: hubDir.publisher.indexKey },
      ref('valid'),
      EVENT,
      ['A-13'],
      3600,
      now,
    );
    // Issued an hour ago with a 60 s life: past its expiry now.
    const [a14] = issueTransferCodes(
      { store: hubDir.store, indexKey: hubDir.publisher.indexKey },
      ref('valid'),
      EVENT,
      ['A-14'],
      60,
      now - 3_600_000,
    );
    const headBefore = hubDir.store.feedInfo('whitelist').head;

    expect(await bindAtDesk(desk, 'unregistered', a13!.code)).toEqual({ eventId: EVENT, seat: 'A-13' });
    // One signed batch carries both rows.
    const info = hubDir.store.feedInfo('whitelist');
    expect(info.head).toBe(headBefore + 2);
    expect(hubDir.store.batchesAfter('whitelist', headBefore, 10)).toHaveLength(1);

    // The same code again, even on another card: used. The expired one: expired. Nothing published.
    expect(await refusal(bindAtDesk(desk, 'visitor-vi', a13!.code))).toBe('TRANSFER_CODE_USED');
    expect(await refusal(bindAtDesk(desk, 'visitor-vi', a14!.code))).toBe('TRANSFER_CODE_EXPIRED');
    expect(await refusal(bindAtDesk(desk, 'visitor-vi', 'ZZZZ-ZZZZ-ZZZZ'))).toBe('TRANSFER_CODE_UNKNOWN');
    expect(hubDir.store.feedInfo('whitelist').head).toBe(info.head);

    // The gate pulls the delta, then decides offline: the hub is gone.
    expect((await gate.terminal.syncNow(undefined)).pulled).toBeGreaterThan(0);
    await hub.close();
    hubClosed = true;
    const companion = await tapDemoCard(gate.terminal, gate.wallet, 'unregistered');
    expect(companion.outcome).toBe('admitted');
    expect(JSON.stringify(companion)).toContain('A-13');
    const purchaser = await tapDemoCard(gate.terminal, gate.wallet, 'valid');
    expect(purchaser.outcome).toBe('admitted');
    const shown = JSON.stringify(purchaser);
    expect(shown).not.toContain('A-13');
    // What the gate holds for the purchaser: the two seats left, never the moved one.
    const held = gate.terminal.devices.stores().lookup(ref('valid'));
    const seats = (held.card?.entitlements ?? []).map((e) => ('seat' in e ? e.seat : null));
    expect(seats).toEqual(['A-12', 'A-14']);
    const companionRow = gate.terminal.devices.stores().lookup(ref('unregistered'));
    expect(companionRow.card?.entitlements.map((e) => ('seat' in e ? e.seat : null))).toEqual(['A-13']);
  }, 180_000);
});
