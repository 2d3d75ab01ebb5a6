// Electron main process: the kiosk window and its lock-down, the app:// scheme serving the built
// renderer, the IPC relay, and the supervised core in a utility process. Nothing here blocks: all
// card, HSM, database and HID work happens in the core process (docs/architecture.md, process model).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BrowserWindow,
  Menu,
  app,
  ipcMain,
  powerSaveBlocker,
  protocol,
  session,
  utilityProcess,
} from 'electron';
import { Backoff } from '../../base/supervisor.js';
import { Channels } from '../api/contract.js';
import { installIpcRelay } from './ipc.js';
import { AppIndexUrl, AppScheme, ElectronCsp, mimeTypeOf, resolveAppPath } from './security.js';
import { CoreSupervisor, type CoreChild } from './supervisor.js';
import { denyAllPermissions, hardenContents, kioskWindowFrame } from './window.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/main/electron → project (or app.asar) root. */
const appRoot = join(here, '..', '..', '..');
const rendererRoot = join(appRoot, 'dist', 'renderer');
// A packaged kiosk is always locked down: no environment variable switches DevTools, the menu or kiosk
// mode back on (a keyboard and a shell on the kiosk must not be enough to open it up).
const production = app.isPackaged;

function log(message: string, detail: Record<string, unknown> = {}): void {
  // The main process keeps no logger of its own (pino lives in the core); one JSON line on stderr.
  process.stderr.write(`${JSON.stringify({ component: 'electron', msg: message, ...detail })}\n`);
}

export function preloadArguments(): string[] {
  const events = [...Object.values(Channels.events), ...Object.values(Channels.shell)];
  return [
    `--jpki-commands=${encodeURIComponent(JSON.stringify(Object.values(Channels.commands)))}`,
    `--jpki-events=${encodeURIComponent(JSON.stringify(events))}`,
  ];
}

export async function serveAppRequest(root: string, url: string): Promise<Response> {
  const path = resolveAppPath(root, url);
  if (!path) return new Response('not found', { status: 404 });
  try {
    const body = await readFile(path);
    return new Response(body, {
      status: 200,
      headers: {
        'content-type': mimeTypeOf(path),
        'content-security-policy': ElectronCsp,
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      },
    });
  } catch {
    return new Response('not found', { status: 404 });
  }
}

// Must happen before `ready`: app:// behaves like https (secure context, standard URL parsing).
protocol.registerSchemesAsPrivileged([
  { scheme: AppScheme, privileges: { standard: true, secure: true, supportFetchAPI: true, stream: true } },
]);
app.commandLine.appendSwitch('disable-pinch');
app.commandLine.appendSwitch('overscroll-history-navigation', '0');
app.enableSandbox();

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  let window: BrowserWindow | null = null;
  // A renderer that keeps crashing is reloaded ever later (full jitter, the shared backoff); one that
  // finished loading starts over.
  const reloadBackoff = new Backoff({ baseMs: 1_000, capMs: 30_000 });

  const supervisor = new CoreSupervisor({
    spawn: () =>
      utilityProcess.fork(join(here, 'core-host.js'), [], {
        serviceName: 'jpki-kiosk-core',
        stdio: 'inherit',
        env: { ...process.env, JPKI_PACKAGED: app.isPackaged ? '1' : '0' },
      }) as unknown as CoreChild,
    onEvent: (channel, payload) => window?.webContents.send(channel, payload),
    onState: (up, error) => window?.webContents.send(Channels.shell.coreState, { up, error: error ?? null }),
    log,
  });

  app.on('second-instance', () => {
    if (window) {
      if (window.isMinimized()) window.restore();
      window.focus();
    }
  });

  app.on('web-contents-created', (_event, contents) => {
    // Every web contents, including any the app did not expect, gets the same lock-down.
    hardenContents(contents, {
      production,
      log,
      onRendererGone: (reason) => {
        const delay = reloadBackoff.fail();
        log('renderer gone; reloading', { reason, delayMs: delay });
        setTimeout(() => {
          if (!contents.isDestroyed()) contents.reload();
        }, delay);
      },
    });
  });

  void app.whenReady().then(() => {
    if (production) Menu.setApplicationMenu(null);
    denyAllPermissions(session.defaultSession);
    session.defaultSession.protocol.handle(AppScheme, (request) =>
      serveAppRequest(rendererRoot, request.url),
    );
    installIpcRelay({
      ipcMain,
      windowContentsId: () => window?.webContents.id ?? null,
      forward: (channel, payload) => supervisor.call(channel, payload),
      log,
    });
    powerSaveBlocker.start('prevent-display-sleep');
    supervisor.start();

    // The security-relevant webPreferences stand here, literally, where the window is created.
    window = new BrowserWindow({
      ...kioskWindowFrame(production),
      webPreferences: {
        preload: join(here, 'preload.cjs'),
        sandbox: true,
        contextIsolation: true,
        nodeIntegration: false,
        nodeIntegrationInWorker: false,
        nodeIntegrationInSubFrames: false,
        webSecurity: true,
        allowRunningInsecureContent: false,
        experimentalFeatures: false,
        webviewTag: false,
        navigateOnDragDrop: false,
        spellcheck: false,
        devTools: !production,
        safeDialogs: true,
        disableDialogs: true,
        autoplayPolicy: 'no-user-gesture-required',
        additionalArguments: preloadArguments(),
      },
    });
    window.once('ready-to-show', () => window?.show());
    window.webContents.on('did-finish-load', () => {
      reloadBackoff.reset();
      window?.webContents.send(Channels.shell.coreState, {
        up: supervisor.isUp,
        error: supervisor.lastError,
      });
    });
    window.webContents.on('unresponsive', () => {
      log('renderer unresponsive; restarting it');
      window?.webContents.forcefullyCrashRenderer();
    });
    void window.loadURL(AppIndexUrl);
  });

  app.on('window-all-closed', () => {
    supervisor.stop();
    app.quit();
  });
  app.on('before-quit', () => supervisor.stop());
}
