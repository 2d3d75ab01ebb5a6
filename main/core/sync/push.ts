// Pushing the journal to the hub: the records since the upload watermark, in batches, gzipped and
// signed; the hub's acknowledgement moves the watermark, never past what was sent, and (v2) only when it
// is signed by the hub and echoes this request's nonce. An empty push is still one request: the
// terminal's heartbeat and status report.
import { gzipSync } from 'node:zlib';
import { KioskError } from '../../../base/errors.js';
import { PROTOCOL_VERSION, type PushBody } from '../../../protocol/sync.js';
import type { HubLink } from './link.js';
import type { JournalSource } from './sinks.js';
import { errorFrom, exchange, readAll } from './transport.js';

export interface PushResult {
  sent: number;
  acked: number;
  duplicates: number;
  /** The hub's signed reply ordered this terminal retired (hub terminals retire). */
  retire?: boolean;
}

/** Pushes until nothing is pending; throws on the first refusal (the watermark keeps what was acked). */
export async function pushJournal(
  link: HubLink,
  journal: JournalSource,
  batchSize: number,
  statusReport: () => PushBody['status'],
): Promise<PushResult> {
  const total: PushResult = { sent: 0, acked: journal.uploadWatermark(), duplicates: 0 };
  // Always at least one request: an empty push is the terminal's heartbeat and status report.
  for (let first = true; ; first = false) {
    const records = journal.readSince(journal.uploadWatermark(), batchSize);
    if (!first && records.length === 0) break;
    const body: PushBody = {
      v: PROTOCOL_VERSION,
      terminalId: link.signer.keyId,
      records,
      status: statusReport(),
    };
    const bytes = gzipSync(Buffer.from(JSON.stringify(body), 'utf8'));
    const res = await exchange({
      base: link.base,
      method: 'POST',
      target: '/v1/journal',
      body: bytes,
      contentType: 'application/json',
      contentEncoding: 'gzip',
      signer: link.signer,
      idleTimeoutMs: link.idleTimeoutMs,
      agent: link.agent,
      ...(link.ca ? { ca: link.ca } : {}),
    });
    if (res.status !== 200) throw await errorFrom(res);
    const reply = journal.openPushReply(await readAll(res.body, 64 * 1024), {
      nonce: res.nonce,
      terminalId: link.signer.keyId,
    });
    const parsed = { data: reply };
    const lastSent = records.length > 0 ? records[records.length - 1]!.seq : journal.uploadWatermark();
    // The hub acknowledges the highest gap-free sequence it holds; never move past what was sent.
    const acked = Math.min(parsed.data.acked, lastSent);
    if (acked > journal.uploadWatermark()) journal.markUploaded(acked);
    total.sent += records.length;
    total.duplicates += parsed.data.duplicates;
    total.acked = journal.uploadWatermark();
    if (reply.order === 'retire') total.retire = true;
    if (records.length < batchSize) break;
    if (acked < lastSent)
      throw new KioskError(
        'SYNC_PROTOCOL',
        `hub acknowledged ${parsed.data.acked} after ${lastSent} was sent`,
      );
  }
  return total;
}
