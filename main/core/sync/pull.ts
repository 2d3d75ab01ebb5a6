// Pulling one feed from the hub (protocol v2): a request by sequence, answered with a hello, delta
// batches or a snapshot (manifest and rows, staged in a file), and a signed checkpoint that echoes the
// request's nonce. Every batch and manifest is verified by the feed's sink against the pinned hub key
// before it applies anything; the checkpoint is the only thing that moves the data age and the clock skew.
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync, statfsSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { KioskError } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import { FrameType, Hello, ROWS_CHUNK_BYTES, type FeedName } from '../../../protocol/sync.js';
import { frames, parseJsonPayload, type Frame } from '../../../protocol/frames.js';
import { RowsMeter } from '../../../protocol/rows-meter.js';
import type { HubLink } from './link.js';
import type { FeedPosition, FeedSink } from './sinks.js';
import { errorFrom, exchange } from './transport.js';
import { fetchContent } from './content-fetch.js';

const log = getLogger('sync');

/** v1's unsigned `done` frame: a v2 terminal takes only a signed checkpoint as the end of an answer. */
const V1_DONE = 0x06;

export interface PullOptions {
  /** Most batches asked for per request; the client asks again while the checkpoint says `more`. */
  maxBatchesPerRequest: number;
  /** Where snapshot rows are staged while they stream (under the data folder). */
  stagingDir: string;
  /** The whole answer must arrive within this (ms), however steadily bytes trickle in. */
  answerDeadlineMs: number;
  /**
   * Ask for whitelist and revocation content by address (protocol/content.ts): the answer is a signed
   * checkpoint naming immutable pieces, fetched through any HTTP cache and checked against it.
   */
  contentAddressed?: boolean;
  now: () => number;
}

export interface PullResult {
  feed: FeedName;
  /** Hub time of the last verified checkpoint: the data is current as of then (when `more` was false). */
  hubTime: number | null;
  applied: number;
  snapshot: boolean;
  sequence: number;
  /** Requests this pull made. */
  rounds?: number;
}

/** One request; returns the verified checkpoint's `more` and the position it confirmed. */
export async function pullOnce(
  link: HubLink,
  options: PullOptions,
  feed: FeedName,
  sink: FeedSink,
  result: PullResult,
  wait: number,
): Promise<{ more: boolean; position: FeedPosition }> {
  const pos = sink.position();
  let target = `/v1/feeds/${feed}?after=${pos.seq}&max=${options.maxBatchesPerRequest}`;
  if (pos.epoch) target += `&epoch=${encodeURIComponent(pos.epoch)}`;
  if (wait > 0) target += `&wait=${wait}`;
  if (options.contentAddressed && feed !== 'peer-entries') target += '&content=1';
  const res = await exchange({
    base: link.base,
    method: 'GET',
    target,
    signer: link.signer,
    idleTimeoutMs: link.idleTimeoutMs + wait * 1000,
    agent: link.agent,
    ...(link.ca ? { ca: link.ca } : {}),
    ...(link.signal ? { signal: link.signal } : {}),
  });
  // v2: an error body's hubTime is unsigned: it no longer moves the clock skew.
  if (res.status !== 200) throw await errorFrom(res);
  const deadlineMs = options.answerDeadlineMs + wait * 1000;
  const deadline = setTimeout(
    () =>
      res.abort(
        new KioskError(
          'SYNC_LIMIT',
          `${feed}: the answer took longer than ${Math.round(deadlineMs / 1000)} s`,
        ),
      ),
    deadlineMs,
  );
  /** A batch or a snapshot, inline in the answer or inside a content piece. */
  const takeContent = async (f: Frame, more: () => Promise<Frame>): Promise<void> => {
    if (f.type === FrameType.batch) {
      // The store verifies the hub's signature, the feed, epoch and sequence and the content first.
      await sink.applyBatch(f.payload, { epoch: sink.position().epoch });
      result.applied++;
    } else if (f.type === FrameType.manifest) {
      await receiveSnapshot(options.stagingDir, feed, sink, f.payload, more);
      result.snapshot = true;
    } else {
      throw new KioskError('SYNC_PROTOCOL', `unexpected frame type ${f.type}`);
    }
  };
  // Not destroyed by the iterator when the checkpoint ends the reading before the stream has signalled
  // its end (the usual case): that path builds an AbortError with its stack trace per pull. The body is
  // destroyed below either way.
  const it = frames(res.body.iterator({ destroyOnReturn: false }))[Symbol.asyncIterator]();
  const next = async (): Promise<Frame> => {
    const r = await it.next();
    if (r.done)
      throw new KioskError('SYNC_UNREACHABLE', 'answer ended before its checkpoint (connection cut?)');
    return r.value;
  };
  try {
    const first = await next();
    // The hello is unsigned and informational: only its shape and feed are checked, nothing is taken from it.
    const hello = first.type === FrameType.hello ? Hello.safeParse(parseJsonPayload(first.payload)) : null;
    if (!hello?.success || hello.data.feed !== feed) throw new KioskError('SYNC_PROTOCOL', 'bad hello frame');
    for (;;) {
      const f = await next();
      if (f.type === FrameType.checkpoint) {
        // A content-addressed answer: the checkpoint (signature, this request's nonce) is checked first,
        // then each piece it names is fetched, checked against its address and applied in order.
        const byAddress = options.contentAddressed === true && feed !== 'peer-entries';
        const refs = (byAddress ? sink.openCheckpoint?.(f.payload, res.nonce).content : undefined) ?? [];
        for (const ref of refs) {
          const piece = await fetchContent(link, ref, options.stagingDir);
          try {
            const inner = frames(piece.frames())[Symbol.asyncIterator]();
            const nextInner = async (): Promise<Frame> => {
              const r = await inner.next();
              if (r.done) throw new KioskError('SNAPSHOT_INVALID', 'content piece ended early');
              return r.value;
            };
            for (;;) {
              const r = await inner.next();
              if (r.done) break;
              await takeContent(r.value, nextInner);
            }
          } finally {
            piece.dispose();
          }
        }
        const receivedAt = options.now();
        const c = await sink.acceptCheckpoint(f.payload, res.nonce, receivedAt);
        link.noteHubTime(c.hubTime, receivedAt);
        result.hubTime = c.hubTime;
        return { more: c.more, position: sink.position() };
      }
      if (f.type === FrameType.batch || f.type === FrameType.manifest) {
        await takeContent(f, next);
      } else if (f.type === V1_DONE) {
        throw new KioskError(
          'SYNC_CHECKPOINT_INVALID',
          `${feed}: an unsigned end of answer where a signed checkpoint answering this request is required`,
        );
      } else {
        throw new KioskError('SYNC_PROTOCOL', `unexpected frame type ${f.type}`);
      }
    }
  } finally {
    clearTimeout(deadline);
    await it.return?.(undefined).catch(() => undefined);
    res.body.destroy();
  }
}

/** Bytes the staging file and the database built from it need, beyond the rows themselves. */
const STAGING_HEADROOM_BYTES = 64 * 1024 * 1024;

/**
 * Verifies the manifest (signature, feed, no rollback, epoch lineage) before anything is written, checks
 * there is room, streams the rows into a staging file while holding them to the manifest's byte length
 * and row count, then hands manifest + file to the store.
 */
async function receiveSnapshot(
  stagingDir: string,
  feed: FeedName,
  sink: FeedSink,
  manifest: Buffer,
  next: () => Promise<Frame>,
): Promise<void> {
  if (!sink.installSnapshot || !sink.checkManifest)
    throw new KioskError('SYNC_PROTOCOL', `${feed} takes no snapshots`);
  const m = sink.checkManifest(manifest);
  mkdirSync(stagingDir, { recursive: true });
  const fs = statfsSync(stagingDir);
  const free = fs.bavail * fs.bsize;
  // The rows file, then a database of about the same size built from it, both under the data folder.
  const need = 2 * m.rowsBytes + STAGING_HEADROOM_BYTES;
  if (free < need)
    throw new KioskError(
      'STORE_UNAVAILABLE',
      `${feed} snapshot needs ${Math.ceil(need / 2 ** 20)} MiB in ${stagingDir}; ${Math.floor(free / 2 ** 20)} MiB free`,
    );
  const meter = new RowsMeter(m, `${feed} snapshot`);
  const file = join(stagingDir, `snapshot-${feed}-${process.pid}-${randomBytes(4).toString('hex')}.rows`);
  const out = createWriteStream(file, { mode: 0o600 });
  const closed = new Promise<void>((resolve, reject) => {
    out.on('close', resolve);
    out.on('error', reject);
  });
  try {
    for (;;) {
      const f = await next();
      if (f.type === FrameType.rowsEnd) break;
      if (f.type !== FrameType.rows || f.payload.length > ROWS_CHUNK_BYTES)
        throw new KioskError('SNAPSHOT_INVALID', 'snapshot rows expected');
      meter.add(f.payload); // before the write: nothing past the stated size reaches the disk
      if (!out.write(f.payload)) await once(out, 'drain');
    }
    meter.finish();
    out.end();
    await closed;
    await sink.installSnapshot(manifest, file);
    log.info({ feed, seq: sink.position().seq }, 'snapshot installed');
  } finally {
    if (!out.closed) out.destroy();
    await closed.catch(() => undefined);
    rmSync(file, { force: true });
  }
}
