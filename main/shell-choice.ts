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
