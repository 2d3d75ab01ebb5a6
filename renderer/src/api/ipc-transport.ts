// Electron transport: the preload exposes `window.jpkiKiosk` (main/api/bridge.ts) through contextBridge.
// The renderer has no ipcRenderer, no Node and no other way out. The shell's coreState event says when
// the core process died and came back (the screen shows "starting up" in between).
import { BridgeGlobal, type KioskBridge } from '../../../main/api/bridge.js';
import { Channels, CoreStateSchema } from '../../../main/api/contract.js';
import type { ErrorPayload } from '../../../base/errors.js';
import type { Transport } from './client.js';

export function findBridge(scope: object = globalThis): KioskBridge | null {
  const bridge = (scope as Record<string, unknown>)[BridgeGlobal];
  return bridge && typeof bridge === 'object' ? (bridge as KioskBridge) : null;
}

export function createIpcTransport(bridge: KioskBridge): Transport {
  const connectionListeners = new Set<(connected: boolean, error?: ErrorPayload) => void>();
  let up = true;
  let error: ErrorPayload | undefined;
  const stop = bridge.subscribe((channel, payload) => {
    if (channel !== Channels.shell.coreState) return;
    const parsed = CoreStateSchema.safeParse(payload);
    if (!parsed.success) return;
    up = parsed.data.up;
    error = parsed.data.error ?? undefined;
    for (const l of connectionListeners) l(up, error);
  });
  return {
    invoke: (channel, payload) => bridge.invoke(channel, payload),
    listen: (listener) =>
      bridge.subscribe((channel, payload) => {
        if (channel !== Channels.shell.coreState) listener(channel, payload);
      }),
    onConnection(listener) {
      connectionListeners.add(listener);
      listener(up, error);
      return () => connectionListeners.delete(listener);
    },
    close: stop,
  };
}
