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

/** Push bodies up to this size are sent uncompressed. */
export const PLAIN_PUSH_MAX_BYTES = 16 * 1024;

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
  /** Brings the trusted keys up to date (roots, a venue's delegation) once, for a reply by an unknown key. */
  refreshTrust?: () => Promise<void>,
): Promise<PushResult> {
  const total: PushResult = { sent: 0, acked: journal.uploadWatermark(), duplicates: 0 };
  // What is sent next starts after `from`: the watermark, unless this hub holds less than it (a terminal
  // that failed over from a venue hub that has not yet forwarded its rows): then once from the hub's own
  // acknowledgement, so that nothing is missing there (what it already holds comes back as duplicates).
  let from = journal.uploadWatermark();
  let rewound = false;
  // Always at least one request: an empty push is the terminal's heartbeat and status report.
  for (let first = true; ; first = false) {
    const records = journal.readSince(from, batchSize);
    if (!first && records.length === 0) break;
    const body: PushBody = {
      v: PROTOCOL_VERSION,
      terminalId: link.signer.keyId,
      records,
      status: statusReport(),
    };
    const json = Buffer.from(JSON.stringify(body), 'utf8');
    // A small body (a steady push: a few records and the status) goes as it is: deflating it costs both
    // ends more than the bytes it saves. The hub takes either; the signature covers what is sent.
    const gzip = json.length > PLAIN_PUSH_MAX_BYTES;
    const bytes = gzip ? gzipSync(json) : json;
    const res = await exchange({
      base: link.base,
      method: 'POST',
      target: '/v1/journal',
      body: bytes,
      contentType: 'application/json',
      ...(gzip ? { contentEncoding: 'gzip' } : {}),
      signer: link.signer,
      idleTimeoutMs: link.idleTimeoutMs,
      agent: link.agent,
      ...(link.ca ? { ca: link.ca } : {}),
      ...(link.signal ? { signal: link.signal } : {}),
    });
    if (res.status !== 200) throw await errorFrom(res);
    const replyBytes = await readAll(res.body, 64 * 1024);
    const expect = { nonce: res.nonce, terminalId: link.signer.keyId };
    let reply;
    try {
      reply = journal.openPushReply(replyBytes, expect);
    } catch (error) {
      const unknownKey = error instanceof KioskError && error.detail?.kid !== undefined;
      if (!unknownKey || !refreshTrust) throw error;
      await refreshTrust();
      refreshTrust = undefined;
      reply = journal.openPushReply(replyBytes, expect);
    }
    const lastSent = records.length > 0 ? records[records.length - 1]!.seq : from;
    // The hub acknowledges the highest gap-free sequence it holds; never move past what was sent.
    const acked = Math.min(reply.acked, lastSent);
    if (acked > journal.uploadWatermark()) journal.markUploaded(acked);
    total.sent += records.length;
    total.duplicates += reply.duplicates;
    total.acked = journal.uploadWatermark();
    if (reply.order === 'retire') total.retire = true;
    if (reply.acked < from && !rewound) {
      rewound = true;
      from = reply.acked;
      continue;
    }
    if (records.length < batchSize) break;
    if (acked < lastSent)
      throw new KioskError('SYNC_PROTOCOL', `hub acknowledged ${reply.acked} after ${lastSent} was sent`);
    from = lastSent;
  }
  return total;
}
