import { describe, expect, it } from 'vitest';
import { chooseShell, chromiumKioskArgs, type ShellProbe } from '../../main/shell-choice.js';

function probe(files: Record<string, string>, env: NodeJS.ProcessEnv): ShellProbe {
  return {
    env,
    projectRoot: '/app',
    exists: (p) => p in files,
    readText: (p) => files[p] ?? null,
  };
}

const electronInstalled = {
  '/app/node_modules/electron/path.txt': 'electron\n',
  '/app/node_modules/electron/dist/electron': '',
};

describe('npm start shell choice', () => {
  it('runs Electron when its binary was downloaded and a display exists', () => {
    expect(chooseShell(probe(electronInstalled, { DISPLAY: ':0' }))).toEqual({
      kind: 'electron',
      binary: '/app/node_modules/electron/dist/electron',
    });
  });

  it('falls back to Chromium in app mode when the Electron download was skipped', () => {
    const choice = chooseShell(probe({ '/usr/bin/chromium': '' }, { WAYLAND_DISPLAY: 'wayland-0' }));
    expect(choice).toEqual({ kind: 'chromium', binary: '/usr/bin/chromium' });
  });

  it('treats a path.txt without the binary as no Electron', () => {
    const files = { '/app/node_modules/electron/path.txt': 'electron', '/usr/bin/chromium': '' };
    expect(chooseShell(probe(files, { DISPLAY: ':1' })).kind).toBe('chromium');
  });

  it('serves on loopback and says why when there is no display', () => {
    const choice = chooseShell(probe({ ...electronInstalled, '/usr/bin/chromium': '' }, {}));
    expect(choice).toEqual({ kind: 'serve', reason: 'no display (DISPLAY/WAYLAND_DISPLAY unset)' });
  });

  it('serves when there is a display but no browser at all', () => {
    expect(chooseShell(probe({}, { DISPLAY: ':0' }))).toEqual({
      kind: 'serve',
      reason: 'no Electron binary and no Chromium found',
    });
  });

  it('honours JPKI_SHELL overrides', () => {
    expect(chooseShell(probe(electronInstalled, { DISPLAY: ':0', JPKI_SHELL: 'serve' })).kind).toBe('serve');
    const files = { ...electronInstalled, '/usr/bin/chromium': '' };
    expect(chooseShell(probe(files, { DISPLAY: ':0', JPKI_SHELL: 'chromium' })).kind).toBe('chromium');
  });

  it('opens Chromium as an app window on the given URL with its own profile', () => {
    const args = chromiumKioskArgs('http://127.0.0.1:8620/', '/tmp/p', true);
    expect(args).toContain('--kiosk');
    expect(args).toContain('--app=http://127.0.0.1:8620/');
    expect(args).toContain('--user-data-dir=/tmp/p');
  });
});
