// What the Electron preload exposes to the renderer through contextBridge, under one global name.
// Two functions and nothing else: the renderer cannot name an arbitrary IPC channel (the preload checks
// its allowlist; main checks the sender and the payload again). Browser-safe.
import type { Reply } from './wire.js';

export const BridgeGlobal = 'jpkiKiosk';

export interface KioskBridge {
  /** Invoke one command channel from `Channels.commands`; anything else answers INVALID_REQUEST. */
  invoke(channel: string, payload: unknown): Promise<Reply<unknown>>;
  /** Events from `Channels.events`; returns the unsubscribe function. */
  subscribe(listener: (channel: string, payload: unknown) => void): () => void;
}
