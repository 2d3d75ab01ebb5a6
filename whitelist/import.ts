// Import of whitelist or revocation rows from CSV or NDJSON into the local store (sites without a hub, or
// preparing a terminal). Two passes: the whole file is validated first — a malformed row refuses the
// import naming its line, and nothing is written — then rows are sealed and applied in transactions.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { KioskError } from '../base/errors.js';
import { Entitlement, encodeCardRecord, type CardRecordInput } from './entitlements.js';
import { RevocationReasons, type FeedBatch, type SnapshotFeedName } from '../protocol/feed-format.js';
import { revocationPutOp, whitelistPutOp, type CardRowInput, type RevocationInput } from './feed-ops.js';
import type { IndexKey } from './privacy.js';
import type { FeedStore } from './store.js';

export type ImportFormat = 'csv' | 'ndjson';
/** Epoch of feeds filled by local import; a feed on a hub epoch refuses local imports. */
export const LOCAL_EPOCH = 'local';
const LOCAL_PUBLISHER = '0'.repeat(32);
const CHUNK = 10_000;

const Hex = z.string().regex(/^[0-9A-Fa-f:\s]+$/, 'hex');
const CardRow = z
  .object({
    issuerKeyId: Hex,
    serial: Hex,
    spkiSha256: z
      .string()
      .regex(/^[0-9A-Fa-f]{64}$/, '64 hex characters (SHA-256 of the SubjectPublicKeyInfo)'),
    subject: z.string().min(1).max(64),
    entitlements: z.array(Entitlement).max(16),
  })
  .strict();
const RevocationRow = z
  .object({
    issuerKeyId: Hex,
    serial: Hex,
    revokedAt: z.iso.datetime({ offset: true }),
    reason: z.enum(RevocationReasons).default('unspecified'),
  })
  .strict();

/** RFC 4180 fields of one line (quoted fields may contain commas and doubled quotes; not newlines). */
export function csvFields(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new Error('unterminated quoted field');
        field += line.slice(i, q);
        i = q + 1;
        if (line[i] === '"') {
          field += '"';
          i++;
        } else break;
      }
      if (i < line.length && line[i] !== ',') throw new Error('text after a quoted field');
    } else {
      const c = line.indexOf(',', i);
      field = c < 0 ? line.slice(i) : line.slice(i, c);
      i = c < 0 ? line.length : c;
    }
    out.push(field);
    if (i >= line.length) return out;
    i++; // the comma
  }
}

const LIST_COLUMNS = new Set(['zones', 'gates', 'careNeeds']);
const NUMBER_COLUMNS = new Set(['entriesAllowed', 'copayRatio']);

/** One CSV line of a whitelist: card columns plus one entitlement's columns (`kind` and its fields). */
function csvCardRow(record: Record<string, string>): unknown {
  const { issuerKeyId, serial, spkiSha256, subject, kind, ...rest } = record;
  const entitlement: Record<string, unknown> = { kind };
  for (const [key, value] of Object.entries(rest)) {
    if (value === '') continue;
    if (LIST_COLUMNS.has(key)) entitlement[key] = value.split('|').filter(Boolean);
    else if (NUMBER_COLUMNS.has(key)) entitlement[key] = Number(value);
    else entitlement[key] = value;
  }
  return { issuerKeyId, serial, spkiSha256, subject, entitlements: kind ? [entitlement] : [] };
}

type Row = { kind: 'card'; row: CardRowInput } | { kind: 'revocation'; row: RevocationInput };

/** Streams parsed, validated rows with their line numbers. CSV lines of one card in a row merge. */
async function* readRows(
  file: string,
  format: ImportFormat,
  feed: SnapshotFeedName,
): AsyncGenerator<[number, Row]> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let header: string[] | null = null;
  let lineNo = 0;
  let pending: [number, CardRowInput] | null = null;
  const fail = (line: number, message: string): never => {
    throw new KioskError('IMPORT_INVALID', `${file}:${line}: ${message}`, { line });
  };
  const validate = (line: number, raw: unknown): Row => {
    if (feed === 'revocations') {
      const r = RevocationRow.safeParse(raw);
      if (!r.success) fail(line, `${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`);
      return { kind: 'revocation', row: r.data! };
    }
    const r = CardRow.safeParse(raw);
    if (!r.success) fail(line, `${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`);
    const { issuerKeyId, serial, spkiSha256, subject, entitlements } = r.data!;
    const record: CardRecordInput = { subject, entitlements };
    try {
      encodeCardRecord(record);
    } catch (error) {
      fail(line, (error as Error).message);
    }
    return { kind: 'card', row: { issuerKeyId, serial, spkiSha256: spkiSha256.toLowerCase(), record } };
  };
  for await (const text of lines) {
    lineNo++;
    if (text.trim() === '') continue;
    let raw: unknown;
    if (format === 'ndjson') {
      try {
        raw = JSON.parse(text);
      } catch {
        fail(lineNo, 'not a JSON object');
      }
    } else {
      let fields: string[] = [];
      try {
        fields = csvFields(text);
      } catch (error) {
        fail(lineNo, (error as Error).message);
      }
      if (!header) {
        header = fields.map((f) => f.trim());
        continue;
      }
      if (fields.length !== header.length)
        fail(lineNo, `${fields.length} fields, the header has ${header.length}`);
      const record = Object.fromEntries(header.map((h, i) => [h, fields[i]!]));
      raw = feed === 'whitelist' ? csvCardRow(record) : { ...record, reason: record.reason || undefined };
    }
    const row = validate(lineNo, raw);
    if (format === 'csv' && row.kind === 'card') {
      const same =
        pending &&
        pending[1].issuerKeyId.toLowerCase() === row.row.issuerKeyId.toLowerCase() &&
        pending[1].serial.toLowerCase() === row.row.serial.toLowerCase();
      if (same) {
        const merged = {
          ...pending![1].record,
          entitlements: [...(pending![1].record.entitlements ?? []), ...(row.row.record.entitlements ?? [])],
        };
        pending![1] = { ...pending![1], record: merged };
        try {
          encodeCardRecord(merged);
        } catch (error) {
          fail(lineNo, (error as Error).message);
        }
        continue;
      }
      if (pending) yield [pending[0], { kind: 'card', row: pending[1] }];
      pending = [lineNo, row.row];
      continue;
    }
    yield [lineNo, row];
  }
  if (pending) yield [pending[0], { kind: 'card', row: pending[1] }];
}

export interface ImportResult {
  feed: SnapshotFeedName;
  rows: number;
  seq: number;
}

/**
 * Imports a file into a feed store. Refuses a feed that a hub manages (its epoch is not LOCAL_EPOCH):
 * local rows would break the hub's sequence.
 */
export async function importFile(options: {
  file: string;
  format: ImportFormat;
  store: FeedStore;
  indexKey: IndexKey;
  onProgress?: (done: number, total: number) => void;
}): Promise<ImportResult> {
  const { store, indexKey } = options;
  const feed = store.feed;
  const state = store.feedState();
  if (state.epoch !== null && state.epoch !== LOCAL_EPOCH)
    throw new KioskError(
      'INVALID_REQUEST',
      `the ${feed} feed is managed by a hub (epoch ${state.epoch}); import into the hub instead`,
    );
  let total = 0;
  for await (const _ of readRows(options.file, options.format, feed)) total++;
  let done = 0;
  let ops: FeedBatch['ops'] = [];
  const flush = () => {
    if (ops.length === 0) return;
    const from = store.feedState().seq;
    store.apply({
      format: 'jpki-kiosk/delta/v1',
      feed,
      publisherKeyId: LOCAL_PUBLISHER,
      epoch: LOCAL_EPOCH,
      fromSeq: from,
      toSeq: from + ops.length,
      asOf: new Date().toISOString(),
      ops,
    } as FeedBatch);
    done += ops.length;
    ops = [];
    options.onProgress?.(done, total);
  };
  for await (const [, row] of readRows(options.file, options.format, feed)) {
    (ops as unknown[]).push(
      row.kind === 'card' ? whitelistPutOp(indexKey, row.row) : revocationPutOp(indexKey, row.row),
    );
    if (ops.length >= CHUNK) flush();
  }
  flush();
  return { feed, rows: done, seq: store.feedState().seq };
}
