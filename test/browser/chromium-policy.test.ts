// The browser shell's Chromium under its managed policy. The shipped policy file is the one the launcher
// checks for; and Debian's Chromium, started here in a private mount namespace where the policy folder
// holds only that file (no other Chromium on the machine sees it), really refuses file://, chrome:// and
// other sites while serving the kiosk's origin, and with DevTools off no DevTools-protocol client drives it.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium } from 'playwright-core';
import { projectRoot } from '../../config/paths.js';
import { loadConfig } from '../../config/load.js';
import {
  ChromiumPolicyDir,
  ChromiumPolicyFile,
  chromiumPolicy,
  chromiumPolicyProblem,
} from '../../main/shell-choice.js';
import { startBrowserShell, type BrowserShell } from '../../main/browser/server.js';
import { createFakeCore } from '../support/fake-core.js';
import { chromiumArgs } from '../e2e/support.js';

const shipped = JSON.parse(
  readFileSync(join(projectRoot(), 'build', 'chromium', ChromiumPolicyFile), 'utf8'),
) as Record<string, unknown>;
const installed = join(ChromiumPolicyDir, ChromiumPolicyFile);

describe('the shipped Chromium policy', () => {
  it('is the launcher’s policy for the default origin: DevTools, downloads, extensions, printing off', () => {
    expect(shipped).toEqual(chromiumPolicy({ origin: 'http://127.0.0.1:8620', printing: false }));
    expect(shipped).toMatchObject({
      DeveloperToolsAvailability: 2,
      URLBlocklist: expect.arrayContaining(['*', 'file://*', 'chrome://*']),
      URLAllowlist: ['http://127.0.0.1:8620'],
      ExtensionInstallBlocklist: ['*'],
      DownloadRestrictions: 3,
      PrintingEnabled: false,
    });
  });

  it('a site kiosk does not start Chromium without it, or with a weaker one', () => {
    const origin = 'http://127.0.0.1:8620';
    const files = (text: string | null) => (path: string) => (path === installed ? text : null);
    expect(chromiumPolicyProblem(files(null), origin)).toContain(
      `install build/chromium/${ChromiumPolicyFile}`,
    );
    expect(chromiumPolicyProblem(files(JSON.stringify(shipped)), origin)).toBeNull();
    const weaker = { ...shipped, DeveloperToolsAvailability: 1 };
    expect(chromiumPolicyProblem(files(JSON.stringify(weaker)), origin)).toContain(
      'DeveloperToolsAvailability',
    );
    expect(chromiumPolicyProblem(files(JSON.stringify(shipped)), 'http://127.0.0.1:9999')).toContain(
      'URLAllowlist',
    );
    // A site that prints may enable printing and nothing else.
    expect(
      chromiumPolicyProblem(files(JSON.stringify({ ...shipped, PrintingEnabled: true })), origin),
    ).toBeNull();
  });
});

let shell: BrowserShell;
let dir: string;

/** A Chromium launcher that mounts `policyDir` over Chromium's policy folder for itself only. */
function namespacedChromium(policyDir: string): string {
  const script = join(dir, `chromium-${Math.random().toString(36).slice(2)}.sh`);
  writeFileSync(
    script,
    `#!/bin/sh\nexec unshare -m sh -c 'mount --bind ${policyDir} /etc/chromium/policies && exec /usr/bin/chromium "$@"' chromium "$@"\n`,
  );
  chmodSync(script, 0o755);
  return script;
}

function policyFolder(name: string, policy: Record<string, unknown>): string {
  const folder = join(dir, name);
  mkdirSync(join(folder, 'managed'), { recursive: true });
  writeFileSync(join(folder, 'managed', ChromiumPolicyFile), JSON.stringify(policy));
  return folder;
}

const canNamespace = (() => {
  try {
    execFileSync('unshare', ['-m', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'jpki-chromium-policy-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>kiosk</title><p>kiosk page</p>');
  writeFileSync(join(dir, 'secret.txt'), 'not for the kiosk');
  shell = await startBrowserShell({
    config: loadConfig({ profile: 'demo' }),
    core: createFakeCore(),
    port: 0,
    rendererDir: dir,
  });
  // The bind mount needs the folder to exist on the host; empty, it changes nothing for anyone.
  if (canNamespace) mkdirSync('/etc/chromium/policies', { recursive: true });
});
afterAll(async () => {
  await shell?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.runIf(canNamespace)('Chromium under the policy', () => {
  it(
    'loads the kiosk origin and refuses file://, chrome:// and any other site',
    { timeout: 60_000 },
    async () => {
      const origin = shell.url.replace(/\/$/, '');
      // The policy for this test's origin; DevTools stay on here only because Playwright drives Chromium
      // through the DevTools protocol (the next test shows the real policy stops that), and about:blank is
      // where Playwright opens its page.
      const policy = {
        ...chromiumPolicy({ origin, printing: false }),
        DeveloperToolsAvailability: 1,
        RemoteDebuggingAllowed: true,
        URLAllowlist: [origin, 'about:blank'],
      };
      const browser = await chromium.launch({
        executablePath: namespacedChromium(policyFolder('urls', policy)),
        headless: true,
        args: chromiumArgs,
      });
      try {
        const page = await browser.newPage();
        const response = await page.goto(shell.url);
        expect(response?.status()).toBe(200);
        expect(await page.textContent('p')).toBe('kiosk page');
        for (const url of [`file://${join(dir, 'secret.txt')}`, 'chrome://version', 'http://localhost:1/']) {
          // A page of its own per URL: moving one page between schemes swaps its renderer process, which
          // a loaded machine sometimes reports as a closed page instead of the refusal.
          const probe = await browser.newPage();
          const outcome = await probe.goto(url, { timeout: 10_000 }).then(
            () => `loaded ${probe.url()}`,
            (e: Error) => e.message,
          );
          await probe.waitForLoadState('domcontentloaded').catch(() => undefined);
          const body = await probe.content().catch(() => '');
          // Refused by the policy: the navigation fails with it, or lands on Chromium's error page naming it.
          expect(`${outcome}\n${body}`, url).toMatch(/ERR_BLOCKED_BY_ADMINISTRATOR/);
          expect(body).not.toContain('not for the kiosk');
          await probe.close();
        }
      } finally {
        await browser.close();
      }
    },
  );

  it(
    'with the shipped policy no DevTools-protocol client can drive a page',
    { timeout: 60_000 },
    async () => {
      const origin = shell.url.replace(/\/$/, '');
      const policy = {
        ...chromiumPolicy({ origin, printing: false }),
        URLAllowlist: [origin, 'about:blank'],
      };
      const browser = await chromium
        .launch({
          executablePath: namespacedChromium(policyFolder('devtools', policy)),
          headless: true,
          args: chromiumArgs,
        })
        .catch(() => null);
      try {
        const driven = browser
          ? await browser
              .newPage()
              .then(async (page) => (await page.goto(shell.url)) !== null)
              .catch(() => false)
          : false;
        expect(driven).toBe(false);
      } finally {
        await browser?.close().catch(() => undefined);
      }
    },
  );
});
