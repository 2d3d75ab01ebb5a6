// A packaged build is locked down whatever its environment says: JPKI_KIOSK_DEV=1 (or anything else a
// person with a keyboard could set) does not give back DevTools, the menu or a framed window.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import type { FakeBrowserWindow } from './electron-mock.js';

const electron = await vi.hoisted(async () => {
  process.env.JPKI_KIOSK_DEV = '1';
  const { createElectronMock } = await import('./electron-mock.js');
  return createElectronMock();
});
vi.mock('electron', () => electron);

let window: FakeBrowserWindow;
beforeAll(async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
  await import('../../main/electron/main.js');
  await vi.waitFor(() => expect(electron.BrowserWindow.instances.length).toBe(1));
  window = electron.BrowserWindow.instances[0]!;
  delete process.env.JPKI_KIOSK_DEV;
  vi.useRealTimers();
});

describe('packaged Electron with JPKI_KIOSK_DEV=1', () => {
  it('still runs as a locked-down kiosk', () => {
    expect(electron.app.isPackaged).toBe(true);
    const options = window.options as {
      kiosk: boolean;
      frame: boolean;
      webPreferences: { devTools: boolean };
    };
    expect(options.kiosk).toBe(true);
    expect(options.frame).toBe(false);
    expect(options.webPreferences.devTools).toBe(false);
    expect(electron.Menu.setApplicationMenu).toHaveBeenCalledWith(null);
  });
});
