// A recording stand-in for the `electron` module: enough of app, BrowserWindow, ipcMain, protocol,
// session, utilityProcess, Menu and powerSaveBlocker for main.ts to run its startup under vitest.
import { EventEmitter } from 'node:events';
import { vi } from 'vitest';

export class FakeContents extends EventEmitter {
  static nextId = 1;
  id = FakeContents.nextId++;
  sent: [string, unknown][] = [];
  openHandler: ((d: { url: string }) => { action: string }) | null = null;
  send = vi.fn((channel: string, payload: unknown) => void this.sent.push([channel, payload]));
  setWindowOpenHandler = vi.fn(
    (h: (d: { url: string }) => { action: string }) => void (this.openHandler = h),
  );
  reload = vi.fn();
  isDestroyed = vi.fn(() => false);
  closeDevTools = vi.fn();
  setVisualZoomLevelLimits = vi.fn(async () => {});
  setZoomFactor = vi.fn();
  forcefullyCrashRenderer = vi.fn();
}

export class FakeBrowserWindow extends EventEmitter {
  static instances: FakeBrowserWindow[] = [];
  webContents = new FakeContents();
  loadURL = vi.fn(async () => {});
  show = vi.fn();
  focus = vi.fn();
  restore = vi.fn();
  isMinimized = vi.fn(() => false);
  constructor(public options: Record<string, unknown>) {
    super();
    FakeBrowserWindow.instances.push(this);
  }
}

export class FakeSession extends EventEmitter {
  permissionRequest: ((c: unknown, p: string, cb: (ok: boolean) => void) => void) | null = null;
  permissionCheck: (() => boolean) | null = null;
  deviceCheck: (() => boolean) | null = null;
  setPermissionRequestHandler = vi.fn((h) => void (this.permissionRequest = h));
  setPermissionCheckHandler = vi.fn((h) => void (this.permissionCheck = h));
  setDevicePermissionHandler = vi.fn((h) => void (this.deviceCheck = h));
  protocol = { handle: vi.fn() };
}

export class FakeChild extends EventEmitter {
  messages: unknown[] = [];
  postMessage = vi.fn((m: unknown) => void this.messages.push(m));
  kill = vi.fn(() => true);
}

export function createElectronMock() {
  const app = Object.assign(new EventEmitter(), {
    isPackaged: true,
    commandLine: { appendSwitch: vi.fn() },
    enableSandbox: vi.fn(),
    requestSingleInstanceLock: vi.fn(() => true),
    quit: vi.fn(),
    whenReady: vi.fn(() => Promise.resolve()),
  });
  const handlers = new Map<string, (event: unknown, payload: unknown) => Promise<unknown>>();
  const defaultSession = new FakeSession();
  const children: FakeChild[] = [];
  return {
    app,
    BrowserWindow: FakeBrowserWindow,
    Menu: { setApplicationMenu: vi.fn() },
    ipcMain: {
      handlers,
      handle: vi.fn((channel: string, fn: (event: unknown, payload: unknown) => Promise<unknown>) =>
        handlers.set(channel, fn),
      ),
      removeHandler: vi.fn((channel: string) => handlers.delete(channel)),
    },
    powerSaveBlocker: { start: vi.fn(() => 1) },
    protocol: { registerSchemesAsPrivileged: vi.fn() },
    session: { defaultSession },
    utilityProcess: {
      children,
      fork: vi.fn(() => {
        const child = new FakeChild();
        children.push(child);
        return child;
      }),
    },
  };
}
