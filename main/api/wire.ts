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

/** WebSocket, server → client: an answer or an event. */
export const WsServerMessageSchema = z.union([
  z
    .object({ t: z.literal('result'), id: z.number().int(), ok: z.literal(true), value: z.unknown() })
    .strict(),
  z
    .object({ t: z.literal('result'), id: z.number().int(), ok: z.literal(false), error: ErrorPayloadSchema })
    .strict(),
  z.object({ t: z.literal('event'), channel: z.string(), payload: z.unknown() }).strict(),
]);
export type WsServerMessage =
  | { t: 'result'; id: number; ok: true; value: unknown }
  | { t: 'result'; id: number; ok: false; error: ErrorPayload }
  | { t: 'event'; channel: string; payload: unknown };

/** Largest WebSocket frame either side accepts; the biggest legitimate answer is a 200-row list. */
export const MaxWsMessageBytes = 1 << 20;

/** The WebSocket path of the browser shell. */
export const WsPath = '/api/ws';
