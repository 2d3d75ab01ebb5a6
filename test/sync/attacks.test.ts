// The sync attack suite (TUF's threat model): a real hub and a real terminal with a man in the
// middle between them (test/sync/mitm.ts, loopback, free ports). For each attack: the typed error, that
// neither store changed, and the data age and alarm the terminal then shows (and the hub, for the alarm).
// Random input is seeded.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FrameType, PROTOCOL_VERSION, frame, jsonFrame } from '../../protocol/sync.js';
import { SNAPSHOT_MAGIC } from '../../protocol/snapshot-rows.js';
import {
  cardRow,
  cleanup,
  freePort,
  journalEntry,
  openTerminal,
  startHub,
  tempDir,
  ISSUER,
  type TestHub,
  type TestTerminal,
} from './helpers.js';
import { joinFrames, splitFrames, startMitm, type Answer, type Forged, type Mitm } from './mitm.js';
import { seededRandom } from '../support/seeded-random.js';

const HOUR = 3_600_000;

describe('sync attacks through a man in the middle', () => {
  let root: string;
  let hub: TestHub;
  let mitm: Mitm;
  let t: TestTerminal;
  /** The terminal's clock runs this far ahead of the real one (requests are still signed in real time). */
  const clock = { offset: 0 };

  const rows = (from: number, to: number, tag = 'v1') =>
    Array.from({ length: to - from }, (_, i) => cardRow(from + i, tag));
  const revocations = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      issuerKeyId: ISSUER,
      serial: (0x10000000 + i).toString(16),
      at: 1_700_000_000,
      reason: 'keyCompromise' as const,
    }));

  beforeEach(async () => {
    root = tempDir('attacks');
    clock.offset = 0;
    // The terminal signs the man in the middle's address as @authority (it believes that is the hub), so
    // the hub is told both names, as an operator names a proxy in front of it.
    const [hubPort, mitmPort] = [await freePort(), await freePort()];
    hub = await startHub(root, hubPort, {
      snapshotMinOps: 10,
      authority: [`127.0.0.1:${hubPort}`, `127.0.0.1:${mitmPort}`],
    });
    hub.dir.publisher.publishWhitelist(rows(0, 300), 'base');
    hub.dir.publisher.publishRevocations(ISSUER, revocations(20), 'crl 1');
    mitm = await startMitm(hub.port, mitmPort);
    t = openTerminal(root, 'gate-1', hub.dir, mitm.url, { now: () => Date.now() + clock.offset });
    const report = await t.client.syncNow();
    expect(report.ok).toBe(true);
    expect(t.client.status().alarm).toBeNull();
  });
  afterEach(async () => {
    await t.close();
    await mitm.close();
    await hub.stop();
    cleanup(root);
  });

  // ---- what "nothing changed" means -------------------------------------------------------------

  function terminalState() {
    return {
      whitelist: { ...t.data.whitelist.feedState(), rows: t.data.whitelist.rowCount() },
      revocations: { ...t.data.revocations.feedState(), rows: t.data.revocations.rowCount() },
      peers: t.data.terminal.peerFeedState(),
      watermark: t.data.journal.uploadWatermark(),
    };
  }
  function hubState() {
    const count = (sql: string) => hub.dir.sqlite!.db.prepare(sql).pluck().get() as number;
    return {
      whitelist: hub.dir.store.feedInfo('whitelist'),
      revocations: hub.dir.store.feedInfo('revocations'),
      batches: count('SELECT count(*) FROM batch'),
      journal: hub.dir.store.journalCount(),
      acked: hub.dir.store.terminal(t.id)?.acked,
    };
  }
  const staged = () => {
    const dir = join(root, t.id, 'staging');
    return existsSync(dir) ? readdirSync(dir) : [];
  };

  /** The whitelist answers recorded so far, newest last. */
  const whitelistAnswers = (): Answer[] =>
    mitm.answers.filter((a) => a.method === 'GET' && a.path.startsWith('/v1/feeds/whitelist'));
  const hasFrame = (a: Answer, type: number) => splitFrames(a.body).some((f) => f.type === type);
  const hello = (feed: string, hubTime = Date.now()) =>
    jsonFrame(FrameType.hello, { v: PROTOCOL_VERSION, hubId: 'mitm', hubTime, feed, epoch: 'x', head: 1 });
  const onWhitelist =
    (forge: (up: () => Promise<Answer>) => Promise<Forged> | Forged) =>
    (req: { method: string; path: string }, up: () => Promise<Answer>) =>
      req.path.startsWith('/v1/feeds/whitelist') ? forge(up) : null;

  /**
   * Runs one attack an hour after the last good sync (terminal clock): the typed refusal, both stores
   * untouched, the data age still counting from the last verified checkpoint, the alarm on the terminal
   * and — after the next honest push — at the hub.
   */
  async function expectRefused(code: string, attempt: () => Promise<unknown>, alarm = true): Promise<void> {
    const before = terminalState();
    const hubBefore = hubState();
    const skewBefore = t.client.status().clockSkewMs;
    clock.offset = HOUR;
    await expect(attempt()).rejects.toMatchObject({ code });
    expect(terminalState()).toEqual(before);
    expect(hubState()).toEqual(hubBefore);
    expect(staged()).toEqual([]);
    const s = t.client.status();
    expect(s.dataAgeSeconds).toBeGreaterThanOrEqual(3599);
    expect(s.dataAgeSeconds).toBeLessThan(3700);
    expect(s.clockSkewMs).toBe(skewBefore);
    if (!alarm) {
      expect(s.alarm).toBeNull();
      return;
    }
    expect(s.alarm).toMatchObject({ code });
    mitm.attack = null;
    await t.client.push();
    const model = (await (await fetch(`${hub.url}/status.json`)).json()) as {
      terminals: Array<{ terminalId: string; alarm: { code: string } | null }>;
    };
    expect(model.terminals.find((x) => x.terminalId === t.id)?.alarm).toMatchObject({ code });
  }

  // ---- rollback ----------------------------------------------------------------------------------

  it('an old snapshot replayed in the same epoch: SYNC_ROLLBACK before a row is staged', async () => {
    const oldSnapshot = whitelistAnswers().find((a) => hasFrame(a, FrameType.manifest))!;
    expect(oldSnapshot).toBeDefined();
    hub.dir.publisher.publishWhitelist(rows(0, 305), 'more');
    await t.client.pull('whitelist');
    expect(t.data.whitelist.feedState().seq).toBe(305);
    mitm.attack = onWhitelist(() => ({ body: oldSnapshot.body }));
    await expectRefused('SYNC_ROLLBACK', () => t.client.pull('whitelist'));
  });

  it('an old snapshot of an old epoch replayed: SYNC_ROLLBACK (not signed as a successor)', async () => {
    const oldSnapshot = whitelistAnswers().find((a) => hasFrame(a, FrameType.manifest))!;
    const oldEpoch = t.data.whitelist.feedState().epoch;
    const newEpoch = hub.dir.store.startEpoch('whitelist');
    hub.dir.publisher.publishWhitelist(rows(0, 302), 'rebuilt');
    await t.client.pull('whitelist');
    // The honest move to the new epoch is accepted: its manifest names the old one in its lineage.
    expect(t.data.whitelist.feedState()).toMatchObject({ epoch: newEpoch, seq: 302 });
    expect(newEpoch).not.toBe(oldEpoch);
    mitm.attack = onWhitelist(() => ({ body: oldSnapshot.body }));
    await expectRefused('SYNC_ROLLBACK', () => t.client.pull('whitelist'));
  });

  it('an old delta replayed: SYNC_ROLLBACK', async () => {
    hub.dir.publisher.publishWhitelist(rows(0, 301), 'one more');
    await t.client.pull('whitelist');
    const oldDelta = whitelistAnswers().at(-1)!;
    expect(hasFrame(oldDelta, FrameType.batch)).toBe(true);
    hub.dir.publisher.publishWhitelist(rows(0, 302), 'and another');
    await t.client.pull('whitelist');
    mitm.attack = onWhitelist(() => ({ body: oldDelta.body }));
    await expectRefused('SYNC_ROLLBACK', () => t.client.pull('whitelist'));
  });

  // ---- freeze ------------------------------------------------------------------------------------

  it('a freeze with fresh-looking unsigned frames: SYNC_CHECKPOINT_INVALID, data age keeps counting', async () => {
    // v1's answer: hello(hubTime = now) + done. Nothing signed, nothing bound to the request.
    mitm.attack = onWhitelist(() => ({
      body: Buffer.concat([hello('whitelist'), jsonFrame(0x06, { head: 300, more: false })]),
    }));
    await expectRefused('SYNC_CHECKPOINT_INVALID', () => t.client.pull('whitelist'));
    // A checkpoint frame with a made-up signature under the real key id.
    const real = splitFrames(whitelistAnswers().at(-1)!.body).find((f) => f.type === FrameType.checkpoint)!;
    const nl = real.payload.indexOf(0x0a);
    const header = JSON.parse(real.payload.subarray(0, nl).toString()) as { kid: string };
    const payload = JSON.parse(real.payload.subarray(nl + 1).toString()) as Record<string, unknown>;
    const forged = Buffer.concat([
      Buffer.from(JSON.stringify({ kid: header.kid, sig: Buffer.alloc(64, 1).toString('base64') }) + '\n'),
      Buffer.from(
        JSON.stringify({ ...payload, hubTime: Date.now() + HOUR, nonce: 'AAAAAAAAAAAAAAAAAAAAAA' }),
      ),
    ]);
    clock.offset = 0;
    mitm.attack = onWhitelist(() => ({
      body: Buffer.concat([hello('whitelist'), frame(FrameType.checkpoint, forged)]),
    }));
    await expectRefused('SYNC_CHECKPOINT_INVALID', () => t.client.pull('whitelist'));
  });

  it('a freeze by a replayed old checkpoint: SYNC_CHECKPOINT_INVALID (answers another request)', async () => {
    await t.client.pull('whitelist'); // nothing new: hello + checkpoint only
    const old = whitelistAnswers().at(-1)!;
    expect(splitFrames(old.body).map((f) => f.type)).toEqual([FrameType.hello, FrameType.checkpoint]);
    mitm.attack = onWhitelist(() => ({ body: old.body }));
    await expectRefused('SYNC_CHECKPOINT_INVALID', () => t.client.pull('whitelist'));
  });

  it('a far-future and a far-past hub time move neither the clock skew nor the data age', async () => {
    for (const hubTime of [Date.now() + 10 * 365 * 24 * HOUR, 0]) {
      // In the hello of a real answer: ignored (only the signed checkpoint states the hub's time).
      mitm.attack = onWhitelist(async (up) => {
        const frames = splitFrames((await up()).body);
        frames[0] = { type: FrameType.hello, payload: hello('whitelist', hubTime).subarray(5) };
        return { body: joinFrames(frames) };
      });
      clock.offset = 0;
      await t.client.pull('whitelist');
      let s = t.client.status();
      expect(Math.abs(s.clockSkewMs!)).toBeLessThan(5_000);
      expect(s.clockFault).toBe(false);
      expect(s.dataAgeSeconds!).toBeLessThan(5);
      // In a forged refusal: the error is reported, the time it claims is not taken.
      mitm.attack = onWhitelist(() => ({
        status: 401,
        plain: true,
        contentType: 'application/json',
        body: Buffer.from(JSON.stringify({ error: { code: 'CLOCK_FAULT', message: 'forged' }, hubTime })),
      }));
      await expectRefused('CLOCK_FAULT', () => t.client.pull('whitelist'), false);
      s = t.client.status();
      expect(s.clockFault).toBe(false);
    }
  });

  // ---- push --------------------------------------------------------------------------------------

  it('a forged push reply and a replayed signed one: SYNC_REPLY_INVALID, the watermark stays', async () => {
    journalEntry(t, 'S1');
    mitm.attack = (req) =>
      req.method === 'POST'
        ? {
            plain: true,
            contentType: 'application/json',
            body: Buffer.from(
              JSON.stringify({ v: 2, hubTime: Date.now(), acked: 1, accepted: 1, duplicates: 0 }),
            ),
          }
        : null;
    await expectRefused('SYNC_REPLY_INVALID', () => t.client.push());
    expect(t.data.journal.uploadWatermark()).toBe(1); // the honest push after the attack delivered it
    const signedReply = mitm.answers.filter((a) => a.method === 'POST').at(-1)!;
    journalEntry(t, 'S2');
    clock.offset = 0;
    await t.client.pull('whitelist'); // data age back to 0 before the next attack
    mitm.attack = (req) =>
      req.method === 'POST'
        ? { plain: true, contentType: String(signedReply.headers['content-type']), body: signedReply.body }
        : null;
    await expectRefused('SYNC_REPLY_INVALID', () => t.client.push());
    expect(hub.dir.store.journalCount(t.id)).toBe(2);
  });

  // ---- endless data ------------------------------------------------------------------------------

  it('endless rows after a valid manifest: SYNC_LIMIT at the stated size, nothing left staged', async () => {
    hub.dir.publisher.publishWhitelist(rows(0, 400), 'grown');
    const snap = await hub.dir.publisher.snapshotFile('whitelist');
    const manifest = splitFrames(gunzipSync(readFileSync(snap.file))).find(
      (f) => f.type === FrameType.manifest,
    )!;
    const random = seededRandom(13);
    let sent = 0;
    async function* endless() {
      yield Buffer.concat([hello('whitelist'), frame(FrameType.manifest, manifest.payload)]);
      yield frame(FrameType.rows, SNAPSHOT_MAGIC);
      for (;;) {
        // Well-formed rows (16-byte key, 5-byte value), 2,849 of them per frame, for ever.
        const chunk = Buffer.alloc(23 * 2849);
        for (let r = 0; r < chunk.length; r += 23) {
          chunk[r] = 16;
          for (let i = 1; i < 17; i++) chunk[r + i] = Math.floor(random() * 256);
          chunk[r + 17] = 5;
        }
        sent += chunk.length;
        yield frame(FrameType.rows, chunk);
        await new Promise((r) => setImmediate(r));
      }
    }
    mitm.attack = onWhitelist(() => ({ body: Readable.from(endless()) }));
    await expectRefused('SYNC_LIMIT', () => t.client.pull('whitelist'));
    expect(sent).toBeLessThan(64 * 2 ** 20);
  });

  // ---- mix and match -----------------------------------------------------------------------------

  it('a batch or manifest of another feed or epoch: SYNC_MIX_AND_MATCH', async () => {
    const revBatch = gunzipSync(hub.dir.store.batchesAfter('revocations', 0, 1)[0]!.frameGz);
    mitm.attack = onWhitelist(() => ({ body: Buffer.concat([hello('whitelist'), revBatch]) }));
    await expectRefused('SYNC_MIX_AND_MATCH', () => t.client.pull('whitelist'));

    const revSnap = await hub.dir.publisher.snapshotFile('revocations');
    const revManifest = splitFrames(gunzipSync(readFileSync(revSnap.file)))[0]!;
    expect(revManifest.type).toBe(FrameType.manifest);
    clock.offset = 0;
    mitm.attack = onWhitelist(() => ({
      body: Buffer.concat([hello('whitelist'), joinFrames([revManifest])]),
    }));
    await expectRefused('SYNC_MIX_AND_MATCH', () => t.client.pull('whitelist'));

    // A batch of the hub's next epoch, to a terminal still on the current one.
    hub.dir.store.startEpoch('whitelist');
    hub.dir.publisher.publishWhitelist(rows(0, 301), 'next epoch');
    const nextEpochBatch = gunzipSync(hub.dir.store.batchesAfter('whitelist', 0, 1)[0]!.frameGz);
    clock.offset = 0;
    mitm.attack = onWhitelist(() => ({ body: Buffer.concat([hello('whitelist'), nextEpochBatch]) }));
    await expectRefused('SYNC_MIX_AND_MATCH', () => t.client.pull('whitelist'));
  });

  it('a checkpoint past its expiry leaves the data stale, whatever its age (offline, or frozen out)', async () => {
    const trusted = t.data.revocations.feedState().checkpoint!;
    expect(trusted.expires - trusted.hubTime).toBe(48 * HOUR);
    clock.offset = 47 * HOUR;
    expect(t.client.status().dataAgeSeconds).toBeGreaterThan(47 * 3600 - 5);
    clock.offset = 49 * HOUR;
    const now = Date.now() + clock.offset;
    expect(t.data.freshness(now).revocations).toMatchObject({ dataAgeMs: null, checkpointExpired: true });
    expect(t.client.status().dataAgeSeconds).toBeNull();
  });

  // ---- a cut -------------------------------------------------------------------------------------

  it('a cut mid-checkpoint keeps whole batches, moves no freshness, raises no alarm; the next pull completes', async () => {
    hub.dir.publisher.publishWhitelist(rows(0, 303), 'three more');
    const trusted = t.data.whitelist.feedState().checkpoint;
    mitm.attack = onWhitelist(async (up) => {
      const a = await up();
      return { body: a.body, cutAfter: a.body.length - 40 };
    });
    clock.offset = HOUR;
    await expect(t.client.pull('whitelist')).rejects.toMatchObject({ code: 'SYNC_UNREACHABLE' });
    const s = t.data.whitelist.feedState();
    expect(s.seq).toBe(303); // the whole batch before the cut
    expect(s.checkpoint).toEqual(trusted);
    expect(t.client.status().dataAgeSeconds).toBeGreaterThanOrEqual(3599);
    expect(t.client.status().alarm).toBeNull();
    mitm.attack = null;
    clock.offset = 0;
    await t.client.pull('whitelist');
    expect(t.data.whitelist.feedState().checkpoint).toMatchObject({ position: 303, head: 303 });
    expect(t.client.status().dataAgeSeconds!).toBeLessThan(5);
  });
});
