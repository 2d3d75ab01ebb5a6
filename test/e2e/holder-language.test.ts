/// <reference lib="dom" />
// The holder's language through the real stack: a demo card whose whitelist entry names Vietnamese is
// tapped through pcscd + vpcd, the core's decision carries the language, and Chromium shows the
// Vietnamese result; the next person (a card whose entry names none) gets the site's default language.
// Easy Japanese, chosen on the language bar, draws its readings as <ruby> furigana.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { startBrowserShell, type BrowserShell } from '../../main/browser/server.js';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../main/demo/index.js';
import { VpcdDemoWallet } from '../../main/demo/wallet.js';
import { writeDemoConfig } from '../../main/demo/config.js';
import { reasonHeadline, reasonHint, t } from '../../renderer/src/i18n.js';
import {
  chooseLanguage,
  ensureRendererBuilt,
  expectAccessible,
  launchChromium,
  rendererDir,
  screenshot,
  waitForScreen,
} from './support.js';

const VPCD_PORT = 36255;
const dataDir = mkdtempSync(join(tmpdir(), 'jpki-lang-e2e-'));
let env: DemoEnvironment;
let browser: Browser;
let page: Page;
let terminal: Terminal;
let wallet: VpcdDemoWallet;
let shell: BrowserShell;

const language = () => page.evaluate(() => document.documentElement.dataset.language);

async function tap(card: string): Promise<string> {
  const before = await page.evaluate(
    () => document.querySelector('[data-testid=screen-result]')?.getAttribute('data-decision') ?? null,
  );
  await wallet.insert(card);
  await page.waitForFunction(
    (prev) => {
      const el = document.querySelector('[data-testid=screen-result]');
      return el !== null && el.getAttribute('data-decision') !== prev;
    },
    before,
    { timeout: 20_000 },
  );
  return (await page.locator('[data-testid=screen-result]').getAttribute('data-reason'))!;
}

async function remove() {
  await wallet.remove();
  await waitForScreen(page, 'waiting');
}

beforeAll(async () => {
  await ensureRendererBuilt();
  // The site speaks Spanish by default, so "back to the default" cannot be confused with Japanese.
  const config = writeDemoConfig(dataDir, 'gate', {
    demo: { enabled: true, vpcdPort: VPCD_PORT },
    site: { language: 'es' },
    ui: { resultHoldMs: 1500 },
  });
  env = await startDemoEnvironment(config, { timing: 'instant' });
  wallet = new VpcdDemoWallet({
    config,
    cards: env.assets.cards,
    endpoint: env.pcscd!.endpoint(VPCD_PORT),
    timing: 'instant',
  });
  terminal = await createTerminal({ config, wallet });
  shell = await startBrowserShell({ config, core: terminal, port: 0, rendererDir });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(shell.launchUrl());
  await waitForScreen(page, 'waiting');
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await shell?.close();
  await wallet?.close();
  await terminal?.close();
  await env?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("the holder's language", () => {
  it('a card whose entry names Vietnamese gets the Vietnamese result; the next person the site default', async () => {
    expect(await language()).toBe('es');
    expect(await tap('visitor-vi')).toBe('ok');
    expect(await language()).toBe('vi');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('vi');
    expect((await page.getByTestId('result-headline').innerText()).trim()).toBe(reasonHeadline('ok', 'vi'));
    expect((await page.getByTestId('result-hint').innerText()).trim()).toBe(reasonHint('ok', 'vi'));
    expect(await page.getByTestId('seat').innerText()).toContain(t('seat', 'vi'));
    await expectAccessible(page, 'holder-vi');
    await screenshot(page, 'gate-admitted-vi');
    await remove();
    // The result's hold ends: the screen is back in the site's language before the next person.
    await page.waitForFunction(() => document.documentElement.dataset.language === 'es');

    expect(await tap('valid')).toBe('ok');
    expect(await language()).toBe('es');
    expect((await page.getByTestId('result-headline').innerText()).trim()).toBe(reasonHeadline('ok', 'es'));
    await remove();
  });

  it('easy Japanese shows furigana on its kanji', async () => {
    await chooseLanguage(page, 'ja-easy');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('ja');
    const readings = await page.locator('[data-testid=screen-waiting] ruby rt').allInnerTexts();
    expect(readings).toContain('おと');
    // A refusal asks for staff and names the city office, both in kanji with readings.
    expect(await tap('revoked')).toBe('revoked');
    const hint = page.getByTestId('result-hint');
    expect(await hint.locator('ruby').count()).toBeGreaterThan(0);
    expect(await hint.locator('ruby rt').allInnerTexts()).toEqual(
      expect.arrayContaining(['かかり', 'しやくしょ']),
    );
    // Every kanji on the result screen sits in a <ruby> with its reading.
    const bareKanji = await page.evaluate(() => {
      const panel = document.querySelector('[data-testid=screen-result]')!;
      const walker = document.createTreeWalker(panel, NodeFilter.SHOW_TEXT);
      const bare: string[] = [];
      for (let n = walker.nextNode(); n; n = walker.nextNode()) {
        if (n.parentElement?.closest('ruby')) continue;
        const seatRow = n.parentElement?.closest('[data-testid=seat]') && /\d/.test(n.textContent ?? '');
        if (!seatRow && /[\u4e00-\u9fff]/.test(n.textContent ?? '')) bare.push(n.textContent!);
      }
      return bare;
    });
    expect(bareKanji).toEqual([]);
    await screenshot(page, 'gate-admitted-ja-easy');
    await remove();
  });
});
