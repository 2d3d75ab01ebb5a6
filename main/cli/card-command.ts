// `jpki-kiosk card info [--json] [--reader SUBSTRING] [--config F]`: the PC/SC readers and, for each
// present card, its type, the authentication certificate's serial, subject and validity, and the
// authentication PIN's remaining tries — read without consuming a try (case-1 VERIFY).
import 'reflect-metadata';
import { parseArgs } from 'node:util';
import * as x509 from '@peculiar/x509';
import { loadConfig } from '../../config/load.js';
import { KioskError, toKioskError, type ErrorPayload } from '../../base/errors.js';
import { JpkiClient } from '../core/card/jpki-client.js';
import { ReaderWatcher } from '../core/card/reader-watcher.js';

export interface CardInfo {
  cardType: string;
  tokenLabel: string;
  certificate: { serialHex: string; subject: string; issuer: string; notBefore: string; notAfter: string };
  authPinTriesLeft: number;
}

export interface ReaderReport {
  name: string;
  cardPresent: boolean;
  card?: CardInfo;
  error?: ErrorPayload;
}

export interface CardInfoReport {
  pcsc: string;
  error?: ErrorPayload;
  readers: ReaderReport[];
}

function settings(configFile: string | undefined) {
  try {
    const config = loadConfig({ file: configFile ?? null });
    return {
      settleMs: config.card.settleMs,
      timeoutMs: config.card.commandTimeoutMs,
      trace: config.card.apduTrace,
    };
  } catch (error) {
    if (configFile) throw error;
    return { settleMs: 50, timeoutMs: 3000, trace: false };
  }
}

async function readCard(watcher: ReaderWatcher, reader: string, timeoutMs: number, trace: boolean) {
  const client = new JpkiClient(await watcher.connect(reader, timeoutMs), { timeoutMs, trace });
  try {
    const token = await client.readTokenInfo();
    const der = await client.readAuthCertificate();
    let cert: x509.X509Certificate;
    try {
      cert = new x509.X509Certificate(new Uint8Array(der));
    } catch (error) {
      throw new KioskError('CARD_MALFORMED', 'the authentication certificate does not parse', undefined, {
        cause: error,
      });
    }
    const authPinTriesLeft = await client.authPinTriesLeft();
    return {
      cardType: token.cardType,
      tokenLabel: token.label,
      certificate: {
        serialHex: cert.serialNumber.toLowerCase(),
        subject: cert.subject,
        issuer: cert.issuer,
        notBefore: cert.notBefore.toISOString(),
        notAfter: cert.notAfter.toISOString(),
      },
      authPinTriesLeft,
    } satisfies CardInfo;
  } finally {
    await client.close();
  }
}

export async function cardInfo(options: { configFile?: string; reader?: string }): Promise<CardInfoReport> {
  const { settleMs, timeoutMs, trace } = settings(options.configFile);
  const watcher = new ReaderWatcher({ settleMs });
  watcher.start();
  try {
    try {
      await watcher.waitSettled(1500);
    } catch (error) {
      return { pcsc: watcher.state, error: toKioskError(error).toPayload(), readers: [] };
    }
    const readers: ReaderReport[] = [];
    for (const r of watcher.list()) {
      if (options.reader && !r.name.includes(options.reader)) continue;
      const report: ReaderReport = { name: r.name, cardPresent: r.cardPresent };
      if (r.cardPresent) {
        try {
          report.card = await readCard(watcher, r.name, timeoutMs, trace);
        } catch (error) {
          report.error = toKioskError(error).toPayload();
        }
      }
      readers.push(report);
    }
    return { pcsc: watcher.state, readers };
  } finally {
    watcher.stop();
  }
}

export async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      reader: { type: 'string' },
      config: { type: 'string' },
    },
  });
  if (positionals[0] !== 'info') {
    process.stderr.write('usage: jpki-kiosk card info [--json] [--reader SUBSTRING] [--config F]\n');
    return 2;
  }
  const report = await cardInfo({
    ...(values.config ? { configFile: values.config } : {}),
    ...(values.reader ? { reader: values.reader } : {}),
  });
  if (values.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  else {
    if (report.error)
      process.stdout.write(`PC/SC ${report.pcsc}: ${report.error.code}: ${report.error.message}\n`);
    if (!report.error && report.readers.length === 0) process.stdout.write('no readers\n');
    for (const r of report.readers) {
      process.stdout.write(`${r.name}: ${r.cardPresent ? 'card present' : 'no card'}\n`);
      if (r.card) {
        const c = r.card;
        process.stdout.write(
          `  ${c.cardType} (${c.tokenLabel})\n  serial ${c.certificate.serialHex}  ${c.certificate.subject}\n` +
            `  valid ${c.certificate.notBefore} .. ${c.certificate.notAfter}\n  PIN tries left: ${c.authPinTriesLeft}\n`,
        );
      }
      if (r.error) process.stdout.write(`  error ${r.error.code}: ${r.error.message}\n`);
    }
  }
  return report.error ? 1 : 0;
}
