// The envelopes both transports use around the contract's payloads. A command's answer never throws
// across a process or socket boundary: it is `{ ok: true, value }` or `{ ok: false, error: {code,message} }`
// so that the code survives (Electron rewrites thrown errors' messages; JSON has no Error type).
// Browser-safe.
import { z } from 'zod';
import { ErrorPayloadSchema } from './contract.js';
import type { ErrorPayload } from '../../base/errors.js';

export type Reply<T> = { ok: true; value: T } | { ok: false; error: ErrorPayload };

/** WebSocket, client → server: one command call. `id` pairs the answer with the call. */
export const WsCallSchema = z
  .object({
    t: z.literal('call'),
    id: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    channel: z.string().max(64),
    payload: z.unknown().optional(),
  })
  .strict();
export type WsCall = z.infer<typeof WsCallSchema>;

/**
 * WebSocket, client → server: the first message of every connection. `key` is the one-time launch
 * ticket the shell put in the URL fragment of the Chromium it started, or the session key a previous
 * `welcome` gave. A connection that does not open with a valid hello gets nothing and is closed.
 */
export const WsHelloSchema = z.object({ t: z.literal('hello'), key: z.string().min(16).max(128) }).strict();
export type WsHello = z.infer<typeof WsHelloSchema>;

/** The URL fragment parameter that carries the launch ticket (`#launch=…`); never sent to the server. */
export const LaunchFragmentParam = 'launch';

/** WebSocket, server → client: an answer, an event, or the welcome after a valid hello. */
export const WsServerMessageSchema = z.union([
  z.object({ t: z.literal('welcome'), key: z.string().min(16).max(128) }).strict(),
  z
    .object({ t: z.literal('result'), id: z.number().int(), ok: z.literal(true), value: z.unknown() })
    .strict(),
  z
    .object({ t: z.literal('result'), id: z.number().int(), ok: z.literal(false), error: ErrorPayloadSchema })
    .strict(),
  z.object({ t: z.literal('event'), channel: z.string(), payload: z.unknown() }).strict(),
]);
export type WsServerMessage =
  | { t: 'welcome'; key: string }
  | { t: 'result'; id: number; ok: true; value: unknown }
  | { t: 'result'; id: number; ok: false; error: ErrorPayload }
  | { t: 'event'; channel: string; payload: unknown };

/** Largest WebSocket frame either side accepts; the biggest legitimate answer is a 200-row list. */
export const MaxWsMessageBytes = 1 << 20;

/** The WebSocket path of the browser shell. */
export const WsPath = '/api/ws';

/** The launch ticket in a URL's fragment (`#launch=…`), or null. */
export function launchTicketOf(url: string): string | null {
  const hash = url.includes('#') ? url.slice(url.indexOf('#') + 1) : '';
  return new URLSearchParams(hash).get(LaunchFragmentParam);
}
