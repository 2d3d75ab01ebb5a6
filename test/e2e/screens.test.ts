/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Every screen state of every profile, in a real Chromium, against the browser shell and an in-memory
// core that emits exactly what the contract allows: the words in Japanese and English, the PIN pad,
// DEGRADED and out of service, the staff lock, 48 px touch targets, axe-core, and a screenshot each.
// (test/e2e/real-stack.test.ts drives the same UI through the real core and pcscd.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { loadConfig } from '../../config/load.js';
import { startBrowserShell, type BrowserShell } from '../../main/browser/server.js';
import { errorWords } from '../../main/api/messages.js';
import type { Decision, ReasonCode } from '../../base/decision.js';
import type { Language, TerminalStatus } from '../../main/api/contract.js';
import { reasonHeadline, reasonHint, t, ui } from '../../renderer/src/i18n.js';
import { createFakeCore, makeDecision, type FakeCore } from '../support/fake-core.js';
import {
  ensureRendererBuilt,
  expectAccessible,
  launchChromium,
  rendererDir,
  screenshot,
  waitForScreen,
  chooseLanguage,
} from './support.js';

let browser: Browser;
let shell: BrowserShell;
let core: FakeCore;
let page: Page;
const cspViolations: string[] = [];

const hold = { volume: 0.8, resultHoldMs: 600_000, sessionTimeoutSeconds: 120 };

beforeAll(async () => {
  await ensureRendererBuilt();
  core = createFakeCore({ ui: hold });
  shell = await startBrowserShell({ config: loadConfig({ profile: 'demo' }), core, port: 0, rendererDir });
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text());
  });
  await page.goto(shell.launchUrl());
  await waitForScreen(page, 'waiting');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await shell?.close();
});

async function setLanguage(language: Language) {
  await chooseLanguage(page, language);
}

async function setSite(patch: Partial<TerminalStatus>) {
  core.setStatus({ outOfService: null, degraded: false, ...patch });
  await page.waitForTimeout(50);
}

async function showDecision(decision: Decision) {
  core.decide(decision);
  await page.locator(`[data-testid=screen-result][data-decision="${decision.id}"]`).waitFor();
}

async function text(testId: string) {
  return (await page.getByTestId(testId).innerText()).trim();
}

/** Every visible button is a touch target of at least 48 × 48 CSS pixels. */
async function expectTouchTargets(label: string) {
  const small = await page.evaluate(() =>
    [...document.querySelectorAll('button, select, input')]
      .filter((el) => (el as HTMLElement).offsetParent !== null)
      .map((el) => ({ text: (el.textContent ?? '').trim().slice(0, 20), box: el.getBoundingClientRect() }))
      .filter(({ box }) => box.width < 48 || box.height < 48)
      .map(({ text, box }) => `${text} ${Math.round(box.width)}x${Math.round(box.height)}`),
  );
  expect(small, label).toEqual([]);
}

async function check(name: string) {
  await expectAccessible(page, name);
  await expectTouchTargets(name);
  await screenshot(page, name);
}

async function expectResultWords(headline: ReasonCode, language: Language) {
  expect(await text('result-headline')).toBe(reasonHeadline(headline, language));
  expect(await text('result-hint')).toBe(reasonHint(headline, language));
}

describe('stadium gate', () => {
  it('waiting screen in both languages, with counters', async () => {
    await setSite({ siteKind: 'stadium-gate' });
    for (const language of ['ja', 'en'] as const) {
      await setLanguage(language);
      await waitForScreen(page, 'waiting');
      expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe(ui.touchCard[language]);
      await check(`gate-waiting-${language}`);
    }
    await setLanguage('ja');
  });

  it('reading shows progress', async () => {
    core.emit({ name: 'reading', payload: { phase: 'reading_certificate', progress: 0.4 } });
    await waitForScreen(page, 'reading');
    expect(await page.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('40');
    await check('gate-reading-ja');
  });

  const gateCases: [string, Decision][] = [
    [
      'admitted',
      makeDecision({
        publicView: { headline: 'ok', seat: 'B-12', zone: 'North' },
        staffView: { displayName: '山田 太郎' },
      }),
    ],
    ['revoked', makeDecision({ outcome: 'refused', headline: 'revoked' })],
    ['wrong-gate', makeDecision({ outcome: 'refused', headline: 'wrong_gate' })],
    ['already-inside', makeDecision({ outcome: 'refused', headline: 'already_inside' })],
    ['expired', makeDecision({ outcome: 'refused', headline: 'cert_expired' })],
    ['unregistered', makeDecision({ outcome: 'refused', headline: 'not_registered' })],
  ];
  for (const [name, decision] of gateCases) {
    it(`${name}: OK/NG, the reason and the next step in Japanese and English, no name`, async () => {
      for (const language of ['ja', 'en'] as const) {
        await setLanguage(language);
        const d = { ...decision, id: `${decision.id}-${language}` };
        await showDecision(d);
        await expectResultWords(d.publicView.headline, language);
        const body = await page.locator('body').innerText();
        expect(body).toContain(d.outcome === 'admitted' ? ui.ok[language] : ui.ng[language]);
        expect(body).not.toContain('山田');
        if (d.publicView.seat) expect(await text('seat')).toContain('B-12');
        expect(await page.evaluate(() => document.documentElement.dataset.lastTone)).toBe(
          d.outcome === 'admitted' ? 'admitted' : 'refused',
        );
        await check(`gate-${name}-${language}`);
      }
      await setLanguage('ja');
    });
  }

  it('a result is forgotten after the hold time and the language returns to the default', async () => {
    core.setStatus({ ui: { ...hold, resultHoldMs: 400 } });
    await setLanguage('en');
    await showDecision(makeDecision());
    await waitForScreen(page, 'waiting');
    await page.waitForFunction(() => document.documentElement.dataset.language === 'ja');
    core.setStatus({ ui: hold });
  });
});

describe('PIN mode', () => {
  it('the pad masks four digits, shows tries left, and sends the PIN to the core', async () => {
    await setSite({ authMode: 'pin' });
    core.emit({ name: 'pinRequest', payload: { requestId: 'pin-1', triesLeft: 3, retry: false } });
    await waitForScreen(page, 'pin');
    expect(await text('pin-tries')).toBe(t('pinTriesLeft', 'ja', { n: 3 }));
    await check('pin-pad-ja');
    for (const d of ['1', '2', '3', '4']) await page.locator(`[data-key="${d}"]`).click();
    expect(await page.locator('.dot.full').count()).toBe(4);
    expect(await page.locator('body').innerText()).not.toContain('1234');
    await page.getByTestId('pin-ok').click();
    await waitForScreen(page, 'reading');
    expect(core.pinAnswers).toContainEqual({ requestId: 'pin-1', pin: '1234' });
  });

  it('after a wrong PIN it says so with the tries left; a blocked card offers only cancel', async () => {
    await setLanguage('en');
    core.emit({ name: 'pinRequest', payload: { requestId: 'pin-2', triesLeft: 1, retry: true } });
    await waitForScreen(page, 'pin');
    expect(await page.locator('body').innerText()).toContain(ui.pinRetry.en);
    expect(await text('pin-tries')).toBe(t('pinTriesLeft', 'en', { n: 1 }));
    await check('pin-retry-en');
    core.emit({ name: 'pinRequest', payload: { requestId: 'pin-3', triesLeft: 0, retry: true } });
    await page.waitForSelector('[data-tries="0"]');
    expect(await page.getByRole('heading', { level: 1 }).innerText()).toBe(ui.pinBlocked.en);
    expect(await page.locator('[data-key]').count()).toBe(0);
    await check('pin-blocked-en');
    await page.getByTestId('pin-cancel').click();
    await waitForScreen(page, 'waiting');
    // Cancelling ends this person's turn: the screen is back in the default language.
    expect(await page.evaluate(() => document.documentElement.dataset.language)).toBe('ja');
    await setLanguage('en');
    await showDecision(makeDecision({ outcome: 'refused', headline: 'pin_blocked' }));
    await expectResultWords('pin_blocked', 'en');
    await check('pin-blocked-result-en');
    await setLanguage('ja');
    await setSite({ authMode: 'terminal' });
  });
});

describe('terminal health on the public screen', () => {
  it('stale data shows the DEGRADED banner while checks continue', async () => {
    await setSite({ degraded: true, data: { ...core.status.data, stale: true } });
    await page.getByTestId('degraded-banner').waitFor();
    expect(await text('degraded-banner')).toBe(ui.degraded.ja);
    await showDecision(makeDecision({ degraded: true, reasons: ['ok', 'degraded'], headline: 'degraded' }));
    expect(await page.evaluate(() => document.documentElement.dataset.lastTone)).toBe('attention');
    await check('degraded-admitted-ja');
    await setLanguage('en');
    expect(await text('degraded-banner')).toBe(ui.degraded.en);
    await setLanguage('ja');
    await setSite({ data: { ...core.status.data, stale: false } });
    // The flagged decision on screen still carries the banner; the next, unflagged one does not.
    expect(await page.getByTestId('degraded-banner').count()).toBe(1);
    await showDecision(makeDecision());
    expect(await page.getByTestId('degraded-banner').count()).toBe(0);
  });

  for (const code of ['READER_GONE', 'HSM_UNAVAILABLE', 'PCSC_UNAVAILABLE'] as const) {
    it(`out of service with the error code: ${code}`, async () => {
      await setSite({ outOfService: { code, message: 'test' } });
      await waitForScreen(page, 'out_of_service');
      expect(await text('error-code')).toContain(code);
      expect(await page.locator('body').innerText()).toContain(errorWords[code].ja);
      await check(`out-of-service-${code.toLowerCase()}-ja`);
      await setLanguage('en');
      expect(await page.locator('body').innerText()).toContain(errorWords[code].en);
      await setLanguage('ja');
      await setSite({});
      await waitForScreen(page, 'waiting');
    });
  }
});

describe('hospital reception', () => {
  it('the patient sees a plain confirmation; staff see the insurance and send it on', async () => {
    await setSite({ siteKind: 'hospital-reception' });
    await waitForScreen(page, 'waiting');
    await check('reception-waiting-ja');
    const d = makeDecision({
      site: 'hospital-reception',
      staffView: {
        displayName: '佐藤 花子',
        insurance: {
          status: 'valid',
          insurerNumber: '06130012',
          symbol: '12',
          number: '345',
          branch: '01',
          copayRatio: 0.3,
          validFrom: '2024-04-01',
          validTo: '2027-03-31',
        },
      },
    });
    for (const language of ['ja', 'en'] as const) {
      await setLanguage(language);
      await showDecision({ ...d, id: `${d.id}-${language}` });
      expect(await text('result-headline')).toBe(ui.receptionDone[language]);
      expect(await page.locator('body').innerText()).not.toContain('06130012');
      await check(`reception-admitted-${language}`);
    }
    await setLanguage('en');
    await showDecision(
      makeDecision({ site: 'hospital-reception', outcome: 'refused', headline: 'entitlement_expired' }),
    );
    await expectResultWords('entitlement_expired', 'en');
    await check('reception-refused-en');
    await setLanguage('ja');
    core.decisions.splice(0, 2);
    await page.getByTestId('open-staff').click();
    await page.getByTestId('staff-locked').waitFor();
    for (const digit of '2468')
      await page.locator(`[data-testid=staff-pinpad] [data-key="${digit}"]`).click();
    await page.locator('[data-testid=staff-pinpad] [data-testid=pin-ok]').click();
    await page.getByTestId('staff-panel').waitFor();
    await page.getByTestId('decision-details').waitFor();
    expect(await text('decision-details')).toContain('06130012');
    expect(await text('decision-details')).toContain('30%');
    await page.getByTestId('send-reception').click();
    await page.getByTestId('staff-error').waitFor();
    expect(await text('staff-error')).toContain('coverage-1.json');
    expect(core.calls.some((c) => c.name === 'sendToReception')).toBe(true);
    await check('reception-staff-ja');
    await page.getByTestId('staff-lock').click();
    await page.getByTestId('staff-panel').waitFor({ state: 'detached' });
  });
});

describe('shelter', () => {
  it('check-in with household and occupancy; an unregistered evacuee is sent to staff', async () => {
    await setSite({ siteKind: 'shelter', counters: { admitted: 41, refused: 0, inside: 41 } });
    await waitForScreen(page, 'waiting');
    expect(await text('occupancy')).toContain('41');
    await check('shelter-waiting-ja');
    const d = makeDecision({ site: 'shelter', publicView: { headline: 'ok', householdSize: 3 } });
    await showDecision(d);
    expect(await text('household')).toContain('3');
    await check('shelter-checkin-ja');
    for (const language of ['ja', 'en'] as const) {
      await setLanguage(language);
      await showDecision(
        makeDecision({
          site: 'shelter',
          reasons: ['unregistered_admitted'],
          headline: 'unregistered_admitted',
        }),
      );
      await expectResultWords('unregistered_admitted', language);
      expect(await page.evaluate(() => document.documentElement.dataset.lastTone)).toBe('attention');
      await check(`shelter-unregistered-${language}`);
    }
    await setLanguage('ja');
    await showDecision(makeDecision({ site: 'shelter', direction: 'exit', publicView: { headline: 'ok' } }));
    expect(await page.locator('body').innerText()).toContain(ui.checkOut.ja);
    await check('shelter-checkout-ja');
  });
});

describe('convenience-store kiosk', () => {
  it('a session with a visible countdown and a clean end that leaves nothing on screen', async () => {
    await setSite({ siteKind: 'convenience-kiosk' });
    await waitForScreen(page, 'waiting');
    await check('kiosk-waiting-ja');
    const d = makeDecision({
      site: 'convenience-kiosk',
      publicView: { headline: 'ok', sessionSeconds: 120 },
    });
    await showDecision(d);
    core.emit({
      name: 'session',
      payload: {
        state: 'open',
        sessionId: 's-1',
        decisionId: d.id,
        endsAt: new Date(Date.now() + 120_000).toISOString(),
      },
    });
    await waitForScreen(page, 'session');
    expect(await text('session-timer')).toMatch(/残り時間: 1[12][0-9]秒/);
    await check('kiosk-session-ja');
    await setLanguage('en');
    expect(await text('session-timer')).toMatch(/Time left: 1[12][0-9] seconds/);
    await check('kiosk-session-en');
    await page.getByTestId('session-end').click();
    await waitForScreen(page, 'waiting');
    expect(core.calls.some((c) => c.name === 'endSession')).toBe(true);
    await setLanguage('ja');
  });
});

describe('staff mode', () => {
  it('is locked without the staff credential, refuses a wrong PIN, and unlocks with the right one', async () => {
    await setSite({ siteKind: 'stadium-gate' });
    await page.getByTestId('open-staff').click();
    await page.getByTestId('staff-locked').waitFor();
    expect(await page.getByTestId('staff-status').count()).toBe(0);
    await check('staff-locked-ja');
    for (const digit of '0000')
      await page.locator(`[data-testid=staff-pinpad] [data-key="${digit}"]`).click();
    await page.locator('[data-testid=staff-pinpad] [data-testid=pin-ok]').click();
    await page.getByTestId('staff-error').waitFor();
    expect(await text('staff-error')).toContain(errorWords.STAFF_CREDENTIAL_WRONG.ja);
    expect(await page.getByTestId('staff-status').count()).toBe(0);
    for (const digit of '2468')
      await page.locator(`[data-testid=staff-pinpad] [data-key="${digit}"]`).click();
    await page.locator('[data-testid=staff-pinpad] [data-testid=pin-ok]').click();
    await page.getByTestId('staff-panel').waitFor();
    const status = await text('staff-status');
    for (const word of [ui.reader.ja, ui.hsm.ja, ui.sync.ja, ui.dataAge.ja, ui.queue.ja])
      expect(status).toContain(word);
    await check('staff-panel-ja');
    // Annul the first admitted entry with a reason, then undo it.
    await page.getByTestId('annul').first().click();
    await page.waitForFunction(() => document.body.innerText.includes('取消済み'));
    expect(core.decisions.some((d) => d.annulled && d.annulReason === 'turnstile_not_turned')).toBe(true);
    // Manual sync: the core's typed error is shown in words with its code.
    await page.getByTestId('staff-sync').click();
    await page.waitForFunction(() => document.body.innerText.includes('SYNC_UNREACHABLE'));
    // A forgotten card: staff type the ticket number, the core decides (a staff decision), the panel
    // names the outcome; an unknown number is refused in words.
    await page.getByTestId('staff-ticket-number').fill('TK-1001');
    await page.getByTestId('staff-ticket-check').click();
    const admitted = `TK-1001: ${reasonHeadline('ok', 'ja')}`;
    await page.waitForFunction((w) => document.body.innerText.includes(w), admitted);
    expect(core.decisions[0]!.decision).toMatchObject({ outcome: 'admitted', authPath: 'staff-visual' });
    await page.getByTestId('staff-ticket-number').fill('T-0404');
    await page.getByTestId('staff-ticket-check').click();
    const refused = `T-0404: ${reasonHeadline('not_registered', 'ja')}`;
    await page.waitForFunction((w) => document.body.innerText.includes(w), refused);
    // A registration desk: staff type the companion's transfer code; a used one is refused in words.
    await page.getByTestId('companion-code').fill('ABCD-EFGH-JKMN');
    await page.getByTestId('companion-bind').click();
    await page.waitForFunction(() =>
      document.body.innerText.includes('座席 A-13 をこのカードに登録しました'),
    );
    await page.getByTestId('companion-code').fill('ABCD-EFGH-JKMN-X');
    await page.getByTestId('companion-bind').click();
    await page.waitForFunction(
      (words) => document.querySelector('[data-testid=staff-error]')?.textContent?.includes(words),
      errorWords.TRANSFER_CODE_USED.ja,
    );
    await page.getByTestId('staff-lock').click();
    await page.getByTestId('staff-panel').waitFor({ state: 'detached' });
    expect(core.status.staff.unlocked).toBe(false);
  });

  it('the demo wallet lists the cards and asks the core to insert one', async () => {
    await page.getByTestId('open-wallet').click();
    await page.getByTestId('demo-wallet').waitFor();
    await page.locator('[data-card="revoked"]').waitFor();
    await check('demo-wallet-ja');
    await page.locator('[data-card="revoked"]').click();
    await page.waitForFunction(() => document.querySelector('li.inserted [data-card="revoked"]') !== null);
    expect(core.demoCards.find((c) => c.name === 'revoked')?.inserted).toBe(true);
    await page.getByTestId('open-wallet').click();
  });

  it('shelter staff export the roster and see where and how many rows; enrol shows success or the refusal', async () => {
    await setSite({ siteKind: 'shelter' });
    await page.getByTestId('open-staff').click();
    for (const digit of '2468')
      await page.locator(`[data-testid=staff-pinpad] [data-key="${digit}"]`).click();
    await page.locator('[data-testid=staff-pinpad] [data-testid=pin-ok]').click();
    await page.getByTestId('staff-panel').waitFor();
    await page.getByTestId('roster-export').click();
    const exported = await core.rosterExport(undefined);
    await page.getByTestId('staff-error').waitFor();
    expect(await text('staff-error')).toBe(
      t('staffRosterExported', 'ja', { n: exported.rows, file: exported.file }),
    );
    await page.getByTestId('enrol-code').fill('ABCD-EFGH-JKMN');
    await page.getByTestId('enrol-submit').click();
    await page.locator('[data-testid=enrol-result][data-ok=true]').waitFor();
    expect(await text('enrol-result')).toBe(
      t('staffEnrolled', 'ja', { id: 'kiosk-enrolled', site: 'site-enrolled', gate: core.status.gateId }),
    );
    await check('staff-enrol-ja');
    await page.getByTestId('enrol-code').fill('ABCD-EFGH-JKMN');
    await page.getByTestId('enrol-submit').click();
    await page.locator('[data-testid=enrol-result][data-ok=false]').waitFor();
    expect(await text('enrol-result')).toBe(`${errorWords.ENROL_CODE_USED.ja} (ENROL_CODE_USED)`);
    await page.getByTestId('staff-lock').click();
    await page.getByTestId('staff-panel').waitFor({ state: 'detached' });
  });

  it('no Content-Security-Policy violations happened on any screen', () => {
    expect(cspViolations).toEqual([]);
  });
});
