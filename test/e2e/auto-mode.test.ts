/// <reference lib="dom" />
// card.authMode 'auto' end to end in Chromium, with the card and authentication settings of the shipped
// stadium, reception and shelter profiles: a demo card that behaves like today's real My Number Cards
// (no PIN-less terminal authentication) goes through the PIN pad and is admitted; a card that answers
// PIN-less authentication is admitted without a PIN. Staff see which path each tap took. The real
// terminal core, SoftHSM2, SQLite and a private pcscd + vpcd, as in real-stack.test.ts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { KioskConfig } from '../../config/load.js';
import { projectRoot } from '../../config/paths.js';
import { startBrowserShell, type BrowserShell } from '../../main/browser/server.js';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../main/demo/index.js';
import { DEMO_STAFF_PIN } from '../../main/demo/provision.js';
import { VpcdDemoWallet } from '../../main/demo/wallet.js';
import { writeDemoConfig } from '../../main/demo/config.js';
import { DEMO_PIN } from '../../sim/pki/demo-pki.js';
import { ui } from '../../renderer/src/i18n.js';
import { ensureRendererBuilt, launchChromium, rendererDir, screenshot, waitForScreen } from './support.js';

const VPCD_PORT = 36270;
const dataDir = mkdtempSync(join(tmpdir(), 'jpki-auto-e2e-'));
let env: DemoEnvironment;
let browser: Browser;
let page: Page;
let kiosk: { terminal: Terminal; wallet: VpcdDemoWallet; shell: BrowserShell } | null = null;

interface ShippedProfile {
  site: { kind: string };
  card: Record<string, unknown>;
}

/** The demo stack with the shipped profile's site kind and card settings (auth mode included). */
function configFor(profile: string): KioskConfig {
  const shipped = JSON.parse(
    readFileSync(join(projectRoot(), 'config', 'profiles', `${profile}.json`), 'utf8'),
  ) as ShippedProfile;
  return writeDemoConfig(dataDir, profile, {
    demo: { enabled: true, vpcdPort: VPCD_PORT },
    ui: { staffPin: { file: '${data}/demo/staff-pin' }, resultHoldMs: 1200 },
    site: { kind: shipped.site.kind },
    card: shipped.card,
  });
}

async function stopKiosk() {
  if (!kiosk) return;
  await kiosk.shell.close();
  await kiosk.wallet.close();
  await kiosk.terminal.close();
  kiosk = null;
}

async function startKiosk(config: KioskConfig) {
  await stopKiosk();
  const wallet = new VpcdDemoWallet({
    config,
    cards: env.assets.cards,
    endpoint: env.pcscd!.endpoint(VPCD_PORT),
    timing: 'instant',
  });
  const terminal = await createTerminal({ config, wallet });
  const shell = await startBrowserShell({ config, core: terminal, port: 0, rendererDir });
  kiosk = { terminal, wallet, shell };
  await page.goto(shell.launchUrl());
  await waitForScreen(page, 'waiting');
}

async function result(): Promise<{ reason: string; outcome: string }> {
  const el = page.locator('[data-testid=screen-result]');
  await el.waitFor({ timeout: 20_000 });
  return {
    reason: (await el.getAttribute('data-reason'))!,
    outcome: (await el.getAttribute('data-outcome'))!,
  };
}

async function removeCard() {
  await kiosk!.wallet.remove();
  await waitForScreen(page, 'waiting');
}

/** Opens staff mode and returns the authentication path shown for the latest decision. */
async function shownAuthPath(): Promise<{ path: string | null; words: string }> {
  await page.getByTestId('open-staff').click();
  await page.getByTestId('staff-locked').waitFor();
  for (const digit of DEMO_STAFF_PIN)
    await page.locator(`[data-testid=staff-pinpad] [data-key="${digit}"]`).click();
  await page.locator('[data-testid=staff-pinpad] [data-testid=pin-ok]').click();
  await page.getByTestId('staff-panel').waitFor();
  const shown = page.getByTestId('auth-path');
  await shown.waitFor();
  const out = { path: await shown.getAttribute('data-auth-path'), words: (await shown.innerText()).trim() };
  await page.getByTestId('staff-lock').click();
  await page.getByTestId('staff-panel').waitFor({ state: 'detached' });
  return out;
}

beforeAll(async () => {
  await ensureRendererBuilt();
  const config = configFor('stadium-gate');
  env = await startDemoEnvironment(config, { timing: 'instant' });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
}, 180_000);

afterAll(async () => {
  await stopKiosk().catch(() => undefined);
  await browser?.close();
  await env?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("the shipped profiles in 'auto' mode admit today's cards through the PIN pad", () => {
  it('the stadium, reception and shelter profiles default to auto', () => {
    for (const profile of ['stadium-gate', 'hospital-reception', 'shelter'])
      expect(configFor(profile).card.authMode, profile).toBe('auto');
  });

  const cases: [profile: string, card: string][] = [
    ['stadium-gate', 'valid'],
    ['hospital-reception', 'insured'],
    ['shelter', 'shelter-resident'],
  ];
  for (const [profile, card] of cases) {
    it(
      `${profile}: a card without PIN-less authentication asks for the PIN and admits`,
      { timeout: 90_000 },
      async () => {
        await startKiosk(configFor(profile));
        await kiosk!.wallet.insert(card, { pinless: false });
        await waitForScreen(page, 'pin');
        expect(await page.getByTestId('pin-tries').innerText()).toBe(ui.pinTriesLeft.ja.replace('{n}', '3'));
        for (const digit of DEMO_PIN)
          await page.locator(`[data-testid=card-pinpad] [data-key="${digit}"]`).click();
        await page.getByTestId('pin-ok').click();
        expect(await result()).toEqual({ reason: 'ok', outcome: 'admitted' });
        await screenshot(page, `auto-${profile}-pin-admitted-ja`);
        await removeCard();
        expect(await shownAuthPath()).toEqual({ path: 'pin', words: ui.authPathPin.ja });
      },
    );
  }

  it(
    'stadium-gate: a card that answers PIN-less authentication is admitted without the PIN pad',
    { timeout: 60_000 },
    async () => {
      await startKiosk(configFor('stadium-gate'));
      const screens: string[] = [];
      await page.exposeFunction('recordScreen', (s: string) => screens.push(s));
      await page.evaluate(() => {
        new MutationObserver(() => {
          void (window as unknown as { recordScreen(s: string): void }).recordScreen(
            document.documentElement.dataset.screen ?? '',
          );
        }).observe(document.documentElement, { attributes: true, attributeFilter: ['data-screen'] });
      });
      // holds a gate ticket; its blocked PIN does not matter when no PIN is asked
      await kiosk!.wallet.insert('pin-blocked');
      expect(await result()).toEqual({ reason: 'ok', outcome: 'admitted' });
      expect(screens).not.toContain('pin');
      await removeCard();
      expect(await shownAuthPath()).toEqual({ path: 'pinless', words: ui.authPathPinless.ja });
    },
  );
});
