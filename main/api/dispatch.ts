// The server side of both transports: a channel string and an untrusted payload in, a Reply out.
// Order of checks: the channel is on the allowlist, the payload matches its schema, then the core runs
// it; whatever the core throws leaves as `{code, message}` (never a stack). Browser-safe so the Electron
// main process, the core's utility process and the browser shell share it.
import {
  Channels,
  commandForChannel,
  toErrorPayload,
  validateEvent,
  validateRequest,
  type CommandName,
  type KioskCore,
  type KioskEvent,
} from './contract.js';
import type { Reply } from './wire.js';

export async function dispatchCommand(
  core: KioskCore,
  channel: unknown,
  payload: unknown,
): Promise<Reply<unknown>> {
  const name = commandForChannel(channel);
  if (!name) {
    return {
      ok: false,
      error: {
        code: 'INVALID_REQUEST',
        message: `unknown channel ${JSON.stringify(String(channel).slice(0, 64))}`,
      },
    };
  }
  const checked = validateRequest(name, payload);
  if (!checked.ok) return checked;
  try {
    const run = core[name] as (request: unknown) => Promise<unknown>;
    const value = await run.call(core, checked.value);
    return { ok: true, value };
  } catch (error) {
    return { ok: false, error: toErrorPayload(error) };
  }
}

/** An event as it goes on the wire, or null (with the reason) if the core produced a malformed one. */
export function eventToWire(event: KioskEvent): { channel: string; payload: unknown } | { invalid: string } {
  const checked = validateEvent(event.name, event.payload);
  if (!checked.ok) return { invalid: checked.error.message };
  return { channel: Channels.events[event.name], payload: checked.value };
}

export type { CommandName };
