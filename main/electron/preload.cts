// Preload of the kiosk window (sandboxed: it may require only `electron`). Exposes exactly two functions
// under window.jpkiKiosk: invoke one allow-listed command channel, and subscribe to allow-listed event
// channels. The allowlists arrive from main as additionalArguments (the one table in main/api/contract.ts);
// main checks sender and payload again, so this is the first gate, not the only one.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';

const commandsArg = '--jpki-commands=';
const eventsArg = '--jpki-events=';

function listFrom(argv: readonly string[], prefix: string): Set<string> {
  const arg = argv.find((a) => a.startsWith(prefix));
  if (!arg) return new Set();
  try {
    const parsed: unknown = JSON.parse(decodeURIComponent(arg.slice(prefix.length)));
    return new Set(Array.isArray(parsed) ? parsed.filter((c): c is string => typeof c === 'string') : []);
  } catch {
    return new Set();
  }
}

const commands = listFrom(process.argv, commandsArg);
const events = listFrom(process.argv, eventsArg);
const listeners = new Set<(channel: string, payload: unknown) => void>();

for (const channel of events) {
  // The IpcRendererEvent (with its sender) never reaches the page: only the channel and the payload.
  ipcRenderer.on(channel, (_event: IpcRendererEvent, payload: unknown) => {
    for (const listener of listeners) {
      try {
        listener(channel, payload);
      } catch {
        // a page listener's fault is the page's
      }
    }
  });
}

contextBridge.exposeInMainWorld('jpkiKiosk', {
  invoke(channel: unknown, payload: unknown) {
    if (typeof channel !== 'string' || !commands.has(channel)) {
      return Promise.resolve({
        ok: false,
        error: { code: 'INVALID_REQUEST', message: 'channel not allowed' },
      });
    }
    return ipcRenderer.invoke(channel, payload);
  },
  subscribe(listener: unknown) {
    if (typeof listener !== 'function') return () => {};
    const fn = listener as (channel: string, payload: unknown) => void;
    listeners.add(fn);
    return () => {
      listeners.delete(fn);
    };
  },
});
