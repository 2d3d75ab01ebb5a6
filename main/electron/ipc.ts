// The main-process side of the IPC transport. For each command channel of the contract (and no other),
// a handler that checks the sender first — our window's top frame, showing our app:// page — then the
// payload against the contract's schema, and only then forwards the call to the core process.
import type { IpcMain, IpcMainInvokeEvent } from 'electron';
import { Channels, commandForChannel, validateRequest } from '../api/contract.js';
import type { Reply } from '../api/wire.js';
import { isAppUrl } from './security.js';

export interface RelayOptions {
  ipcMain: Pick<IpcMain, 'handle' | 'removeHandler'>;
  /** The webContents id of the kiosk window (null until it exists). */
  windowContentsId(): number | null;
  forward(channel: string, payload: unknown): Promise<Reply<unknown>>;
  log(message: string, detail?: Record<string, unknown>): void;
}

export function isTrustedSender(
  event: Pick<IpcMainInvokeEvent, 'sender' | 'senderFrame'>,
  contentsId: number | null,
): boolean {
  const frame = event.senderFrame;
  if (contentsId === null || event.sender.id !== contentsId || !frame) return false;
  // Only the top frame: a subframe (there should be none) never speaks for the kiosk.
  if (frame.parent !== null) return false;
  return isAppUrl(frame.url);
}

/** Installs one handler per command channel; returns the function that removes them. */
export function installIpcRelay(options: RelayOptions): () => void {
  const channels = Object.values(Channels.commands);
  for (const channel of channels) {
    options.ipcMain.handle(channel, async (event, payload: unknown): Promise<Reply<unknown>> => {
      if (!isTrustedSender(event, options.windowContentsId())) {
        options.log('refused IPC from an untrusted sender', {
          channel,
          url: event.senderFrame?.url?.slice(0, 200),
        });
        return { ok: false, error: { code: 'INVALID_REQUEST', message: 'untrusted sender' } };
      }
      const name = commandForChannel(channel)!;
      const checked = validateRequest(name, payload);
      if (!checked.ok) return checked;
      return options.forward(channel, checked.value);
    });
  }
  return () => {
    for (const channel of channels) options.ipcMain.removeHandler(channel);
  };
}
