// The convenience-store kiosk's services in Debian Chromium against the real core: a demo card opens a
// session, 住民票の写し is chosen, the PIN is typed on the touch pad, the reference provider issues the
// PDF, the test's own CUPS PDF queue receives it and pdftotext finds that person and nobody else; the
// journal holds the request, the print and the fee hand-off. A refusal and a timeout each end on a plain
// screen with no print job; with the provider gone the menu shows the services unavailable and why.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBrowserShell, type BrowserShell } from '../../main/browser/server.js';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { TERMINAL_KEY_LABEL } from '../../hsm/config.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../main/demo/index.js';
import { DEMO_RESIDENTS, startDemoProvider } from '../../main/demo/provider.js';
import { VpcdDemoWallet } from '../../main/demo/wallet.js';
import { DEMO_PROVIDER_SERVICES, type ReferenceProvider } from '../../hub/reference-provider/server.js';
import { ui } from '../../renderer/src/i18n.js';
import { DEMO_PIN } from '../../sim/pki/demo-pki.js';
import { pdfText, startCups, type PrivateCups } from '../support/cups.js';
import { serviceRecords, servicesConfig } from '../services/helpers.js';
import {
  ensureRendererBuilt,
  expectAccessible,
  launchChromium,
  rendererDir,
  screenshot,
  waitForScreen,
} from './support.js';

const VPCD_PORT = 36730;
const dataDir = mkdtempSync(join(tmpdir(), 'jpki-services-e2e-'));
let env: DemoEnvironment;
let cups: PrivateCups;
let provider: ReferenceProvider;
let terminal: Terminal;
let wallet: VpcdDemoWallet;
let shell: BrowserShell;
let browser: Browser;
let page: Page;
let slowLibrary = false;

beforeAll(async () => {
  await ensureRendererBuilt();
  cups = await startCups();
  const config = servicesConfig(dataDir, 'e2e', VPCD_PORT, {
    printing: { driver: 'cups', server: cups.server, queue: cups.queue, completionTimeoutMs: 8000 },
    timeoutMs: 1500,
    retries: 1,
  });
  env = await startDemoEnvironment(config, { timing: 'instant' });
  provider = await startDemoProvider(config, env.assets.cards, {
    services: {
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
  provider.registerTerminal(
    config.site.terminalId,
    (await terminal.devices.hsm!.publicKey(TERMINAL_KEY_LABEL)).pem,
  );
  shell = await startBrowserShell({ config, core: terminal, port: 0, rendererDir });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(10_000);
  await page.goto(shell.launchUrl());
  await waitForScreen(page, 'waiting');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await shell?.close();
  await terminal?.close();
  await wallet?.close();
  await provider?.close().catch(() => undefined);
  await env?.stop();
  await cups?.stop();
});

async function openWallet() {
  if (!(await page.getByTestId('demo-wallet').isVisible())) await page.getByTestId('open-wallet').click();
  await page.getByTestId('demo-wallet').waitFor();
}

async function startSession() {
  if (terminal.session.sessionId) {
    // the wallet drawer steps aside during a session: the previous card leaves through the same wallet
    await wallet.remove();
    await waitForScreen(page, 'waiting');
    await new Promise((r) => setTimeout(r, 300));
  }
  await openWallet();
  await page.locator('[data-card="kiosk-member"]').click();
  await waitForScreen(page, 'session');
  if (await page.getByTestId('demo-wallet').isVisible()) await page.getByTestId('open-wallet').click();
  await page.getByTestId('screen-session').waitFor();
}

async function typePin(pin: string) {
  await page.getByTestId('card-pinpad').waitFor();
  for (const digit of pin) await page.locator(`[data-testid=card-pinpad] [data-key="${digit}"]`).click();
  await page.locator('[data-testid=card-pinpad] [data-testid=pin-ok]').click();
}

describe('convenience-store kiosk services in Chromium', () => {
  it('住民票の写し: PIN, the provider issues, CUPS prints that person only; journal and fee hand-off', async () => {
    await startSession();
    const jobsBefore = cups.jobs().length;
    await expectAccessible(page, 'kiosk-service-menu');
    await screenshot(page, 'kiosk-service-menu-ja');
    await page.locator('[data-service="residence-certificate"]').click();
    await typePin(DEMO_PIN);
    await page.getByTestId('service-done').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('service-done').innerText()).toContain(ui.kioskTakeDocument.ja);
    expect(await page.getByTestId('service-fee').innerText()).toContain('200');
    await screenshot(page, 'kiosk-service-done-ja');
    const sessionId = terminal.session.sessionId!;
    const jobs = cups.jobs();
    expect(jobs).toHaveLength(jobsBefore + 1);
    const job = jobs[jobs.length - 1]!;
    expect(job.title.startsWith(`kiosk:${sessionId}:`)).toBe(true);
    const text = await pdfText(job.pdf);
    expect(text).toContain(DEMO_RESIDENTS['kiosk-member']!.name);
    expect(text).toContain(DEMO_RESIDENTS['kiosk-member']!.address);
    for (const [card, person] of Object.entries(DEMO_RESIDENTS))
      if (card !== 'kiosk-member') expect(text).not.toContain(person.name);
    const requestId = job.title.split(':')[2]!;
    const events = serviceRecords(terminal)
      .filter((r) => r.service?.requestId === requestId)
      .map((r) => r.service!.event);
    expect(events).toEqual(['request', 'document', 'printed', 'fee-handoff']);
    // the screen names nobody
    expect(await page.locator('body').innerText()).not.toContain(DEMO_RESIDENTS['kiosk-member']!.name);
    await page.getByTestId('service-back').click();
    await page.getByTestId('screen-session').waitFor();
  });

  it('a refusal ends on a plain screen and prints nothing', async () => {
    await startSession();
    const jobsBefore = cups.jobs().length;
    await page.locator('[data-service="tax-certificate"]').click();
    await typePin(DEMO_PIN);
    const failed = page.getByTestId('service-failed');
    await failed.waitFor({ timeout: 30_000 });
    expect(await failed.getAttribute('data-refusal')).toBe('service_unknown');
    expect(await failed.innerText()).toContain(ui.kioskFailed.ja);
    await expectAccessible(page, 'kiosk-service-refused');
    await screenshot(page, 'kiosk-service-refused-ja');
    expect(cups.jobs()).toHaveLength(jobsBefore);
  });

  it('a provider timeout ends on a plain screen and prints nothing', async () => {
    slowLibrary = true;
    try {
      await startSession();
      const jobsBefore = cups.jobs().length;
      await page.locator('[data-service="library-card"]').click();
      const failed = page.getByTestId('service-failed');
      await failed.waitFor({ timeout: 30_000 });
      expect(await failed.getAttribute('data-code')).toBe('SERVICE_TIMEOUT');
      expect(cups.jobs()).toHaveLength(jobsBefore);
    } finally {
      slowLibrary = false;
    }
  });

  it('offline, network services are shown unavailable with the reason', async () => {
    await startSession();
    await provider.close();
    await page
      .locator('[data-service="residence-certificate"][data-available="false"]')
      .waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('unavailable-residence-certificate').innerText()).toBe(
      ui.kioskUnavailableOffline.ja,
    );
    expect(await page.locator('[data-service="residence-certificate"]').isDisabled()).toBe(true);
    await screenshot(page, 'kiosk-service-offline-ja');
  });
});
