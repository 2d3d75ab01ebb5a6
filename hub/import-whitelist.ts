// `hub import-whitelist`: the complete whitelist as CSV or NDJSON; the hub publishes only the
// difference against what it published before (puts for new or changed cards, dels for cards gone).
// One row per card: issuerKeyId (hex), serial (hex), spkiSha256 (hex SHA-256 of the certificate's
// SubjectPublicKeyInfo), subject (platform ID), entitlements (JSON array; see whitelist/entitlements.ts).
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { z } from 'zod';
import { KioskError } from '../base/errors.js';
import { CardRecord } from '../whitelist/entitlements.js';
import type { CardRowInput } from '../whitelist/feed-ops.js';
import type { Publisher, PublishSummary } from './publisher.js';

const Row = z
  .object({
    issuerKeyId: z.string().regex(/^([0-9a-fA-F]{2}){1,64}$/, 'hex bytes'),
    serial: z.string().regex(/^[0-9a-fA-F:]{1,80}$/, 'hex'),
    spkiSha256: z.string().regex(/^[0-9a-fA-F]{64}$/, '64 hex characters'),
    subject: z.string(),
    entitlements: z.array(z.unknown()),
  })
  .strict();

/** Splits one CSV line (RFC 4180 quoting; no newlines inside fields). */
export function splitCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"' && cur === '') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (quoted) throw new Error('unterminated quote');
  out.push(cur);
  return out;
}

function toRow(value: unknown, where: string): CardRowInput {
  const r = Row.safeParse(value);
  if (!r.success) {
    const i = r.error.issues[0]!;
    throw new KioskError('IMPORT_INVALID', `${where}: ${i.path.join('.') || 'row'}: ${i.message}`);
  }
  const record = CardRecord.safeParse({ subject: r.data.subject, entitlements: r.data.entitlements });
  if (!record.success) {
    const i = record.error.issues[0]!;
    throw new KioskError('IMPORT_INVALID', `${where}: ${i.path.join('.')}: ${i.message}`);
  }
  return {
    issuerKeyId: r.data.issuerKeyId.toLowerCase(),
    serial: r.data.serial.replace(/:/g, '').toLowerCase(),
    spkiSha256: r.data.spkiSha256.toLowerCase(),
    record: record.data,
  };
}

/**
 * Reads a whitelist file row by row (a file of any size; nothing is kept); the format comes from the
 * extension (.csv, .ndjson/.jsonl). A bad row ends the iteration with IMPORT_INVALID naming its line.
 */
export async function* readWhitelistFile(file: string): AsyncGenerator<CardRowInput> {
  const csv = /\.csv$/i.test(file);
  if (!csv && !/\.(nd)?jsonl?$/i.test(file) && !/\.ndjson$/i.test(file))
    throw new KioskError('IMPORT_INVALID', `${file}: expected a .csv or .ndjson file`);
  let header: string[] | null = null;
  let n = 0;
  const input = createReadStream(file, { encoding: 'utf8' });
  input.on('error', () => undefined);
  try {
    for await (const raw of createInterface({ input, crlfDelay: Infinity })) {
      n++;
      const line = n === 1 ? raw.replace(/^\uFEFF/, '') : raw;
      if (line.trim() === '') continue;
      const where = `${file}:${n}`;
      if (csv) {
        let cells: string[];
        try {
          cells = splitCsvLine(line);
        } catch (error) {
          throw new KioskError('IMPORT_INVALID', `${where}: ${(error as Error).message}`);
        }
        if (!header) {
          header = cells.map((c) => c.trim());
          const want = ['issuerKeyId', 'serial', 'spkiSha256', 'subject', 'entitlements'];
          if (want.some((w) => !header!.includes(w)))
            throw new KioskError('IMPORT_INVALID', `${where}: the header must name ${want.join(', ')}`);
          continue;
        }
        if (cells.length !== header.length)
          throw new KioskError(
            'IMPORT_INVALID',
            `${where}: ${cells.length} fields, the header has ${header.length}`,
          );
        const obj: Record<string, unknown> = {};
        header.forEach((h, i) => (obj[h] = cells[i]));
        try {
          obj.entitlements = JSON.parse(String(obj.entitlements));
        } catch {
          throw new KioskError('IMPORT_INVALID', `${where}: entitlements is not a JSON array`);
        }
        yield toRow(obj, where);
      } else {
        let obj: unknown;
        try {
          obj = JSON.parse(line);
        } catch {
          throw new KioskError('IMPORT_INVALID', `${where}: not JSON`);
        }
        yield toRow(obj, where);
      }
    }
  } catch (error) {
    if (error instanceof KioskError) throw error;
    throw new KioskError('IMPORT_INVALID', `${file} cannot be read: ${(error as Error).message}`);
  } finally {
    input.destroy();
  }
}

export async function importWhitelist(
  publisher: Publisher,
  file: string,
): Promise<PublishSummary & { rows: number }> {
  // Streamed: the rows are staged as they are read; nothing is published unless the whole file is valid.
  return publisher.publishWhitelistFrom(readWhitelistFile(file), `whitelist from ${file}`);
}
