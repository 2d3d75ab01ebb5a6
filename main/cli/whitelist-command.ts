// `jpki-kiosk whitelist import|stats|lookup`: local data operations on the terminal's stores.
import 'reflect-metadata';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { AuthorityKeyIdentifierExtension, X509Certificate } from '@peculiar/x509';
import { loadConfig } from '../../config/load.js';
import { KioskError } from '../../base/errors.js';
import { importFile, type ImportFormat } from '../../whitelist/import.js';
import { KioskData } from '../../whitelist/kiosk-data.js';

const USAGE = `usage: jpki-kiosk whitelist import FILE [--feed whitelist|revocations] [--format csv|ndjson] [--config F] [--json]
       jpki-kiosk whitelist stats [--config F] [--json]
       jpki-kiosk whitelist lookup (--cert FILE | --issuer HEX --serial HEX [--spki HEX]) [--config F] [--json]`;

function certificateFields(file: string): { issuerKeyId: string; serial: string; spkiSha256: string } {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(file));
  } catch (error) {
    throw new KioskError('INVALID_REQUEST', `${file} is not a readable X.509 certificate`, undefined, {
      cause: error,
    });
  }
  const aki = cert.getExtension(AuthorityKeyIdentifierExtension);
  if (!aki?.keyId) throw new KioskError('INVALID_REQUEST', `${file} has no authority key identifier`);
  return {
    issuerKeyId: aki.keyId,
    serial: cert.serialNumber,
    spkiSha256: createHash('sha256').update(Buffer.from(cert.publicKey.rawData)).digest('hex'),
  };
}

function progressBar(label: string): ((done: number, total: number) => void) | undefined {
  if (!process.stderr.isTTY) return undefined;
  const start = Date.now();
  return (done, total) => {
    const width = 30;
    const fill = total ? Math.round((done / total) * width) : width;
    const rate = Math.round(done / Math.max(0.001, (Date.now() - start) / 1000));
    process.stderr.write(
      `\r${label} [${'#'.repeat(fill)}${' '.repeat(width - fill)}] ${done}/${total} rows, ${rate}/s${done === total ? '\n' : ''}`,
    );
  };
}

export async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      feed: { type: 'string', default: 'whitelist' },
      format: { type: 'string' },
      cert: { type: 'string' },
      issuer: { type: 'string' },
      serial: { type: 'string' },
      spki: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
  const [command, file] = positionals;
  if (!['import', 'stats', 'lookup'].includes(command ?? '') || (command === 'import' && !file)) {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  const config = loadConfig({ file: values.config ?? null });
  const data = KioskData.fromConfig(config);
  const out = (value: unknown, text: string) =>
    process.stdout.write(values.json ? JSON.stringify(value) + '\n' : text + '\n');
  try {
    if (command === 'import') {
      const feed = values.feed;
      if (feed !== 'whitelist' && feed !== 'revocations') {
        process.stderr.write(`--feed must be whitelist or revocations\n`);
        return 2;
      }
      const format = (values.format ?? (file!.endsWith('.csv') ? 'csv' : 'ndjson')) as ImportFormat;
      if (format !== 'csv' && format !== 'ndjson') {
        process.stderr.write(`--format must be csv or ndjson\n`);
        return 2;
      }
      const started = Date.now();
      const result = await importFile({
        file: file!,
        format,
        store: feed === 'whitelist' ? data.whitelist : data.revocations,
        indexKey: data.indexKey,
        onProgress: values.json ? undefined : progressBar(`import ${feed}`),
      });
      out(
        { ...result, seconds: (Date.now() - started) / 1000 },
        `imported ${result.rows} ${feed} rows in ${((Date.now() - started) / 1000).toFixed(1)} s; feed at sequence ${result.seq}`,
      );
      return 0;
    }
    if (command === 'stats') {
      const stats = data.stats();
      const lines = [
        ...(['whitelist', 'revocations'] as const).map((f) => {
          const s = stats[f];
          return `${f.padEnd(12)} ${String(s.rows).padStart(10)} rows  ${s.bytesPerRow.toFixed(1)} B/row  seq ${s.seq}  epoch ${s.epoch ?? '-'}  as of ${s.asOf ?? 'never'}  last sync ${s.lastSyncAt ?? 'never'}`;
        }),
        `journal      ${String(stats.journal.records).padStart(10)} records  uploaded to ${stats.journal.uploadWatermark}  seals ${stats.journal.seals}`,
        `presence     ${String(stats.presence.inside).padStart(10)} inside`,
      ];
      out(stats, lines.join('\n'));
      return 0;
    }
    const input = values.cert
      ? certificateFields(values.cert)
      : { issuerKeyId: values.issuer, serial: values.serial, spkiSha256: values.spki };
    if (!input.issuerKeyId || !input.serial) {
      process.stderr.write(USAGE + '\n');
      return 2;
    }
    const result = data.lookup({
      issuerKeyId: input.issuerKeyId,
      serial: input.serial,
      // Without the certificate's key hash a row can be found but never opened.
      spkiSha256: input.spkiSha256 ?? '00'.repeat(32),
    });
    const present = result.card !== null || result.keyMismatch;
    const view = {
      serialRef: result.serialRef,
      revoked: result.revoked,
      registered: present,
      card: result.card,
      opened: result.card !== null,
    };
    out(
      view,
      [
        `serial ref   ${result.serialRef}`,
        `revoked      ${result.revoked ? `yes, ${result.revoked.at} (${result.revoked.reason})` : 'no'}`,
        `registered   ${present ? (result.card ? 'yes' : 'yes, but sealed to another key (give --cert or --spki of that card)') : 'no'}`,
        ...(result.card
          ? [
              `subject      ${result.card.subject}`,
              `entitlements ${JSON.stringify(result.card.entitlements)}`,
            ]
          : []),
      ].join('\n'),
    );
    return 0;
  } finally {
    data.close();
  }
}

/** What `jpki-kiosk whitelist --help` prints (main/cli/index.ts answers --help for every command). */
export const usage = USAGE;
