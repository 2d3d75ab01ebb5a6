// The decision matrix through the real stack: a private pcscd with the vpcd driver, virtual cards over
// TCP, SoftHSM2 for PIN-less terminal authentication, SQLite stores, signed deltas. Every reason code of
// the decision vocabulary (base/decision.ts) is produced by a card and asserted on the typed decision.
import { createPublicKey, createPrivateKey } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { KioskConfig } from '../../config/load.js';
import { projectRoot } from '../../config/paths.js';
import type { Decision } from '../../base/decision.js';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../main/demo/index.js';
import { DEMO_STAFF_PIN } from '../../main/demo/provision.js';
import { VpcdDemoWallet, tapDemoCard } from '../../main/demo/wallet.js';
import { writeDemoConfig } from '../../main/demo/config.js';
import { enableTerminalAuth } from '../../sim/card/terminal-auth.js';
import { SimulatedCard } from '../../sim/card/simulated-card.js';
import { VpcdCardClient } from '../../sim/card/vpcd-client.js';
import { demoTrustedInstitutionCa } from '../../main/demo/hsm.js';
import { demoCard } from '../../sim/pki/demo-pki.js';
import { publisherKeyId, signBatch, type FeedBatch } from '../../protocol/feed-format.js';
import { revocationPutOp, whitelistPutOp } from '../../whitelist/feed-ops.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { loadIndexKey } from '../../whitelist/privacy.js';
import type { CardRecordInput } from '../../whitelist/entitlements.js';
import { spkiSha256OfCertificate } from '../../main/demo/provision.js';
import { demoCards } from '../support/demo-cards.js';

const dataDir = mkdtempSync(join(tmpdir(), 'jpki-matrix-'));
let env: DemoEnvironment;
const open: Terminal[] = [];

function configWith(name: string, overrides: Record<string, unknown> = {}): KioskConfig {
  return writeDemoConfig(dataDir, name, { actuators: { gate: null, signal: null }, ...overrides });
}

async function terminalFor(
  config: KioskConfig,
  now?: () => Date,
): Promise<{ terminal: Terminal; wallet: VpcdDemoWallet }> {
  for (const t of open.splice(0)) await t.close();
  const wallet = new VpcdDemoWallet({
    config,
    cards: env.assets.cards,
    endpoint: env.pcscd!.endpoint(config.demo.vpcdPort),
    timing: 'instant',
  });
  const terminal = await createTerminal({ config, wallet, autoCheck: false, ...(now ? { now } : {}) });
  open.push(terminal);
  // The watcher lists the readers a moment after the PC/SC context opens.
  const until = Date.now() + 15_000;
  while (terminal.status().reader.state !== 'ready' && Date.now() < until)
    await new Promise((r) => setTimeout(r, 25));
  // Fail here, naming the cause, rather than later at a confusing tap.
  expect(terminal.status().reader.state).toBe('ready');
  return { terminal, wallet };
}

function tap(t: { terminal: Terminal; wallet: VpcdDemoWallet }, card: string): Promise<Decision> {
  return tapDemoCard(t.terminal, t.wallet, card);
}

/** Signs a batch with the demo publisher key, as the hub would, and applies it to the running stores. */
function publish(
  config: KioskConfig,
  feed: 'whitelist' | 'revocations',
  build: (data: KioskData) => FeedBatch['ops'],
): void {
  const data = KioskData.fromConfig(config, {});
  try {
    const privateKey = createPrivateKey(readFileSync(join(dataDir, 'demo', 'hub', 'hub-key.pem')));
    const state = data.freshness()[feed];
    const ops = build(data);
    const batch = {
      format: 'jpki-kiosk/delta/v1',
      feed,
      publisherKeyId: publisherKeyId(createPublicKey(privateKey)),
      epoch: 'demo-1',
      fromSeq: state.seq,
      toSeq: state.seq + ops.length,
      asOf: new Date().toISOString(),
      ops,
    } as FeedBatch;
    data.applyBatch(signBatch(batch, privateKey));
  } finally {
    data.close();
  }
}

function cardRow(config: KioskConfig, name: string, record: CardRecordInput) {
  const card = demoCard(env.assets.cards, name);
  const indexKey = loadIndexKey({ ref: config.data.indexKey, dataDir: config.data.dir, demo: true, env: {} });
  return whitelistPutOp(indexKey, {
    issuerKeyId: card.issuerKeyIdHex,
    serial: card.serialHex,
    spkiSha256: spkiSha256OfCertificate(card.certPath),
    record,
  });
}

beforeAll(async () => {
  // Reuse the project's generated demo PKI (RSA key generation is the slow part), own everything else.
  await demoCards();
  cpSync(join(projectRoot(), 'var', 'demo', 'pki'), join(dataDir, 'demo', 'pki'), { recursive: true });
  env = await startDemoEnvironment(configWith('base'), { timing: 'instant' });
}, 120_000);

afterAll(async () => {
  for (const t of open.splice(0)) await t.close();
  await env?.stop();
});

describe('stadium gate, PIN-less terminal authentication', () => {
  let t: { terminal: Terminal; wallet: VpcdDemoWallet };
  let config: KioskConfig;
  // The gate terminal's clock: real time moved on by `offset`, or held still at `held`. The double-touch
  // window (5 s) is measured on it, so "a second touch within seconds" and "after the window" do not
  // depend on how long a tap takes on a loaded machine.
  const clock = { held: null as number | null, offset: 0 };
  const now = () => new Date(clock.held ?? Date.now() + clock.offset);
  beforeAll(async () => {
    config = configWith('gate');
    t = await terminalFor(config, now);
    expect(t.terminal.status().outOfService).toBeNull();
    expect(t.terminal.status().hsm.state).toBe('ready');
  });

  it('admits a registered ticket with no PIN, shows the seat and no name, and journals it durably', async () => {
    clock.held = Date.now(); // until the double-touch test below has moved past the window
    const d = await tap(t, 'valid');
    expect(d).toMatchObject({
      outcome: 'admitted',
      reasons: ['ok'],
      degraded: false,
      publicView: { headline: 'ok', seat: '1塁側 A-12' },
    });
    expect(d.journalSeq).toBeGreaterThan(0);
    expect(d.timings.map((s) => s.stage)).toEqual([
      'read_certificate',
      'chain',
      'revocation',
      'whitelist',
      'authenticate',
      'signature',
      'policy',
      'journal',
      'total',
    ]);
    const data = KioskData.fromConfig(config, {});
    expect(data.journal.get(d.journalSeq!)).toMatchObject({
      kind: 'decision',
      outcome: 'admitted',
      decisionId: d.id,
      subject: 'DEMO-P-0001',
    });
    data.close();
  });

  it('counts a second touch within seconds once, then refuses re-entry while inside (anti-passback)', async () => {
    expect((await tap(t, 'valid')).reasons).toEqual(['double_touch']);
    clock.held = clock.held! + 5200;
    expect(await tap(t, 'valid')).toMatchObject({ outcome: 'refused', reasons: ['already_inside'] });
    // Real time again from here on, never backwards.
    clock.offset = clock.held - Date.now();
    clock.held = null;
  });

  it.each([
    ['revoked', 'revoked'],
    ['expired', 'cert_expired'],
    ['untrusted', 'cert_untrusted'],
    ['tampered', 'cert_tampered'],
    ['clone', 'card_auth_failed'],
    ['unregistered', 'not_registered'],
    ['wrong-gate', 'wrong_gate'],
    ['already-inside', 'already_inside'],
  ])('refuses the %s card with reason %s', async (card, reason) => {
    const d = await tap(t, card);
    expect(d.outcome).toBe('refused');
    expect(d.reasons).toEqual([reason]);
  });

  it('refuses a ticket outside its time window, delivered by a signed delta while running', async () => {
    publish(config, 'whitelist', () => [
      cardRow(config, 'unregistered', {
        subject: 'DEMO-P-0099',
        entitlements: [
          {
            kind: 'ticket',
            eventId: 'YESTERDAY',
            zones: ['main'],
            gates: ['gate-a'],
            validFrom: '2026-01-01T10:00:00+09:00',
            validTo: '2026-01-01T18:00:00+09:00',
            entriesAllowed: 1,
          },
        ],
      }),
    ]);
    expect((await tap(t, 'unregistered')).reasons).toEqual(['outside_time_window']);
  });

  it('refuses a card revoked by a delta that arrives while the terminal runs', async () => {
    expect((await tap(t, 'pin-blocked')).outcome).toBe('admitted');
    publish(config, 'revocations', () => {
      const card = demoCard(env.assets.cards, 'pin-blocked');
      const indexKey = loadIndexKey({
        ref: config.data.indexKey,
        dataDir: config.data.dir,
        demo: true,
        env: {},
      });
      return [
        revocationPutOp(indexKey, {
          issuerKeyId: card.issuerKeyIdHex,
          serial: card.serialHex,
          revokedAt: new Date(),
          reason: 'keyCompromise',
        }),
      ];
    });
    expect(await tap(t, 'pin-blocked')).toMatchObject({ outcome: 'refused', reasons: ['revoked'] });
  });

  it('asks the patron to touch again when the card leaves mid-read', async () => {
    const profile = demoCard(env.assets.cards, 'valid').profilePath;
    const card = SimulatedCard.fromFile(profile, { faults: { removeAtCommand: 3 } });
    enableTerminalAuth(card.applet, { trusted: [demoTrustedInstitutionCa(config)] });
    const client = new VpcdCardClient({
      endpoint: env.pcscd!.endpoint(config.demo.vpcdPort),
      card,
      reconnect: false,
    });
    // A wallet holding this one faulty card.
    const faulty = {
      insert: () => client.insert(),
      remove: () => client.remove(),
      close: () => client.remove(),
      list: () => [],
    };
    expect(await tapDemoCard(t.terminal, faulty, 'valid')).toMatchObject({
      outcome: 'error',
      reasons: ['card_removed'],
    });
  });
});

describe('stale revocation data under each freshness policy', () => {
  it.each([
    ['deny', 'refused', ['data_too_old'], false],
    ['staff', 'staff', ['ok', 'data_too_old'], false],
    ['degraded', 'admitted', ['ok', 'degraded'], true],
  ] as const)('policy %s → %s', async (stalePolicy, outcome, reasons, degraded) => {
    // Data older than 0.36 s counts as stale: the demo data was marked current when the suite started.
    const config = configWith(`stale-${stalePolicy}`, { revocation: { maxAgeHours: 0.0001, stalePolicy } });
    await new Promise((r) => setTimeout(r, 500));
    const t = await terminalFor(config);
    expect(t.terminal.status().data.stale).toBe(true);
    expect(t.terminal.status().degraded).toBe(degraded);
    await t.terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
    await t.terminal.selectSite({ siteKind: 'convenience-kiosk' });
    const decision = await tap(t, 'kiosk-member');
    expect(decision.outcome).toBe(outcome);
    expect(decision.reasons).toEqual(reasons);
    expect(decision.degraded).toBe(degraded);
  });
});

describe('hospital reception', () => {
  it('shows the qualification to staff and hands it to the reception system as FHIR Coverage', async () => {
    const config = configWith('reception', {
      policy: { hospital: { output: 'folder', folder: join(dataDir, 'reception-out') } },
    });
    const t = await terminalFor(config);
    await t.terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
    await t.terminal.selectSite({ siteKind: 'hospital-reception' });
    const valid = await tap(t, 'insured');
    expect(valid).toMatchObject({
      outcome: 'admitted',
      staffView: {
        insurance: {
          status: 'valid',
          insurerNumber: '06139999',
          number: '3456',
          branch: '01',
          copayRatio: 0.3,
        },
      },
    });
    const sent = await t.terminal.sendToReception({ decisionId: valid.id });
    const coverage = JSON.parse(readFileSync(sent.reference, 'utf8')) as {
      resourceType: string;
      status: string;
      payor: { identifier: { value: string } }[];
    };
    expect(coverage).toMatchObject({ resourceType: 'Coverage', status: 'active' });
    expect(coverage.payor[0]!.identifier.value).toBe('06139999');

    expect((await tap(t, 'insurance-expired')).reasons).toEqual(['entitlement_expired']);
    expect((await tap(t, 'unregistered')).staffView.insurance).toEqual({ status: 'not_found' });
    publish(config, 'whitelist', () => [
      cardRow(config, 'already-inside', {
        subject: 'DEMO-H-0003',
        entitlements: [
          {
            kind: 'insurance',
            insurerNumber: '06139999',
            number: '1',
            copayRatio: 0.3,
            validFrom: '2024-04-01',
            status: 'superseded',
          },
        ],
      }),
    ]);
    const superseded = await tap(t, 'already-inside');
    expect(superseded.reasons).toEqual(['entitlement_superseded']);
    expect(superseded.outcome).toBe('staff');
  });
});

describe('shelter', () => {
  it('checks residents in and out, admits an unregistered evacuee for staff registration, exports the roster', async () => {
    const config = configWith('shelter', {
      site: { kind: 'shelter', direction: 'both', gateId: 'entrance', zone: 'gym' },
      policy: { shelter: { rosterDir: join(dataDir, 'roster') } },
    });
    const t = await terminalFor(config);
    const resident = await tap(t, 'shelter-resident');
    expect(resident).toMatchObject({
      outcome: 'admitted',
      direction: 'entry',
      reasons: ['ok'],
      staffView: { householdId: 'H-0007', displayName: '山田 花子' },
    });
    const unregistered = await tap(t, 'unregistered');
    expect(unregistered).toMatchObject({ outcome: 'admitted', reasons: ['unregistered_admitted'] });
    await t.terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
    await t.terminal.registerPerson({
      decisionId: unregistered.id,
      displayName: '避難 一郎',
      householdId: 'H-NEW-1',
    });
    const roster = await t.terminal.getRoster(undefined);
    expect(roster.inside).toBe(2);
    expect(roster.entries.find((e) => e.displayName === '避難 一郎')).toMatchObject({
      registered: false,
      state: 'inside',
      householdId: 'H-NEW-1',
    });
    await new Promise((r) => setTimeout(r, 5200));
    expect(await tap(t, 'shelter-resident')).toMatchObject({ direction: 'exit', outcome: 'admitted' });
    expect((await t.terminal.getRoster(undefined)).inside).toBe(1);
    const csv = t.terminal.exportRoster();
    expect(existsSync(csv)).toBe(true);
    expect(readFileSync(csv, 'utf8')).toContain('避難 一郎');
    // The staff screen's button: the same export, owner-only, with where it went and how many rows.
    const exported = await t.terminal.rosterExport(undefined);
    expect(exported.rows).toBe((await t.terminal.getRoster(undefined)).entries.length);
    expect(exported.rows).toBeGreaterThan(0);
    expect(readFileSync(exported.file, 'utf8').trim().split('\r\n')).toHaveLength(exported.rows + 1);
    expect(statSync(exported.file).mode & 0o077).toBe(0);
  });
});

describe('convenience kiosk and PIN mode', () => {
  it('opens a session for a member and ends it leaving nothing of them behind', async () => {
    const config = configWith('kiosk', { site: { kind: 'convenience-kiosk' } });
    const t = await terminalFor(config);
    const events: string[] = [];
    t.terminal.subscribe((e) => {
      if (e.name === 'session') events.push(e.payload.state);
    });
    const memberSeen = async () =>
      (await t.terminal.recentDecisions({ limit: 10 })).some(
        (r) => r.decision.staffView.subjectId === 'DEMO-M-0001',
      );
    // At a multifunction kiosk the card stays on the reader for the whole session.
    await t.wallet.insert('kiosk-member');
    const d = await t.terminal.checkCard(await t.terminal.waitForCard(10_000));
    expect(d).toMatchObject({ outcome: 'admitted', publicView: { sessionSeconds: 120 } });
    expect(events).toEqual(['open']);
    await t.terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
    expect((await t.terminal.recentDecisions({ limit: 10 })).some((r) => r.decision.id === d.id)).toBe(true);
    // The session is bound to the card that opened it: taking the card away ends it and forgets the member.
    await t.wallet.remove();
    await vi.waitFor(() => expect(events).toEqual(['open', 'closed']), { timeout: 5_000 });
    expect(await memberSeen()).toBe(false);
    // The end button ends it as well, with the card still there.
    let sessionId = '';
    t.terminal.subscribe((e) => {
      if (e.name === 'session' && e.payload.state === 'open') sessionId = e.payload.sessionId;
    });
    await t.wallet.insert('kiosk-member');
    await t.terminal.checkCard(await t.terminal.waitForCard(10_000));
    await t.terminal.endSession({ sessionId });
    expect(events.slice(-2)).toEqual(['open', 'closed']);
    expect(await memberSeen()).toBe(false);
    await t.wallet.remove();
    await vi.waitFor(() => expect(t.terminal.status().reader.state).not.toBe('card_present'), {
      timeout: 5_000,
    });
    expect((await tap(t, 'valid')).reasons).toEqual(['not_registered']);
  });

  it('PIN mode: right PIN admits; a wrong PIN shows the tries left; a blocked card is refused without asking', async () => {
    const config = configWith('pin', { card: { authMode: 'pin' }, site: { kind: 'convenience-kiosk' } });
    const t = await terminalFor(config);
    const requests: { triesLeft: number; retry: boolean }[] = [];
    let answers: (string | null)[] = [];
    t.terminal.subscribe((e) => {
      if (e.name !== 'pinRequest') return;
      requests.push({ triesLeft: e.payload.triesLeft, retry: e.payload.retry });
      const pin = answers.shift();
      if (pin) void t.terminal.answerPin({ requestId: e.payload.requestId, pin });
      else void t.terminal.cancelPin({ requestId: e.payload.requestId });
    });
    answers = ['1234'];
    expect((await tap(t, 'kiosk-member')).outcome).toBe('admitted');
    expect(requests).toEqual([{ triesLeft: 3, retry: false }]);

    requests.length = 0;
    answers = ['9999', null];
    expect((await tap(t, 'wrong-gate')).reasons).toEqual(['pin_wrong']);
    expect(requests).toEqual([
      { triesLeft: 3, retry: false },
      { triesLeft: 2, retry: true },
    ]);

    requests.length = 0;
    answers = [null];
    expect((await tap(t, 'wrong-gate')).reasons).toEqual(['pin_required']);

    // revoked by a delta earlier in this file: revocation comes before the PIN, so nobody is asked
    // (a blocked PIN without revocation: test/check/auth-order.test.ts)
    requests.length = 0;
    expect((await tap(t, 'pin-blocked')).reasons).toEqual(['revoked']);
    expect(requests).toEqual([]);
  });
});
