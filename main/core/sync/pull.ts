// Pulling one feed from the hub: a request by sequence, answered with a hello, delta batches or a
// snapshot (manifest and rows, staged in a file), and done. Every batch is verified by the feed's sink
// against the pinned hub key before it applies anything.
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { KioskError } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import { Done, FrameType, Hello, ROWS_CHUNK_BYTES, type FeedName } from '../../../protocol/sync.js';
import { frames, parseJsonPayload, type Frame } from '../../../protocol/frames.js';
import type { HubLink } from './link.js';
import type { FeedSink } from './sinks.js';
import { errorFrom, exchange } from './transport.js';

const log = getLogger('sync');

export interface PullOptions {
  /** Most batches asked for per request; the client asks again while the hub says `more`. */
  maxBatchesPerRequest: number;
  /** Where snapshot rows are staged while they stream. */
  stagingDir: string;
}

export interface PullResult {
  feed: FeedName;
  /** Hub time of the last answer: the data is current as of then. */
  hubTime: number | null;
  applied: number;
  snapshot: boolean;
  sequence: number;
}

/** One request; returns true when the hub has more batches to give. */
export async function pullOnce(
  link: HubLink,
  options: PullOptions,
  feed: FeedName,
  sink: FeedSink,
  result: PullResult,
  wait: number,
): Promise<boolean> {
  const pos = sink.position();
  let target = `/v1/feeds/${feed}?after=${pos.seq}&max=${options.maxBatchesPerRequest}`;
  if (pos.epoch) target += `&epoch=${encodeURIComponent(pos.epoch)}`;
  if (wait > 0) target += `&wait=${wait}`;
  const res = await exchange({
    base: link.base,
    method: 'GET',
    target,
    signer: link.signer,
    idleTimeoutMs: link.idleTimeoutMs + wait * 1000,
    agent: link.agent,
    ...(link.ca ? { ca: link.ca } : {}),
  });
  if (res.status !== 200) {
    const err = await errorFrom(res);
    if (typeof err.detail?.hubTime === 'number') link.noteHubTime(err.detail.hubTime);
    throw err;
  }
  const it = frames(res.body)[Symbol.asyncIterator]();
  const next = async (): Promise<Frame> => {
    const r = await it.next();
    if (r.done) throw new KioskError('SYNC_UNREACHABLE', 'answer ended early (connection cut?)');
    return r.value;
  };
  try {
    const first = await next();
    const hello = first.type === FrameType.hello ? Hello.safeParse(parseJsonPayload(first.payload)) : null;
    if (!hello?.success || hello.data.feed !== feed) throw new KioskError('SYNC_PROTOCOL', 'bad hello frame');
    link.noteHubTime(hello.data.hubTime);
    result.hubTime = hello.data.hubTime;
    for (;;) {
      const f = await next();
      if (f.type === FrameType.done) {
        const done = Done.safeParse(parseJsonPayload(f.payload));
        if (!done.success) throw new KioskError('SYNC_PROTOCOL', 'bad done frame');
        return done.data.more;
      }
      if (f.type === FrameType.batch) {
        // The store verifies the hub's signature, the sequence and the content before it applies.
        await sink.applyBatch(f.payload);
        result.applied++;
      } else if (f.type === FrameType.manifest) {
        await receiveSnapshot(options.stagingDir, feed, sink, f.payload, next);
        result.snapshot = true;
      } else {
        throw new KioskError('SYNC_PROTOCOL', `unexpected frame type ${f.type}`);
      }
    }
  } finally {
    await it.return?.(undefined);
    res.body.destroy();
  }
}

/** Streams the rows into a staging file (bounded memory), then hands manifest + file to the store. */
async function receiveSnapshot(
  stagingDir: string,
  feed: FeedName,
  sink: FeedSink,
  manifest: Buffer,
  next: () => Promise<Frame>,
): Promise<void> {
  if (!sink.installSnapshot) throw new KioskError('SYNC_PROTOCOL', `${feed} takes no snapshots`);
  mkdirSync(stagingDir, { recursive: true });
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
      if (!out.write(f.payload)) await once(out, 'drain');
    }
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
