// The kiosk window's frame and the lock-down of its web contents, as pure functions so the unit tests
// can assert them without an Electron binary.
import type { BrowserWindowConstructorOptions, Session, WebContents } from 'electron';
import { isAppUrl, isBlockedKey } from './security.js';

/**
 * The window's frame and size: a fullscreen frameless kiosk when locked down. Its webPreferences are not
 * here: they stand literally in `new BrowserWindow({...})` in main.ts, where audit tools and reviewers
 * look for them (test/electron/audit-settings.test.ts reads them there).
 */
export function kioskWindowFrame(
  production: boolean,
): Omit<BrowserWindowConstructorOptions, 'webPreferences'> {
  return {
    show: false,
    kiosk: production,
    fullscreen: production,
    frame: !production,
    autoHideMenuBar: true,
    backgroundColor: '#0b0d12',
    width: 1280,
    height: 800,
    title: 'jpki-kiosk',
  };
}

export interface HardenOptions {
  production: boolean;
  /** Called when the renderer process is gone; the shell reloads it. */
  onRendererGone(reason: string): void;
  log(message: string, detail?: Record<string, unknown>): void;
}

/** Deny every permission, navigation, new window and webview; swallow kiosk-escaping keys; fix zoom. */
export function hardenContents(contents: WebContents, options: HardenOptions): void {
  contents.setWindowOpenHandler(({ url }) => {
    options.log('blocked a new window', { url: url.slice(0, 200) });
    return { action: 'deny' };
  });
  const stayHome = (event: { preventDefault(): void }, url: string) => {
    if (!isAppUrl(url)) {
      event.preventDefault();
      options.log('blocked navigation', { url: url.slice(0, 200) });
    }
  };
  contents.on('will-navigate', stayHome);
  contents.on('will-redirect', stayHome);
  contents.on('will-frame-navigate', (event) => {
    if (!isAppUrl(event.url)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.on('render-process-gone', (_event, details) => options.onRendererGone(details.reason));
  if (options.production) {
    contents.on('before-input-event', (event, input) => {
      if (isBlockedKey(input)) event.preventDefault();
    });
    contents.on('devtools-opened', () => contents.closeDevTools());
    contents.on('did-finish-load', () => {
      void contents.setVisualZoomLevelLimits(1, 1);
      contents.setZoomFactor(1);
    });
  }
}

export function denyAllPermissions(session: Session): void {
  session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.setDevicePermissionHandler(() => false);
  session.on('will-download', (event) => event.preventDefault());
}
