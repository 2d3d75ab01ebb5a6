// Turns a transport (Electron IPC bridge or WebSocket) into the typed KioskApi. Requests are validated
// before they leave (a bug in a screen shows as INVALID_REQUEST here, not as a fault in the core);
// answers and events are validated when they arrive, and unknown channels are dropped.
import {
  CommandNames,
  Channels,
  eventForChannel,
  validateEvent,
  validateRequest,
  validateResponse,
  type CommandName,
  type CommandRequest,
  type CommandResponse,
  type KioskApi,
  type KioskCommands,
  type KioskEvent,
} from '../../../main/api/contract.js';
import { KioskError, type ErrorPayload } from '../../../base/errors.js';
import type { Reply } from '../../../main/api/wire.js';

export interface Transport {
  invoke(channel: string, payload: unknown): Promise<Reply<unknown>>;
  /** Raw events; returns the unsubscribe function. */
  listen(listener: (channel: string, payload: unknown) => void): () => void;
  /** Connection state, for the "connecting" screen; `error` says why the core is down, when known. */
  onConnection?(listener: (connected: boolean, error?: ErrorPayload) => void): () => void;
  close?(): void;
}

export interface ApiClient extends KioskApi {
  onConnection(listener: (connected: boolean, error?: ErrorPayload) => void): () => void;
  close(): void;
}

export function createApiClient(transport: Transport, onInvalid?: (message: string) => void): ApiClient {
  async function call<K extends CommandName>(
    name: K,
    request: CommandRequest<K>,
  ): Promise<CommandResponse<K>> {
    const checked = validateRequest(name, request);
    if (!checked.ok) throw new KioskError(checked.error.code, checked.error.message);
    const reply = await transport.invoke(Channels.commands[name], checked.value);
    if (!reply.ok) throw new KioskError(reply.error.code, reply.error.message);
    const answer = validateResponse(name, reply.value);
    if (!answer.ok) throw new KioskError(answer.error.code, answer.error.message);
    return answer.value;
  }

  const commands = Object.fromEntries(
    CommandNames.map((name) => [name, (request: unknown) => call(name, request as never)]),
  ) as unknown as KioskCommands;

  return {
    ...commands,
    subscribe(listener: (event: KioskEvent) => void) {
      return transport.listen((channel, payload) => {
        const name = eventForChannel(channel);
        if (!name) return onInvalid?.(`unknown event channel ${String(channel).slice(0, 64)}`);
        const checked = validateEvent(name, payload);
        if (!checked.ok) return onInvalid?.(checked.error.message);
        listener({ name, payload: checked.value } as KioskEvent);
      });
    },
    onConnection(listener) {
      if (transport.onConnection) return transport.onConnection(listener);
      listener(true);
      return () => {};
    },
    close() {
      transport.close?.();
    },
  };
}
