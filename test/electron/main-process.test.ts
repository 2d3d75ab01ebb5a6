// main.ts under a mocked `electron`: what the shell does at start, how its window is configured, how
// IPC is guarded, and that a dying core is reported and respawned.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Channels } from '../../main/api/contract.js';
import type { FakeBrowserWindow, FakeChild } from './electron-mock.js';

const electron = await vi.hoisted(async () => {
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
  electron.app.emit('web-contents-created', {}, window.webContents);
});
afterAll(() => vi.useRealTimers());

const trustedEvent = (overrides: Record<string, unknown> = {}) => ({
  sender: { id: window.webContents.id },
  senderFrame: { url: 'app://kiosk/index.html', parent: null },
  ...overrides,
});

describe('Electron shell start-up', () => {
  it('asks for the single-instance lock, sandboxes everything and registers app:// as a secure scheme', () => {
    expect(electron.app.requestSingleInstanceLock).toHaveBeenCalled();
    expect(electron.app.enableSandbox).toHaveBeenCalled();
    const [schemes] = electron.protocol.registerSchemesAsPrivileged.mock.calls[0]!;
    expect(schemes).toEqual([
      expect.objectContaining({
        scheme: 'app',
        privileges: expect.objectContaining({ secure: true, standard: true }),
      }),
    ]);
    expect(electron.session.defaultSession.protocol.handle).toHaveBeenCalledWith('app', expect.any(Function));
  });

  it('in production: no menu, display kept awake, kiosk window with sandbox, isolation and no devtools', () => {
    expect(electron.Menu.setApplicationMenu).toHaveBeenCalledWith(null);
    expect(electron.powerSaveBlocker.start).toHaveBeenCalledWith('prevent-display-sleep');
    const options = window.options as { kiosk: boolean; webPreferences: Record<string, unknown> };
    expect(options.kiosk).toBe(true);
    expect(options.webPreferences).toMatchObject({
      sandbox: true,
      contextIsolation: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      webviewTag: false,
      devTools: false,
    });
    expect(String(options.webPreferences.preload)).toMatch(/preload\.cjs$/);
    expect(window.loadURL).toHaveBeenCalledWith('app://kiosk/index.html');
  });

  it('gives the preload the exact command and event allowlists', () => {
    const args = (window.options as { webPreferences: { additionalArguments: string[] } }).webPreferences
      .additionalArguments;
    const decode = (prefix: string) =>
      JSON.parse(
        decodeURIComponent(args.find((a) => a.startsWith(prefix))!.slice(prefix.length)),
      ) as string[];
    expect(decode('--jpki-commands=')).toEqual(Object.values(Channels.commands));
    expect(decode('--jpki-events=')).toEqual([
      ...Object.values(Channels.events),
      ...Object.values(Channels.shell),
    ]);
  });

  it('denies every permission, new window, navigation away and webview', () => {
    const session = electron.session.defaultSession;
    const answer = vi.fn();
    session.permissionRequest!({}, 'media', answer);
    expect(answer).toHaveBeenCalledWith(false);
    expect(session.permissionCheck!()).toBe(false);
    expect(window.webContents.openHandler!({ url: 'https://example.com' })).toEqual({ action: 'deny' });
    const nav = { preventDefault: vi.fn() };
    window.webContents.emit('will-navigate', nav, 'https://example.com/');
    expect(nav.preventDefault).toHaveBeenCalled();
    const home = { preventDefault: vi.fn() };
    window.webContents.emit('will-navigate', home, 'app://kiosk/index.html');
    expect(home.preventDefault).not.toHaveBeenCalled();
    const webview = { preventDefault: vi.fn() };
    window.webContents.emit('will-attach-webview', webview);
    expect(webview.preventDefault).toHaveBeenCalled();
    const key = { preventDefault: vi.fn() };
    window.webContents.emit('before-input-event', key, { key: 'r', control: true });
    expect(key.preventDefault).toHaveBeenCalled();
  });

  it('reloads a crashed renderer after a delay', () => {
    window.webContents.reload.mockClear();
    window.webContents.emit('render-process-gone', {}, { reason: 'crashed' });
    expect(window.webContents.reload).not.toHaveBeenCalled();
    vi.advanceTimersByTime(60_000);
    expect(window.webContents.reload).toHaveBeenCalled();
  });
});

describe('IPC relay in the main process', () => {
  it('handles exactly the contract’s command channels', () => {
    expect([...electron.ipcMain.handlers.keys()].sort()).toEqual(Object.values(Channels.commands).sort());
  });

  it('refuses other senders before looking at the payload, and bad payloads before the core', async () => {
    const child = electron.utilityProcess.children[0]!;
    const handler = electron.ipcMain.handlers.get(Channels.commands.getStatus)!;
    for (const event of [
      trustedEvent({ sender: { id: 9999 } }),
      trustedEvent({ senderFrame: { url: 'https://evil.example/', parent: null } }),
      trustedEvent({ senderFrame: { url: 'app://kiosk/index.html', parent: {} } }),
      trustedEvent({ senderFrame: null }),
    ]) {
      expect(await handler(event, undefined)).toEqual({
        ok: false,
        error: { code: 'INVALID_REQUEST', message: 'untrusted sender' },
      });
    }
    const pin = electron.ipcMain.handlers.get(Channels.commands.answerPin)!;
    const bad = (await pin(trustedEvent(), { requestId: 'r', pin: '12' })) as {
      ok: boolean;
      error: { code: string };
    };
    expect(bad.ok).toBe(false);
    expect(bad.error.code).toBe('INVALID_REQUEST');
    expect(child.messages.filter((m) => (m as { t: string }).t === 'call')).toEqual([]);
  });
});

describe('core process supervision', () => {
  it('forks the core in a utility process and relays calls and events once it is ready', async () => {
    expect(electron.utilityProcess.fork).toHaveBeenCalledWith(
      expect.stringMatching(/core-host\.js$/),
      [],
      expect.objectContaining({ serviceName: 'jpki-kiosk-core' }),
    );
    const child: FakeChild = electron.utilityProcess.children[0]!;
    child.emit('message', { t: 'ready' });
    expect(window.webContents.sent).toContainEqual([Channels.shell.coreState, { up: true, error: null }]);
    const handler = electron.ipcMain.handlers.get(Channels.commands.getStatus)!;
    const answer = handler(trustedEvent(), undefined);
    const call = child.messages.at(-1) as { t: string; id: number; channel: string };
    expect(call).toMatchObject({ t: 'call', channel: Channels.commands.getStatus });
    child.emit('message', { t: 'result', id: call.id, reply: { ok: true, value: 'status' } });
    expect(await answer).toEqual({ ok: true, value: 'status' });
    child.emit('message', {
      t: 'event',
      channel: Channels.events.reading,
      payload: { phase: 'deciding', progress: 0.9 },
    });
    expect(window.webContents.sent.at(-1)).toEqual([
      Channels.events.reading,
      { phase: 'deciding', progress: 0.9 },
    ]);
  });

  it('when the core dies: calls fail typed, the window is told, and a new core is forked after a backoff', async () => {
    const child = electron.utilityProcess.children[0]!;
    const handler = electron.ipcMain.handlers.get(Channels.commands.getStatus)!;
    const inFlight = handler(trustedEvent(), undefined);
    child.emit('message', { t: 'fatal', error: { code: 'HSM_UNAVAILABLE', message: 'token gone' } });
    child.emit('exit', 1);
    expect(await inFlight).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    expect(window.webContents.sent.at(-1)).toEqual([
      Channels.shell.coreState,
      { up: false, error: { code: 'HSM_UNAVAILABLE', message: 'token gone' } },
    ]);
    expect(electron.utilityProcess.children.length).toBe(1);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(electron.utilityProcess.children.length).toBe(2);
  });
});
