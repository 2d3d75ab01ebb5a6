/// <reference lib="dom" />
// Every public screen in every language, in Chromium at the kiosk's resolution (1280 × 800): nothing
// overflows its box (panel, button, banner, language bar) or the screen. Drawn from the in-memory core
// that emits what the contract allows; the words come from renderer/src/i18n.ts, so a translation that
// grows too long for its box fails here, naming the language, the screen and the element.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { loadConfig } from '../../config/load.js';
import { startBrowserShell, type BrowserShell } from '../../main/browser/server.js';
import { ErrorCodes } from '../../base/errors.js';
import { ReasonCodes, type Decision } from '../../base/decision.js';
import { Languages } from '../../base/languages.js';
import type { TerminalStatus } from '../../main/api/contract.js';
import { errorText, plainText, reasonHeadline, reasonHint } from '../../renderer/src/i18n.js';
import { createFakeCore, makeDecision, type FakeCore } from '../support/fake-core.js';
import {
  chooseLanguage,
  ensureRendererBuilt,
  launchChromium,
  rendererDir,
  screenshot,
  waitForScreen,
} from './support.js';

let browser: Browser;
let shell: BrowserShell;
let core: FakeCore;
let page: Page;
let serial = 0;

beforeAll(async () => {
  await ensureRendererBuilt();
  const config = loadConfig({ profile: 'demo' });
  // The kiosk's menu as the demo profile lists it, the last service unavailable so its reason shows too.
  const services = config.policy.kiosk.services.map((s, i, all) => ({
    id: s.id,
    names: s.names,
    pinRequired: s.pinRequired,
    feeYen: s.feeYen,
    available: i < all.length - 1,
    unavailableReason: i < all.length - 1 ? null : ('offline' as const),
  }));
  core = createFakeCore({ ui: { volume: 0, resultHoldMs: 600_000, sessionTimeoutSeconds: 120 }, services });
  shell = await startBrowserShell({ config, core, port: 0, rendererDir });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(shell.launchUrl());
  await waitForScreen(page, 'waiting');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await shell?.close();
});

/** Elements that stick out of the screen or out of the box that holds them, described for the failure. */
async function overflows(): Promise<string[]> {
  return page.evaluate(() => {
    const slack = 2;
    const bad: string[] = [];
    const name = (el: Element) =>
      `${el.tagName.toLowerCase()}${el.getAttribute('data-testid') ? `[${el.getAttribute('data-testid')}]` : ''}${el.className && typeof el.className === 'string' ? `.${el.className.split(' ').join('.')}` : ''} "${(el.textContent ?? '').trim().slice(0, 40)}"`;
    const boxes = [...document.querySelectorAll('.panel, button, .banner, .languages, .topbar, .bottombar')];
    for (const box of boxes) {
      if (box.getClientRects().length === 0) continue;
      const b = box as HTMLElement;
      if (b.scrollWidth > b.clientWidth + slack || b.scrollHeight > b.clientHeight + slack)
        bad.push(
          `${name(box)} content ${b.scrollWidth}x${b.scrollHeight} > box ${b.clientWidth}x${b.clientHeight}`,
        );
      const outer = box.getBoundingClientRect();
      for (const inner of box.querySelectorAll('*')) {
        if (inner.getClientRects().length === 0) continue;
        const r = inner.getBoundingClientRect();
        if (r.width === 0 && r.height === 0) continue;
        if (
          r.left < outer.left - slack ||
          r.right > outer.right + slack ||
          r.top < outer.top - slack ||
          r.bottom > outer.bottom + slack
        )
          bad.push(`${name(inner)} sticks out of ${name(box)}`);
      }
    }
    for (const el of document.querySelectorAll('body *')) {
      if (el.getClientRects().length === 0) continue;
      const r = el.getBoundingClientRect();
      if (r.right > innerWidth + slack || r.bottom > innerHeight + slack || r.left < -slack || r.top < -slack)
        bad.push(
          `${name(el)} leaves the screen (${Math.round(r.left)},${Math.round(r.top)})-(${Math.round(r.right)},${Math.round(r.bottom)})`,
        );
    }
    return bad;
  });
}

async function expectFits(label: string) {
  // Fonts and layout settle before measuring.
  await page.evaluate(() => document.fonts.ready.then(() => undefined));
  const bad = await overflows();
  if (bad.length > 0) await screenshot(page, `overflow-${label}`);
  expect(bad, label).toEqual([]);
}

async function setStatus(patch: Partial<TerminalStatus>) {
  core.setStatus({ outOfService: null, degraded: false, ...patch });
  await page.waitForFunction(
    (kind) => document.querySelector(`.kiosk.site-${kind}`) !== null,
    patch.siteKind ?? core.status.siteKind,
  );
}

async function show(decision: Decision) {
  const d = { ...decision, id: `layout-${++serial}` };
  core.decide(d);
  await page.locator(`[data-testid=screen-result][data-decision="${d.id}"]`).waitFor();
}

/** The longest of a list of texts in this language: the one most likely to overflow. */
function longest<T>(items: readonly T[], text: (item: T) => string): T {
  return items.reduce((a, b) => (plainText(text(b)).length > plainText(text(a)).length ? b : a));
}

const counters = { admitted: 12_345, refused: 1_234, inside: 11_111 };

describe('every public screen fits in every language at 1280 × 800', () => {
  for (const language of Languages) {
    it(`${language}`, async () => {
      // Out of service and back: whatever the last language left on screen is forgotten.
      core.setStatus({ outOfService: { code: 'INTERNAL', message: 'reset' } });
      await waitForScreen(page, 'out_of_service');
      await setStatus({ siteKind: 'stadium-gate', counters });
      await waitForScreen(page, 'waiting');
      await chooseLanguage(page, language);
      await waitForScreen(page, 'waiting');
      await expectFits(`${language} gate waiting`);

      core.emit({ name: 'reading', payload: { phase: 'verifying', progress: 0.6 } });
      await waitForScreen(page, 'reading');
      await expectFits(`${language} reading`);

      await setStatus({ siteKind: 'stadium-gate', authMode: 'pin' });
      core.emit({ name: 'pinRequest', payload: { requestId: `p${++serial}`, triesLeft: 1, retry: true } });
      await waitForScreen(page, 'pin');
      await expectFits(`${language} pin retry`);
      core.emit({ name: 'pinRequest', payload: { requestId: `p${++serial}`, triesLeft: 0, retry: true } });
      await page.waitForSelector('[data-tries="0"]');
      await expectFits(`${language} pin blocked`);

      // Each reason, with the longest seat and zone a ticket may carry, under the DEGRADED banner.
      await setStatus({ siteKind: 'stadium-gate', authMode: 'terminal', degraded: true });
      for (const headline of ReasonCodes) {
        await show(
          makeDecision({
            outcome: headline === 'ok' || headline === 'degraded' ? 'admitted' : 'refused',
            headline,
            publicView: { headline, seat: 'Block 12 Row 34 Seat 567', zone: 'North upper tier' },
          }),
        );
        // The words without their readings (<rt>): what a reader of the language reads.
        const shown = await page.getByTestId('result-headline').evaluate((el) => {
          const copy = el.cloneNode(true) as HTMLElement;
          copy.querySelectorAll('rt').forEach((rt) => rt.remove());
          return copy.textContent ?? '';
        });
        expect(shown.replace(/\s/g, '')).toContain(
          plainText(reasonHeadline(headline, language)).replace(/\s/g, '').slice(0, 4),
        );
        await expectFits(`${language} gate result ${headline}`);
      }

      await setStatus({ siteKind: 'hospital-reception', degraded: false });
      await show(makeDecision({ site: 'hospital-reception' }));
      await expectFits(`${language} reception admitted`);

      await setStatus({ siteKind: 'shelter', counters: { admitted: 0, refused: 0, inside: 1_234 } });
      await waitForScreen(page, 'waiting');
      await expectFits(`${language} shelter waiting`);
      await show(makeDecision({ site: 'shelter', publicView: { headline: 'ok', householdSize: 1 } }));
      await expectFits(`${language} shelter check-in`);
      await show(
        makeDecision({
          site: 'shelter',
          outcome: 'staff',
          reasons: ['unregistered_admitted'],
          publicView: { headline: 'unregistered_admitted' },
        }),
      );
      await expectFits(`${language} shelter unregistered`);

      await setStatus({ siteKind: 'convenience-kiosk' });
      await waitForScreen(page, 'waiting');
      await expectFits(`${language} kiosk waiting`);
      const d = { ...makeDecision({ site: 'convenience-kiosk' }), id: `layout-${++serial}` };
      core.decide(d);
      await page.locator(`[data-decision="${d.id}"]`).waitFor();
      core.emit({
        name: 'session',
        payload: {
          state: 'open',
          sessionId: `s${serial}`,
          decisionId: d.id,
          endsAt: new Date(Date.now() + 100_000).toISOString(),
        },
      });
      await waitForScreen(page, 'session');
      expect(await page.locator('[data-testid=screen-session] .menu button').count()).toBeGreaterThan(0);
      await expectFits(`${language} kiosk session`);
      core.emit({ name: 'session', payload: { state: 'closed', sessionId: `s${serial}`, reason: 'ended' } });

      // Out of service with this language's longest error words.
      const code = longest(ErrorCodes, (c) => errorText(c, language));
      await setStatus({ siteKind: 'stadium-gate', outOfService: { code, message: 'layout' } } as never);
      core.setStatus({ outOfService: { code, message: 'layout' } });
      await waitForScreen(page, 'out_of_service');
      await expectFits(`${language} out of service ${code}`);
      await screenshot(page, `layout-out-of-service-${language}`);
      core.setStatus({ outOfService: null });
      await waitForScreen(page, 'waiting');
      expect(reasonHint('ok', language).length).toBeGreaterThan(0);
    }, 120_000);
  }
});
