// Which shell `npm start` runs. Pure, so the fallback logic is tested without spawning anything.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export type ShellChoice =
  | { kind: 'electron'; binary: string }
  | { kind: 'chromium'; binary: string }
  | { kind: 'serve'; reason: string };

export interface ShellProbe {
  env: NodeJS.ProcessEnv;
  exists: (path: string) => boolean;
  readText: (path: string) => string | null;
  projectRoot: string;
}

export const chromiumCandidates = [
  '/usr/bin/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
  '/snap/bin/chromium',
];

/** The Electron binary the npm package downloaded, or null when the download was skipped or failed. */
export function electronBinary(probe: ShellProbe): string | null {
  const pkg = join(probe.projectRoot, 'node_modules', 'electron');
  const pathTxt = probe.readText(join(pkg, 'path.txt'));
  if (!pathTxt) return null;
  const binary = join(pkg, 'dist', pathTxt.trim());
  return probe.exists(binary) ? binary : null;
}

export function chooseShell(probe: ShellProbe): ShellChoice {
  const forced = probe.env.JPKI_SHELL;
  const hasDisplay = Boolean(probe.env.DISPLAY || probe.env.WAYLAND_DISPLAY);
  const electron = electronBinary(probe);
  if (forced === 'serve') return { kind: 'serve', reason: 'JPKI_SHELL=serve' };
  if (electron && hasDisplay && forced !== 'chromium') return { kind: 'electron', binary: electron };
  if (!hasDisplay) {
    return {
      kind: 'serve',
      reason: electron ? 'no display (DISPLAY/WAYLAND_DISPLAY unset)' : 'no Electron binary and no display',
    };
  }
  const chromium = chromiumCandidates.find((candidate) => probe.exists(candidate));
  if (chromium) return { kind: 'chromium', binary: chromium };
  return { kind: 'serve', reason: 'no Electron binary and no Chromium found' };
}

export function systemProbe(projectRoot: string, env: NodeJS.ProcessEnv = process.env): ShellProbe {
  return {
    env,
    projectRoot,
    exists: existsSync,
    readText: (path) => {
      try {
        return readFileSync(path, 'utf8');
      } catch {
        return null;
      }
    },
  };
}

/** Where Debian's Chromium reads managed policies, and the file name the kiosk's policy goes under. */
export const ChromiumPolicyDir = '/etc/chromium/policies/managed';
export const ChromiumPolicyFile = 'jpki-kiosk.json';

/**
 * The managed policy for the Chromium that shows the kiosk (build/chromium/jpki-kiosk.json is this for
 * the default origin): no DevTools or remote debugging, only the kiosk's origin may load (file://,
 * chrome:// and every other scheme or site blocked), no extensions, downloads, file dialogs, profiles or
 * incognito windows, and no printing unless the site enables it.
 */
export function chromiumPolicy(options: { origin: string; printing: boolean }): Record<string, unknown> {
  return {
    DeveloperToolsAvailability: 2,
    RemoteDebuggingAllowed: false,
    // '*' does not cover Chromium's own pages: those schemes are named as well.
    URLBlocklist: ['*', 'file://*', 'chrome://*', 'chrome-untrusted://*', 'devtools://*', 'view-source:*'],
    URLAllowlist: [options.origin],
    ExtensionInstallBlocklist: ['*'],
    ExtensionAllowedTypes: [],
    DownloadRestrictions: 3,
    AllowFileSelectionDialogs: false,
    PrintingEnabled: options.printing,
    IncognitoModeAvailability: 1,
    BrowserGuestModeEnabled: false,
    BrowserAddPersonEnabled: false,
    PasswordManagerEnabled: false,
    AutofillAddressEnabled: false,
    AutofillCreditCardEnabled: false,
    TranslateEnabled: false,
    SpellcheckEnabled: false,
    BookmarkBarEnabled: false,
    EditBookmarksEnabled: false,
    TaskManagerEndProcessEnabled: false,
    BackgroundModeEnabled: false,
    DefaultBrowserSettingEnabled: false,
    MetricsReportingEnabled: false,
    DefaultNotificationsSetting: 2,
    DefaultGeolocationSetting: 2,
    DefaultPopupsSetting: 2,
  };
}

/**
 * Null when the installed policy locks Chromium down to `origin`, else what is wrong and how to fix it.
 * A site profile does not start Chromium without it (a USB keyboard would give DevTools and file://).
 */
export function chromiumPolicyProblem(
  readText: (path: string) => string | null,
  origin: string,
): string | null {
  const path = join(ChromiumPolicyDir, ChromiumPolicyFile);
  const fix = `install build/chromium/${ChromiumPolicyFile} as ${path} (docs/operations.md, browser shell)`;
  const text = readText(path);
  if (text === null) return `no Chromium policy at ${path}: ${fix}`;
  let installed: Record<string, unknown>;
  try {
    installed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return `${path} is not JSON: ${fix}`;
  }
  const wanted = chromiumPolicy({ origin, printing: Boolean(installed.PrintingEnabled) });
  for (const [key, value] of Object.entries(wanted)) {
    if (JSON.stringify(installed[key]) !== JSON.stringify(value))
      return `${path}: ${key} is ${JSON.stringify(installed[key])}, expected ${JSON.stringify(value)}`;
  }
  return null;
}

/** Chromium flags for an unattended kiosk window on the browser shell's URL. */
export function chromiumKioskArgs(url: string, userDataDir: string, kiosk: boolean): string[] {
  return [
    kiosk ? '--kiosk' : '--start-maximized',
    `--app=${url}`,
    `--user-data-dir=${userDataDir}`,
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-translate',
    '--disable-features=TranslateUI',
    '--overscroll-history-navigation=0',
    '--autoplay-policy=no-user-gesture-required',
  ];
}
