// Electron transport: the preload exposes `window.jpkiKiosk` (main/api/bridge.ts) through contextBridge.
// The renderer has no ipcRenderer, no Node and no other way out.
import { BridgeGlobal, type KioskBridge } from '../../../main/api/bridge.js';
import type { Transport } from './client.js';

export function findBridge(scope: object = globalThis): KioskBridge | null {
  const bridge = (scope as Record<string, unknown>)[BridgeGlobal];
  return bridge && typeof bridge === 'object' ? (bridge as KioskBridge) : null;
}

export function createIpcTransport(bridge: KioskBridge): Transport {
  return {
    invoke: (channel, payload) => bridge.invoke(channel, payload),
    listen: (listener) => bridge.subscribe(listener),
  };
}
