// Sync v2 bounds a pull: at most maxRoundsPerPull requests, and an answer that says `more` must have moved
// the feed. A checkpoint is signed, so only a broken or hostile hub can say `more` for ever; the sinks here
// stand in for a store that accepted whatever that hub signed.
import http from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SyncClient } from '../../main/core/sync/client.js';
import type { FeedPosition, FeedSink } from '../../main/core/sync/sinks.js';
import { FrameType, MEDIA_TYPE, PROTOCOL_VERSION, frame, jsonFrame } from '../../protocol/sync.js';
import { ZERO_DIGEST } from '../../protocol/checkpoint.js';
import { cleanup, newTerminalKey, tempDir } from './helpers.js';
import { softwareSigner } from '../../protocol/http-signature.js';

function sink(advance: boolean): FeedSink & { calls: number } {
  let pos: FeedPosition = { seq: 0, epoch: 'e1' };
  const s = {
    feed: 'whitelist' as const,
    calls: 0,
    position: () => pos,
    applyBatch: () => pos,
    freshness: () => ({ lastSyncAt: null, dataAgeMs: null }),
    acceptCheckpoint: () => {
      s.calls++;
      if (advance) pos = { seq: pos.seq + 1, epoch: 'e1' };
      return {
        epoch: 'e1',
        scope: null,
        head: 1_000_000,
        position: pos.seq,
        digest: ZERO_DIGEST,
        hubTime: Date.now(),
        expires: Date.now() + 3_600_000,
        more: true,
      };
    },
    checkpoint: () => null,
  };
  return s;
}

describe('a pull is bounded in rounds and must make progress', () => {
  let server: http.Server;
  let url: string;
  let root: string;
  let requests = 0;

  beforeEach(async () => {
    root = tempDir('rounds');
    requests = 0;
    server = http.createServer((_req, res) => {
      requests++;
      res.writeHead(200, { 'content-type': MEDIA_TYPE, 'content-encoding': 'gzip' });
      const hello = {
        v: PROTOCOL_VERSION,
        hubId: 'h',
        hubTime: Date.now(),
        feed: 'whitelist',
        epoch: 'e1',
        head: 1,
      };
      res.end(
        gzipSync(
          Buffer.concat([jsonFrame(FrameType.hello, hello), frame(FrameType.checkpoint, Buffer.from('x'))]),
        ),
      );
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterEach(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    cleanup(root);
  });

  const client = (s: FeedSink) =>
    new SyncClient({
      hubUrl: url,
      signer: softwareSigner('t', newTerminalKey().key),
      sinks: { whitelist: s },
      stagingDir: root,
      maxRoundsPerPull: 5,
    });

  it('"more" without progress is refused after one round (SYNC_LIMIT, alarm)', async () => {
    const s = sink(false);
    const c = client(s);
    try {
      await expect(c.pull('whitelist')).rejects.toMatchObject({ code: 'SYNC_LIMIT' });
      expect(requests).toBe(1);
      expect(c.status().alarm).toMatchObject({ code: 'SYNC_LIMIT' });
    } finally {
      await c.stop();
    }
  });

  it('"more" for ever with progress stops at the round limit; the next pull continues', async () => {
    const s = sink(true);
    const c = client(s);
    try {
      const r = await c.pull('whitelist');
      expect(r.rounds).toBe(5);
      expect(requests).toBe(5);
      expect(c.status().alarm).toBeNull();
    } finally {
      await c.stop();
    }
  });
});
