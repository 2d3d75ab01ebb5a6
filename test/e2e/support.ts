/// <reference lib="dom" />
// Shared pieces of the end-to-end suites: Debian Chromium through playwright-core, an axe-core check that
// fails on serious or critical violations, screenshots into var/screenshots/ (git-ignored), and a
// renderer build when the sources are newer than dist/renderer.
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { chromium, type Browser, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { projectRoot } from '../../config/paths.js';

export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--autoplay-policy=no-user-gesture-required',
];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: chromiumArgs });
}

export const screenshotDir = join(projectRoot(), 'var', 'screenshots');
export const rendererDir = join(projectRoot(), 'dist', 'renderer');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Builds the renderer with Vite if dist/renderer is missing or older than its sources. */
export async function ensureRendererBuilt(): Promise<void> {
  const root = projectRoot();
  const index = join(rendererDir, 'index.html');
  const sources = Math.max(
    newestMtime(join(root, 'renderer', 'src')),
    newestMtime(join(root, 'main', 'api')),
  );
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  const { build } = await import('vite');
  await build({ configFile: join(root, 'renderer', 'vite.config.ts'), logLevel: 'warn' });
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/** Runs axe-core on the page as it is now; fails on any serious or critical violation. */
export async function expectAccessible(page: Page, label: string): Promise<void> {
  const loaded = await page.evaluate('typeof window.axe');
  // Evaluated through the DevTools protocol: the page's CSP (script-src 'self') stays in force.
  if (loaded !== 'object') await page.evaluate(axeSource);
  const violations = (await page.evaluate(
    `window.axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({ target: n.target })) })))`,
  )) as AxeViolation[];
  const bad = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(bad, `${label}: ${JSON.stringify(bad, null, 1)}`).toEqual([]);
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name}.png`);
  await page.screenshot({ path });
  return path;
}

/** Waits until the public screen shows `kind` (the App mirrors it on <html data-screen>). */
export async function waitForScreen(page: Page, kind: string): Promise<void> {
  await page.waitForFunction((k) => document.documentElement.dataset.screen === k, kind, { timeout: 10_000 });
}

/** Touches the language choice's button for `language` and waits until the screen speaks it. */
export async function chooseLanguage(page: Page, language: string): Promise<void> {
  const current = await page.evaluate(() => document.documentElement.dataset.language);
  if (current !== language)
    await page.locator(`[data-testid=languages] [data-language="${language}"]`).click();
  await page.waitForFunction((l) => document.documentElement.dataset.language === l, language);
}
