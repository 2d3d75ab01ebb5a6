// The real preload source, compiled as Electron would load it (CommonJS) and run with a `require` that
// knows only `electron` — the sandbox's rule — and a fake contextBridge/ipcRenderer.
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import ts from 'typescript';
import { BridgeGlobal, type KioskBridge } from '../../main/api/bridge.js';
import { Channels } from '../../main/api/contract.js';

function loadPreload(argv: string[]) {
  const source = readFileSync(new URL('../../main/electron/preload.cts', import.meta.url), 'utf8');
  const { outputText } = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  });
  const exposed: Record<string, unknown> = {};
  const ipcListeners = new Map<string, (event: unknown, payload: unknown) => void>();
  const ipcRenderer = {
    on: vi.fn((channel: string, fn: (event: unknown, payload: unknown) => void) =>
      ipcListeners.set(channel, fn),
    ),
    invoke: vi.fn(async (channel: string, payload: unknown) => ({ ok: true, value: { channel, payload } })),
  };
  const contextBridge = { exposeInMainWorld: vi.fn((name: string, api: unknown) => (exposed[name] = api)) };
  const required: string[] = [];
  const sandboxRequire = (name: string) => {
    required.push(name);
    if (name === 'electron') return { contextBridge, ipcRenderer };
    throw new Error(`a sandboxed preload cannot require ${name}`);
  };
  const module = { exports: {} };
  new Function('require', 'module', 'exports', 'process', outputText)(
    sandboxRequire,
    module,
    module.exports,
    { argv },
  );
  return { exposed, ipcListeners, ipcRenderer, contextBridge, required };
}

const argv = [
  '/opt/jpki-kiosk/jpki-kiosk',
  `--jpki-commands=${encodeURIComponent(JSON.stringify(Object.values(Channels.commands)))}`,
  `--jpki-events=${encodeURIComponent(JSON.stringify([...Object.values(Channels.events), ...Object.values(Channels.shell)]))}`,
];

describe('preload', () => {
  it('requires nothing but electron and exposes exactly invoke and subscribe under the bridge name', () => {
    const { exposed, required } = loadPreload(argv);
    expect(required).toEqual(['electron']);
    expect(Object.keys(exposed)).toEqual([BridgeGlobal]);
    expect(Object.keys(exposed[BridgeGlobal] as object).sort()).toEqual(['invoke', 'subscribe']);
  });

  it('invokes allow-listed command channels and refuses anything else without touching IPC', async () => {
    const { exposed, ipcRenderer } = loadPreload(argv);
    const bridge = exposed[BridgeGlobal] as KioskBridge;
    expect(await bridge.invoke(Channels.commands.getStatus, undefined)).toMatchObject({ ok: true });
    for (const channel of [
      Channels.events.decision,
      'kiosk:cmd:shutdown',
      'ELECTRON_BROWSER_REQUIRE',
      42 as unknown as string,
    ]) {
      expect(await bridge.invoke(channel, {})).toEqual({
        ok: false,
        error: { code: 'INVALID_REQUEST', message: 'channel not allowed' },
      });
    }
    expect(ipcRenderer.invoke).toHaveBeenCalledTimes(1);
  });

  it('with no allowlist argument, allows nothing', async () => {
    const { exposed, ipcRenderer } = loadPreload(['/opt/jpki-kiosk/jpki-kiosk']);
    const bridge = exposed[BridgeGlobal] as KioskBridge;
    expect((await bridge.invoke(Channels.commands.getStatus, undefined)).ok).toBe(false);
    expect(ipcRenderer.on).not.toHaveBeenCalled();
  });

  it('delivers events as (channel, payload) only — never the IPC event with its sender', () => {
    const { exposed, ipcListeners } = loadPreload(argv);
    const bridge = exposed[BridgeGlobal] as KioskBridge;
    const seen: unknown[][] = [];
    const off = bridge.subscribe((...args: unknown[]) => seen.push(args));
    ipcListeners.get(Channels.events.reading)!(
      { sender: { secret: true } },
      { phase: 'deciding', progress: 1 },
    );
    expect(seen).toEqual([[Channels.events.reading, { phase: 'deciding', progress: 1 }]]);
    off();
    ipcListeners.get(Channels.events.reading)!({}, { phase: 'deciding', progress: 1 });
    expect(seen.length).toBe(1);
    expect([...ipcListeners.keys()].sort()).toEqual(
      [...Object.values(Channels.events), ...Object.values(Channels.shell)].sort(),
    );
  });
});
