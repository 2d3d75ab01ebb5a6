// /healthz and /metrics on the terminal and the hub, through the real stack: pcscd + vpcd with the
// demo cards, SoftHSM2 signing sync requests, SQLite stores, the hub on fastify. The Prometheus text is
// read with an independent parser; counters move with taps and syncs; /healthz turns unhealthy when the
// reader is gone.
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig, type KioskConfig } from '../../config/load.js';
import { projectRoot } from '../../config/paths.js';
import type { Decision } from '../../base/decision.js';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { DEMO_RECORDS } from '../../main/demo/data.js';
import { DEMO_STAFF_PIN, ensureDemoAssets, spkiSha256OfCertificate } from '../../main/demo/provision.js';
import { VpcdDemoWallet, tapDemoCard } from '../../main/demo/wallet.js';
import { createHub, type Hub } from '../../hub/server.js';
import { openHubDir, type HubDir } from '../../hub/hub-dir.js';
import { demoCard } from '../../sim/pki/demo-pki.js';
import { startPcscd, type PrivatePcscd } from '../support/pcscd.js';
import { demoCards } from '../support/demo-cards.js';
import { histogramCount, parsePrometheus, sampleOf } from '../support/prometheus.js';
import { captureStdout } from '../support/capture-stdout.js';
import { run as journalCli } from '../../main/cli/journal-command.js';
import { run as shelterCli } from '../../main/cli/shelter-command.js';
import { run as enrolCli } from '../../main/cli/enrol-command.js';
import { run as hubCli } from '../../main/cli/hub-command.js';
import { issueEnrolmentCode } from '../../hub/enrolment.js';
import { publishDemoCard, registerConfiguredTerminal } from '../support/hub-terminal.js';

const VPCD_PORT = 36410;
const dataDir = mkdtempSync(join(tmpdir(), 'jpki-fleet-metrics-'));
let hubDir: HubDir;
let hub: Hub;
let hubUrl: string;
let pcscd: PrivatePcscd;
let terminal: Terminal;
let wallet: VpcdDemoWallet;
let config: KioskConfig;
let cards: Awaited<ReturnType<typeof ensureDemoAssets>>['cards'];

const tap = (card: string): Promise<Decision> => tapDemoCard(terminal, wallet, card);

async function scrape(url: string) {
  const res = await fetch(url);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return parsePrometheus(await res.text());
}

beforeAll(async () => {
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
  cards = assets.cards;
  hubDir = openHubDir(join(dataDir, 'hub'), {
    indexKeyFile: join(dataDir, 'demo', 'index-key'),
    keyStore: 'file',
  });
  hub = createHub({ store: hubDir.store, publisher: hubDir.publisher, hubId: hubDir.hubId });
  await hub.app.listen({ host: '127.0.0.1', port: 0 });
  hubUrl = `http://127.0.0.1:${(hub.app.server.address() as { port: number }).port}`;
  const file = join(dataDir, 'terminal.json');
  writeFileSync(
    file,
    JSON.stringify({
      ...base,
      metrics: { enabled: true, port: 0 },
      sync: {
        enabled: true,
        hubUrl: `${hubUrl}/`,
        rootPath: hubDir.rootFile,
        pullIntervalSeconds: 3600,
        pushIntervalSeconds: 3600,
      },
    }),
  );
  config = loadConfig({ file, env: {} });
  publishDemoCard(hubDir.publisher, assets.cards);
  await registerConfiguredTerminal(hubDir.store, config);
  pcscd = await startPcscd({ vpcdPorts: [VPCD_PORT] });
  wallet = new VpcdDemoWallet({
    config,
    cards: assets.cards,
    endpoint: pcscd.endpoint(VPCD_PORT),
    timing: 'instant',
  });
  terminal = await createTerminal({ config, wallet, autoCheck: false });
  await terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
}, 180_000);

afterAll(async () => {
  await terminal?.close();
  await hub?.close();
  hubDir?.close();
});

describe('terminal and hub metrics', () => {
  it('counters move with taps and syncs; the text parses; /healthz answers', async () => {
    const port = terminal.metricsPort();
    expect(port).not.toBeNull();
    const base = `http://127.0.0.1:${port}`;

    await terminal.syncNow(undefined);
    const before = await scrape(`${base}/metrics`);
    const hubBefore = await scrape(`${hubUrl}/metrics`);
    const syncOk = (m: typeof before, part: string) =>
      sampleOf(m, 'jpki_terminal_sync_exchanges_total', { part, result: 'ok' });
    expect(syncOk(before, 'whitelist')).toBeGreaterThanOrEqual(1);
    expect(sampleOf(before, 'jpki_terminal_decisions_total', { outcome: 'admitted', reason: 'ok' })).toBe(0);
    expect(
      before
        .get('jpki_terminal_data_age_seconds')
        ?.metrics.map((m) => m.labels?.feed)
        .sort(),
    ).toEqual(['revocations', 'whitelist']);

    expect(await tap('valid')).toMatchObject({ outcome: 'admitted' });
    expect(await tap('unregistered')).toMatchObject({ outcome: 'refused', reasons: ['not_registered'] });
    await terminal.syncNow(undefined);

    const after = await scrape(`${base}/metrics`);
    expect(sampleOf(after, 'jpki_terminal_decisions_total', { outcome: 'admitted', reason: 'ok' })).toBe(1);
    expect(
      sampleOf(after, 'jpki_terminal_decisions_total', { outcome: 'refused', reason: 'not_registered' }),
    ).toBe(1);
    expect(after.get('jpki_terminal_tap_stage_seconds')?.type).toBe('HISTOGRAM');
    expect(histogramCount(after, 'jpki_terminal_tap_stage_seconds', { stage: 'total' })).toBe(2);
    expect(histogramCount(after, 'jpki_terminal_tap_stage_seconds', { stage: 'chain' })).toBe(2);
    expect(syncOk(after, 'push') - syncOk(before, 'push')).toBeGreaterThanOrEqual(1); // syncNow, and pushSoon after the entry
    // syncNow's pull, and the start's first round if it was still under way at the first scrape.
    expect(syncOk(after, 'whitelist') - syncOk(before, 'whitelist')).toBeGreaterThanOrEqual(1);
    expect(sampleOf(after, 'jpki_terminal_journal_queue_length')).toBe(0);
    expect(sampleOf(after, 'jpki_terminal_device_state', { device: 'reader', state: 'ready' })).toBe(1);
    expect(sampleOf(after, 'jpki_terminal_device_state', { device: 'hsm', state: 'ready' })).toBe(1);

    // The hub counted the pushes and the journal records they carried.
    const hubAfter = await scrape(`${hubUrl}/metrics`);
    const pushes = (m: typeof hubAfter) =>
      sampleOf(m, 'jpki_hub_requests_total', { route: '/v1/journal', method: 'POST', status: '200' });
    // Every push the terminal counted as ok, the hub counted as answered 200.
    expect(pushes(hubAfter) - pushes(hubBefore)).toBe(syncOk(after, 'push') - syncOk(before, 'push'));
    expect(
      sampleOf(hubAfter, 'jpki_hub_journal_records_total', { result: 'accepted' }) -
        sampleOf(hubBefore, 'jpki_hub_journal_records_total', { result: 'accepted' }),
    ).toBeGreaterThanOrEqual(2);
    expect(sampleOf(hubAfter, 'jpki_hub_terminals', { state: 'active' })).toBe(1);
    expect(hubAfter.get('jpki_hub_request_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(
      histogramCount(hubAfter, 'jpki_hub_request_duration_seconds', { route: '/v1/journal' }),
    ).toBeGreaterThan(0);
    expect((await fetch(`${hubUrl}/healthz`)).status).toBe(200);

    const healthy = await fetch(`${base}/healthz`);
    expect(healthy.status).toBe(200);
    expect(await healthy.json()).toMatchObject({ ok: true, reader: 'ready', hsm: 'ready' });
  });

  it('journal verify checks the seals with the terminal key from its HSM; the roster exports as CSV', async () => {
    const file = join(dataDir, 'terminal.json');
    const verify = await captureStdout(() => journalCli(['verify', '--config', file, '--json']));
    expect(verify.code).toBe(0);
    expect(JSON.parse(verify.stdout)).toMatchObject({ ok: true });
    const human = await captureStdout(() => journalCli(['verify', '--config', file]));
    expect(human.stdout).toMatch(/signatures verified with the terminal key in the HSM/);

    const out = join(dataDir, 'exports');
    const exported = await captureStdout(() =>
      shelterCli(['roster', 'export', '--config', file, '--out', out, '--json']),
    );
    expect(exported.code).toBe(0);
    const { file: csv } = JSON.parse(exported.stdout) as { file: string };
    expect(csv.startsWith(out)).toBe(true);
    expect(readFileSync(csv, 'utf8')).toMatch(/^\uFEFFperson_ref,display_name,household_id/);
  });

  it('enrol through the HSM: the proof made in the token verifies, and a key already registered is refused', async () => {
    const code = issueEnrolmentCode(
      hubDir.store,
      { siteId: 'site-x', gateId: 'gate-x', zone: 'main', siteKind: 'stadium-gate' },
      600,
      Date.now(),
    ).code;
    // The terminal's HSM key is registered already (beforeAll): past the proof check, the store refuses it.
    await expect(
      enrolCli(['--hub', hubUrl, '--code', code, '--config', join(dataDir, 'terminal.json')]),
    ).rejects.toMatchObject({ code: 'ENROL_KEY_REGISTERED' });
    // And the code was not spent by the refusal.
    expect(hubDir.store.enrolmentCodes().find((c) => c.siteId === 'site-x')?.usedAt).toBeNull();
  });

  it('remote configuration: a zone changed at the hub reaches the running terminal and its next decision; an invalid one is refused and reported', async () => {
    // Another ticket holder (zone "main", gates a and b) this test has to itself.
    const card = demoCard(cards, 'revoked');
    hubDir.publisher.publishWhitelist(
      [
        {
          issuerKeyId: card.issuerKeyIdHex,
          serial: card.serialHex,
          spkiSha256: spkiSha256OfCertificate(card.certPath),
          record: { ...DEMO_RECORDS.valid!, subject: 'REMOTE-1' },
        },
      ],
      'remote test ticket',
    );
    const site = config.site.siteId;
    const layerFile = join(dataDir, 'layer.json');
    const setLayer = (layer: unknown, scope = `gate:${site}/${config.site.gateId}`) => {
      writeFileSync(layerFile, JSON.stringify(layer));
      return captureStdout(() =>
        hubCli([
          'config',
          'set',
          '--scope',
          scope,
          '--file',
          layerFile,
          '--dir',
          join(dataDir, 'hub'),
          '--index-key',
          join(dataDir, 'demo', 'index-key'),
          '--json',
        ]),
      );
    };
    // A local-only key is refused at the hub already.
    await expect(setLayer({ sync: { hubUrl: 'https://elsewhere.example/' } })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });

    const set = await setLayer({ site: { zone: 'upper' } });
    expect(set.code).toBe(0);
    const { version } = JSON.parse(set.stdout) as { version: number };
    await terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
    await terminal.syncNow(undefined);
    expect(terminal.status().zone).toBe('upper');
    // The ticket is for zone "main": at this gate, now zone "upper", it does not fit.
    const refused = await tap('revoked');
    expect(refused.outcome).toBe('refused');
    expect(refused.reasons).toContain('wrong_gate');
    // Kept as the last good one, with its version, for the next start.
    expect(JSON.parse(readFileSync(join(dataDir, 'remote-config.json'), 'utf8'))).toEqual({
      version,
      layer: { site: { zone: 'upper' } },
    });
    expect(loadConfig({ file: join(dataDir, 'terminal.json'), env: {} }).site.zone).toBe('upper');

    // A layer that does not pass the schema (here written straight into the hub's store): refused at
    // the terminal, which keeps running on the last good one and tells the hub.
    hubDir.store.setRemoteConfig(`terminal:${config.site.terminalId}`, { ui: { volume: 7 } }, Date.now());
    await terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
    await terminal.syncNow(undefined);
    expect(terminal.devices.sync?.status().lastError).toMatchObject({ code: 'CONFIG_INVALID' });
    expect(terminal.devices.sync?.status().lastError?.message).toMatch(/ui\.volume/);
    // The next push carries it to the hub, with the version still running.
    await terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
    await terminal.syncNow(undefined);
    expect(terminal.status().zone).toBe('upper');
    await vi.waitFor(
      () => {
        const t = hubDir.store.terminal(config.site.terminalId);
        expect(t?.status?.configVersion).toBe(version);
        expect(t?.status?.lastError).toMatch(/CONFIG_INVALID/);
      },
      { timeout: 5_000 },
    );

    // Back to zone "main" at the gate (and the bad terminal layer replaced): the ticket fits again.
    hubDir.store.setRemoteConfig(`terminal:${config.site.terminalId}`, {}, Date.now());
    expect((await setLayer({ site: { zone: 'main' } })).code).toBe(0);
    await terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
    await terminal.syncNow(undefined);
    expect(terminal.status().zone).toBe('main');
    expect(await tap('revoked')).toMatchObject({ outcome: 'admitted' });
  });

  // Last: it stops this file's pcscd.
  it('/healthz turns unhealthy when the reader goes away, and says why', async () => {
    const base = `http://127.0.0.1:${terminal.metricsPort()}`;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    // The reader goes away (pcscd stops): unhealthy, and it says why.
    await pcscd.stop();
    await vi.waitFor(async () => expect((await fetch(`${base}/healthz`)).status).toBe(503), {
      timeout: 15_000,
    });
    const sick = (await (await fetch(`${base}/healthz`)).json()) as { ok: boolean; reader: string };
    expect(sick).toMatchObject({ ok: false });
    expect(['unavailable', 'no_reader']).toContain(sick.reader);
  });
});
