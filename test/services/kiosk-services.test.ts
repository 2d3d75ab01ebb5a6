// The kiosk services through the real stack: pcscd + vpcd with the demo cards, SoftHSM2 (the terminal key
// signs provider requests), the reference provider over HTTP, and a private CUPS whose PDF queue the test
// reads back with pdftotext. One terminal; each test opens its own session with the member card.
import { statSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { KioskEvent, ServiceEvent } from '../../main/api/contract.js';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { TERMINAL_KEY_LABEL } from '../../hsm/config.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../main/demo/index.js';
import { DEMO_RESIDENTS, startDemoProvider } from '../../main/demo/provider.js';
import { VpcdDemoWallet } from '../../main/demo/wallet.js';
import type { ReferenceProvider } from '../../hub/reference-provider/server.js';
import { DEMO_PROVIDER_SERVICES } from '../../hub/reference-provider/server.js';
import { DEMO_PIN } from '../../sim/pki/demo-pki.js';
import { pdfText, startCups, type PrivateCups } from '../support/cups.js';
import { EventLog, serviceRecords, servicesConfig } from './helpers.js';

const VPCD_PORT = 36710;
const dataDir = mkdtempSync(join(tmpdir(), 'jpki-services-'));
let env: DemoEnvironment;
let cups: PrivateCups;
let provider: ReferenceProvider;
let terminal: Terminal;
let wallet: VpcdDemoWallet;
let log: EventLog;

const isService = (e: KioskEvent): e is { name: 'service'; payload: ServiceEvent } => e.name === 'service';
const ended = (e: KioskEvent) => isService(e) && e.payload.state !== 'working';

beforeAll(async () => {
  cups = await startCups();
  const config = servicesConfig(dataDir, 'cups', VPCD_PORT, {
    printing: { driver: 'cups', server: cups.server, queue: cups.queue, completionTimeoutMs: 8000 },
    timeoutMs: 1500,
    retries: 1,
  });
  env = await startDemoEnvironment(config, { timing: 'instant' });
  provider = await startDemoProvider(config, env.assets.cards, {
    services: {
      // tax-certificate is not offered by this provider: a typed refusal (service_unknown)
      'residence-certificate': DEMO_PROVIDER_SERVICES['residence-certificate']!,
      'library-card': { title: '図書館利用カード', shows: ['name'], pinRequired: false },
    },
    delayMs: (id) => (id === 'library-card' && slowLibrary ? 5000 : 0),
  });
  wallet = new VpcdDemoWallet({
    config,
    cards: env.assets.cards,
    endpoint: env.pcscd!.endpoint(VPCD_PORT),
    timing: 'instant',
  });
  terminal = await createTerminal({ config, wallet, providerUrls: { city: provider.url } });
  const key = await terminal.devices.hsm!.publicKey(TERMINAL_KEY_LABEL);
  provider.registerTerminal(config.site.terminalId, key.pem);
  log = new EventLog(terminal);
}, 120_000);

let slowLibrary = false;

afterAll(async () => {
  await terminal?.close();
  await wallet?.close();
  await provider?.close();
  await env?.stop();
  await cups?.stop();
});

async function openSession(): Promise<string> {
  if (terminal.session.sessionId) {
    const closing = log.waitFor((e) => e.name === 'session' && e.payload.state === 'closed');
    await wallet.remove();
    await closing;
  } else await wallet.remove().catch(() => undefined);
  // the reader must see the card leave before the next one arrives
  await new Promise((r) => setTimeout(r, 300));
  const from = log.events.length;
  await wallet.insert('kiosk-member');
  const open = await log.waitFor((e) => e.name === 'session' && e.payload.state === 'open', 20_000, from);
  return (open.payload as { sessionId: string }).sessionId;
}

async function answerPinWhenAsked(from: number) {
  const ask = await log.waitFor((e) => e.name === 'pinRequest', 20_000, from);
  await terminal.answerPin({ requestId: (ask.payload as { requestId: string }).requestId, pin: DEMO_PIN });
}

describe('kiosk services through the real stack', () => {
  it('lists the configured services and, with the provider up, shows them available', async () => {
    await openSession();
    const status = await terminal.getStatus(undefined);
    expect(status.services?.map((s) => [s.id, s.names.ja, s.available])).toEqual([
      ['residence-certificate', '住民票の写し', true],
      ['library-card', '図書館カード', true],
      ['tax-certificate', '課税証明書', true],
    ]);
    expect(status.printer).toEqual({ state: 'ready', error: null });
  });

  it('issues 住民票の写し after the PIN, prints it to CUPS tagged with the session, and hands the fee to the POS', async () => {
    const sessionId = await openSession();
    const jobsBefore = cups.jobs().length;
    const from = log.events.length;
    const { requestId } = await terminal.requestService({ sessionId, serviceId: 'residence-certificate' });
    await answerPinWhenAsked(from);
    const end = (await log.waitFor(ended, 30_000, from)) as { payload: ServiceEvent };
    expect(end.payload).toMatchObject({ state: 'done', sessionId, requestId, printed: true, feeYen: 200 });
    const jobs = cups.jobs();
    expect(jobs).toHaveLength(jobsBefore + 1);
    const job = jobs.find((j) => j.title === `kiosk:${sessionId}:${requestId}`)!;
    expect(job).toBeDefined();
    const text = await pdfText(job.pdf);
    expect(text).toContain('住民票の写し');
    expect(text).toContain(DEMO_RESIDENTS['kiosk-member']!.name);
    expect(text).toContain('見本');
    expect(text).toMatch(/照合番号 Verification code: [A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}/);
    for (const [card, person] of Object.entries(DEMO_RESIDENTS))
      if (card !== 'kiosk-member') expect(text).not.toContain(person.name);
    // the journal: the request, the document, the print and the fee, with ids only
    const mine = serviceRecords(terminal).filter((r) => r.service?.requestId === requestId);
    expect(mine.map((r) => r.service!.event)).toEqual(['request', 'document', 'printed', 'fee-handoff']);
    expect(mine.find((r) => r.service!.event === 'fee-handoff')!.service!.amountYen).toBe(200);
    expect(JSON.stringify(mine)).not.toContain(DEMO_RESIDENTS['kiosk-member']!.name);
    // the POS hand-off file, 0600
    const posDir = join(dataDir, 'pos');
    const file = readdirSync(posDir).find((f) => f === `${requestId}.json`)!;
    expect(statSync(join(posDir, file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(posDir, file), 'utf8'))).toMatchObject({
      requestId,
      sessionId,
      serviceId: 'residence-certificate',
      amountYen: 200,
    });
    // the queue keeps nothing
    expect(await cups.lpstat(['-W', 'not-completed', '-o', cups.queue])).toBe('');
  }, 60_000);

  it('a provider refusal ends on a plain failed state and leaves no print job', async () => {
    const sessionId = await openSession();
    const jobsBefore = cups.jobs().length;
    const from = log.events.length;
    await terminal.requestService({ sessionId, serviceId: 'tax-certificate' });
    await answerPinWhenAsked(from);
    const end = (await log.waitFor(ended, 30_000, from)) as { payload: ServiceEvent };
    expect(end.payload).toMatchObject({
      state: 'failed',
      refusal: 'service_unknown',
      error: { code: 'SERVICE_REFUSED' },
    });
    expect(cups.jobs()).toHaveLength(jobsBefore);
  }, 60_000);

  it('a provider that does not answer in time ends as SERVICE_TIMEOUT after its retries, with no print job', async () => {
    slowLibrary = true;
    try {
      const sessionId = await openSession();
      const jobsBefore = cups.jobs().length;
      const from = log.events.length;
      await terminal.requestService({ sessionId, serviceId: 'library-card' });
      const end = (await log.waitFor(ended, 30_000, from)) as { payload: ServiceEvent };
      expect(end.payload).toMatchObject({ state: 'failed', error: { code: 'SERVICE_TIMEOUT' } });
      expect(cups.jobs()).toHaveLength(jobsBefore);
      // the retry reused the request id: the provider issued at most one document for it
    } finally {
      slowLibrary = false;
    }
  }, 60_000);

  it('out of paper is a visible failed state with a note for staff; the job is cancelled, nothing is charged', async () => {
    const sessionId = await openSession();
    cups.setPaperOut(true);
    try {
      const from = log.events.length;
      const { requestId } = await terminal.requestService({ sessionId, serviceId: 'library-card' });
      const end = (await log.waitFor(ended, 30_000, from)) as { payload: ServiceEvent };
      expect(end.payload).toMatchObject({
        state: 'failed',
        staffNote: true,
        error: { code: 'PRINT_FAILED' },
      });
      const mine = serviceRecords(terminal).filter((r) => r.service?.requestId === requestId);
      expect(mine.map((r) => r.service!.event)).toEqual(['request', 'document', 'print-failed']);
      expect(await cups.lpstat(['-W', 'not-completed', '-o', cups.queue])).toBe('');
      const status = await terminal.getStatus(undefined);
      expect(status.printer?.state).toBe('unavailable');
    } finally {
      cups.setPaperOut(false);
      await cups.enable();
      // staff "retry now" after loading paper; the printer is ready again once CUPS says so
      terminal.printer!.supervisor.retryNow();
      for (let i = 0; i < 100 && !terminal.printer!.ready; i++) await new Promise((r) => setTimeout(r, 100));
      expect(terminal.printer!.ready).toBe(true);
    }
  }, 60_000);

  it('removing the card ends the session: the late answer is discarded, never printed', async () => {
    slowLibrary = true;
    try {
      const sessionId = await openSession();
      const jobsBefore = cups.jobs().length;
      const from = log.events.length;
      const { requestId } = await terminal.requestService({ sessionId, serviceId: 'library-card' });
      await log.waitFor((e) => isService(e) && e.payload.step === 'provider', 20_000, from);
      await wallet.remove();
      await log.waitFor((e) => e.name === 'session' && e.payload.state === 'closed', 20_000, from);
      await new Promise((r) => setTimeout(r, 300));
      expect(log.events.slice(from).filter((e) => isService(e) && e.payload.state !== 'working')).toEqual([]);
      expect(cups.jobs()).toHaveLength(jobsBefore);
      expect(terminal.session.sessionId).toBeNull();
      void requestId;
    } finally {
      slowLibrary = false;
    }
  }, 60_000);

  it('offline: with the provider gone, network services show unavailable with the reason', async () => {
    await provider.close();
    await new Promise((r) => setTimeout(r, 2500));
    const status = await terminal.getStatus(undefined);
    expect(status.services?.every((s) => !s.available && s.unavailableReason === 'offline')).toBe(true);
    const sessionId = await openSession();
    await expect(
      terminal.requestService({ sessionId, serviceId: 'residence-certificate' }),
    ).rejects.toMatchObject({
      code: 'SERVICE_UNAVAILABLE',
    });
  }, 60_000);
});
