/// <reference lib="dom" />
// Staff mode "enrol" end to end in Chromium: a fresh terminal (no hub registration, sync off) is enrolled
// through the kiosk screen with a one-time code created at a real hub (fastify + SQLite on a free loopback
// port); the core signs the proof with the terminal key in SoftHSM2, keeps the hub's answer, and syncs
// with the new enrolment at once (a staff "sync now" round succeeds and the hub saw the terminal). The
// same code typed again is refused on screen with its words. The real terminal core, SoftHSM2, SQLite
// and a private pcscd + vpcd, as in real-stack.test.ts.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { KioskConfig } from '../../config/load.js';
import { ENROLMENT_FILE } from '../../config/enrolment.js';
import { startBrowserShell, type BrowserShell } from '../../main/browser/server.js';
import { createTerminal, type Terminal } from '../../main/core/terminal/index.js';
import { startDemoEnvironment, type DemoEnvironment } from '../../main/demo/index.js';
import { DEMO_STAFF_PIN } from '../../main/demo/provision.js';
import { VpcdDemoWallet } from '../../main/demo/wallet.js';
import { writeDemoConfig } from '../../main/demo/config.js';
import { errorWords } from '../../main/api/messages.js';
import { issueEnrolmentCode } from '../../hub/enrolment.js';
import { formatEnrolmentCode } from '../../protocol/enrolment.js';
import { t } from '../../renderer/src/i18n.js';
import { startHub, type TestHub } from '../sync/helpers.js';
import { ensureRendererBuilt, launchChromium, rendererDir, screenshot, waitForScreen } from './support.js';

const VPCD_PORT = 36810;
const dataDir = mkdtempSync(join(tmpdir(), 'jpki-enrol-e2e-'));
const hubRoot = mkdtempSync(join(tmpdir(), 'jpki-enrol-hub-'));
let env: DemoEnvironment;
let hub: TestHub;
let browser: Browser;
let page: Page;
let config: KioskConfig;
let kiosk: { terminal: Terminal; wallet: VpcdDemoWallet; shell: BrowserShell } | null = null;

async function staffUnlock() {
  await page.getByTestId('open-staff').click();
  await page.getByTestId('staff-locked').waitFor();
  for (const digit of DEMO_STAFF_PIN)
    await page.locator(`[data-testid=staff-pinpad] [data-key="${digit}"]`).click();
  await page.locator('[data-testid=staff-pinpad] [data-testid=pin-ok]').click();
  await page.getByTestId('staff-panel').waitFor();
}

async function enrolOnScreen(hubUrl: string, code: string): Promise<{ ok: boolean; text: string }> {
  await page.getByTestId('enrol-hub').fill(hubUrl);
  await page.getByTestId('enrol-code').fill(code);
  await page.getByTestId('enrol-submit').click();
  const result = page.getByTestId('enrol-result');
  await result.waitFor({ timeout: 30_000 });
  return { ok: (await result.getAttribute('data-ok')) === 'true', text: (await result.innerText()).trim() };
}

beforeAll(async () => {
  await ensureRendererBuilt();
  config = writeDemoConfig(dataDir, 'fresh', {
    demo: { enabled: true, vpcdPort: VPCD_PORT },
    ui: { staffPin: { file: '${data}/demo/staff-pin' } },
    site: { language: 'en' },
    sync: { enabled: false, rootPath: null },
  });
  env = await startDemoEnvironment(config, { timing: 'instant' });
  writeFileSync(join(hubRoot, 'index-key'), 'ab'.repeat(32) + '\n', { mode: 0o600 });
  // Started once to create its keys and root, then again so the running hub hands its root out.
  hub = await startHub(hubRoot, 0, { indexKeyFile: join(hubRoot, 'index-key') });
  await hub.stop();
  hub = await startHub(hubRoot, 0, {
    indexKeyFile: join(hubRoot, 'index-key'),
    rootFile: join(hubRoot, 'hub', 'root.json'),
  });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
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
}, 180_000);

afterAll(async () => {
  if (kiosk) {
    await kiosk.shell.close();
    await kiosk.wallet.close();
    await kiosk.terminal.close();
  }
  await browser?.close();
  await hub?.stop();
  await env?.stop();
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(hubRoot, { recursive: true, force: true });
});

describe('staff mode "enrol" through the real stack', () => {
  it('a fresh terminal is enrolled with a code from the hub and syncs; the code used again is refused', async () => {
    const terminal = kiosk!.terminal;
    expect(terminal.status().sync.state).toBe('disabled');
    expect(existsSync(join(config.data.dir, ENROLMENT_FILE))).toBe(false);
    const issued = issueEnrolmentCode(
      hub.dir.store,
      { siteId: 'shelter-7', gateId: 'hall', zone: 'ground', siteKind: 'shelter' },
      600,
      Date.now(),
    );
    const code = formatEnrolmentCode(issued.code);

    await staffUnlock();
    const first = await enrolOnScreen(hub.url, code);
    expect(first.ok, first.text).toBe(true);
    const status = terminal.status();
    expect(first.text).toBe(
      t('staffEnrolled', 'en', { id: status.terminalId, site: 'shelter-7', gate: 'hall' }),
    );
    expect(status).toMatchObject({
      siteId: 'shelter-7',
      gateId: 'hall',
      zone: 'ground',
      siteKind: 'shelter',
    });
    expect(existsSync(join(config.data.dir, ENROLMENT_FILE))).toBe(true);
    // The hub knows the terminal under the id the screen shows.
    expect(hub.dir.store.terminal(status.terminalId)).toMatchObject({ siteId: 'shelter-7' });
    await screenshot(page, 'staff-enrolled-en');

    // Sync runs under the new enrolment without a restart: a staff round succeeds against the hub.
    expect(terminal.status().sync.state).not.toBe('disabled');
    await page.getByTestId('staff-sync').click();
    await page
      .getByTestId('staff-error')
      .filter({ hasText: t('done', 'en') })
      .waitFor({ timeout: 30_000 });
    expect(terminal.status().sync.lastPullAt).not.toBeNull();
    expect(terminal.status().sync.error).toBeNull();

    // A decision made now is journaled under the hub's id for this terminal, and its upload is accepted.
    const journal = terminal.devices.stores().journal;
    const before = journal.head().seq;
    await kiosk!.wallet.insert('valid');
    await vi.waitFor(() => expect(journal.head().seq).toBeGreaterThan(before), { timeout: 20_000 });
    expect(journal.get(journal.head().seq)).toMatchObject({
      terminalId: status.terminalId,
      siteId: 'shelter-7',
      gateId: 'hall',
    });
    await kiosk!.wallet.remove();
    const round = await terminal.syncNow(undefined);
    expect(round.pushed).toBeGreaterThan(0);
    expect(hub.dir.store.journalCount(status.terminalId)).toBeGreaterThan(0);

    // The same code again: refused by the hub, in words on the screen.
    const again = await enrolOnScreen(hub.url, code);
    expect(again.ok).toBe(false);
    expect(again.text).toBe(`${errorWords.ENROL_CODE_USED.en} (ENROL_CODE_USED)`);
    await screenshot(page, 'staff-enrol-code-used-en');
  }, 120_000);
});
