// A journal record as the terminal writes it and the hub re-reads it: the fields, the JSON text that
// is hashed, the chain hash and the seal message. Both sides import this one definition so that a
// record the terminal wrote is exactly a record the hub accepts.
import { createHash, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { AuthPaths, Outcomes, ReasonCodes } from '../base/decision.js';
import { Directions } from '../base/site-kinds.js';

export const JournalKinds = [
  'decision',
  'grant',
  'passage',
  'annulment',
  'staff-annul',
  'staff-lockout',
  'service',
] as const;
/**
 * decision: a decision that admitted nobody (refused, staff, error);
 * grant: an admission shown on screen (durable before the screen says so);
 * passage: the gate reported the person went through (ref = the grant);
 * annulment: the grant was not used (no passage in time; ref = the grant);
 * staff-annul: staff annulled a record (ref, with a note saying why);
 * staff-lockout: wrong staff PINs locked staff mode out (note: how many lockouts, for how long);
 * service: a kiosk service step (request, document, refusal, print, fee hand-off): ids and codes only,
 * never a name or a document's content.
 */
export type JournalKind = (typeof JournalKinds)[number];

const Text = z.string().min(1).max(64);

export const ServiceJournalEvents = [
  'request',
  'document',
  'refused',
  'failed',
  'printed',
  'print-failed',
  'fee-handoff',
  'discarded',
] as const;

export const JournalEntryInput = z
  .object({
    kind: z.enum(JournalKinds),
    terminalId: Text,
    siteId: Text,
    gateId: Text,
    direction: z.enum(Directions),
    /** Platform subject ID, never the individual number. */
    subject: Text.optional(),
    /** IndexKey.serialRef() of the card: correlates entries without revealing the serial. */
    serialRef: z
      .string()
      .regex(/^[0-9a-f]{32}$/)
      .optional(),
    outcome: z.enum(Outcomes).optional(),
    reasons: z.array(z.enum(ReasonCodes)).max(16).default([]),
    /** How the holder was proved (pinless, pin, staff-visual); decisions and grants only. */
    authPath: z.enum(AuthPaths).optional(),
    decisionId: Text.optional(),
    /** The journal seq this record refers to (passage/annulment → grant; staff-annul → any). */
    ref: z.number().int().positive().optional(),
    note: z.string().min(1).max(200).optional(),
    staffId: Text.optional(),
    /** Kiosk services: what happened to which request of which session. */
    service: z
      .object({
        event: z.enum(ServiceJournalEvents),
        serviceId: Text,
        sessionId: Text,
        requestId: Text,
        code: Text.optional(),
        amountYen: z.number().int().nonnegative().optional(),
        printJob: Text.optional(),
        documentId: Text.optional(),
      })
      .strict()
      .optional(),
    /** Wall time of the event; defaults to now. */
    wall: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();
export type JournalEntryInput = z.input<typeof JournalEntryInput>;

export interface JournalRecord extends Omit<z.output<typeof JournalEntryInput>, 'wall'> {
  seq: number;
  wall: string;
  /** Monotonic milliseconds within `boot` (process.hrtime), for ordering when the wall clock jumps. */
  mono: number;
  /** Random id of the process run that wrote the record. */
  boot: string;
}

/** A journal row as stored and uploaded: the hub can re-verify the chain from these. */
export interface JournalRow {
  seq: number;
  /** The record's JSON text exactly as hashed. */
  body: string;
  /** Hex SHA-256(prevHash ‖ body). */
  hash: string;
}

const SEAL_DOMAIN = Buffer.from('jpki-kiosk/journal-seal/v1\n', 'utf8');

export function chainHash(prev: Uint8Array, body: string): Buffer {
  return createHash('sha256').update(prev).update(body, 'utf8').digest();
}

export function sealMessage(seq: number, head: Uint8Array): Buffer {
  const n = Buffer.alloc(8);
  n.writeBigUInt64BE(BigInt(seq));
  return Buffer.concat([SEAL_DOMAIN, n, head]);
}

export function verifySealSignature(
  publicKey: KeyObject,
  seq: number,
  head: Uint8Array,
  signature: Uint8Array,
): boolean {
  const data = sealMessage(seq, head);
  try {
    return nodeVerify(
      'sha256',
      data,
      { key: publicKey, dsaEncoding: signature.length === 64 ? 'ieee-p1363' : 'der' },
      signature,
    );
  } catch {
    return false;
  }
}

/** A stored record as the hub receives it: the entry's fields plus what the journal adds. */
const StoredJournalRecord = JournalEntryInput.extend({
  seq: z.number().int().positive(),
  wall: z.iso.datetime({ offset: true }),
  mono: z.number().nonnegative(),
  boot: z.string().min(1).max(64),
}).strict();

/** Reads a pushed record's JSON text; null when it is not a well-formed journal record. */
export function readJournalRecord(body: string): JournalRecord | null {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return null;
  }
  const parsed = StoredJournalRecord.safeParse(value);
  return parsed.success ? (parsed.data as JournalRecord) : null;
}
