// Sync protocol v2: the wire shapes shared by the terminal (main/core/sync) and the reference hub (hub/).
// The signed content — delta batches and snapshot manifests — is protocol/feed-format.ts (Ed25519 by
// the hub's publisher key); this file only frames it for HTTP. docs/sync.md has the
// byte-level description.
import { z } from 'zod';
import { KioskError } from '../base/errors.js';
import { Feeds, type FeedName } from './feed-format.js';

export { Feeds, type FeedName };
export const PROTOCOL_VERSION = 2;
export const MEDIA_TYPE = 'application/vnd.jpki-kiosk.sync-v2';
/** A push reply is a signed blob (protocol/checkpoint.ts), not bare JSON. */
export const PUSH_REPLY_MEDIA_TYPE = 'application/vnd.jpki-kiosk.push-reply-v2';

/** Pull answers are a sequence of frames: type (u8) ‖ length (u32 BE) ‖ payload. */
export const FrameType = {
  hello: 0x01,
  batch: 0x02,
  manifest: 0x03,
  rows: 0x04,
  rowsEnd: 0x05,
  // 0x06 was v1's unsigned `done`; a v2 terminal refuses it.
  /** A signed checkpoint (protocol/checkpoint.ts): always last. */
  checkpoint: 0x07,
} as const;
export type FrameTypeName = keyof typeof FrameType;
export const FRAME_HEADER_BYTES = 5;
/** Largest frame either side accepts; a batch is capped by the hub far below this. */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** Snapshot rows travel in chunks of at most this size. */
export const ROWS_CHUNK_BYTES = 1024 * 1024;
/** Most operations the reference hub puts in one delta batch. */
export const HUB_BATCH_OPS = 20_000;

export function frame(type: number, payload: Uint8Array): Buffer {
  const head = Buffer.alloc(FRAME_HEADER_BYTES);
  head[0] = type;
  head.writeUInt32BE(payload.length, 1);
  return Buffer.concat([head, payload]);
}

export function jsonFrame(type: number, value: unknown): Buffer {
  return frame(type, Buffer.from(JSON.stringify(value), 'utf8'));
}

export const Hello = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    hubId: z.string().min(1).max(128),
    hubTime: z.number().int(),
    feed: z.enum(Feeds),
    epoch: z.string().min(1).max(64),
    head: z.number().int().nonnegative(),
  })
  .strict();
export type Hello = z.infer<typeof Hello>;

/** The most requests one pull of one feed makes; each must move the feed forward. */
export const MAX_PULL_ROUNDS = 64;

// ---- journal push ---------------------------------------------------------------------------------

/**
 * One journal row as pushed: the terminal journal's JournalRow exactly (the record's JSON text as hashed, and its
 * chain hash), so the hub can re-verify the chain. The body names a subject (platform ID) and a keyed
 * hash of the serial, never the serial or the individual number.
 */
export const PushRecord = z
  .object({
    seq: z.number().int().positive(),
    body: z.string().min(2).max(4096),
    hash: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();
export type PushRecord = z.infer<typeof PushRecord>;

export const TerminalStatusReport = z
  .object({
    version: z.string().max(64),
    queueLength: z.number().int().nonnegative(),
    /** Seconds since the least recently synced feed last synced; null before the first sync. */
    dataAgeSeconds: z.number().nonnegative().nullable(),
    feeds: z.record(z.string(), z.number().int().nonnegative()),
    lastError: z.string().max(200).nullable(),
    /** v2: the terminal refused an answer as an attack (rollback, freeze, mix-and-match); null if none. */
    alarm: z
      .object({ code: z.string().max(64), message: z.string().max(300), at: z.string().max(40) })
      .strict()
      .nullable()
      .optional(),
    /** The remote configuration version the terminal runs (null: none applied). */
    configVersion: z.number().int().nonnegative().nullable().optional(),
  })
  .strict();
export type TerminalStatusReport = z.infer<typeof TerminalStatusReport>;

export const MAX_PUSH_RECORDS = 5_000;

export const PushBody = z
  .object({
    v: z.literal(PROTOCOL_VERSION),
    terminalId: z.string().min(1).max(64),
    records: z.array(PushRecord).max(MAX_PUSH_RECORDS),
    status: TerminalStatusReport,
  })
  .strict();
export type PushBody = z.infer<typeof PushBody>;

// The push reply is SignedPushReply in protocol/checkpoint.ts (signed, bound to the request's nonce).

export function protocolError(message: string, detail?: Record<string, unknown>): KioskError {
  return new KioskError('SYNC_PROTOCOL', message, detail);
}
