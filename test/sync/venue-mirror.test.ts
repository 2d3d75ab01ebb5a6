// A venue hub's mirror streams each central piece to disk and checks it against the central checkpoint
// before it reads it, and keeps only what its terminals can still be served. Real hubs on loopback, a
// real man in the middle between venue and central hub.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseContentPath } from '../../protocol/content.js';
import { cardRow, cleanup, lookup, tempDir } from './helpers.js';
import { startVenueSite, type VenueSite } from './venue-site.js';

const contentFiles = (site: VenueSite) => readdirSync(join(site.root, 'venue', 'content')).sort();
const namedPieces = (site: VenueSite) =>
  (site.venue.mirror.database.prepare('SELECT sha256 FROM mirror_piece').pluck().all() as string[]).sort();

describe('venue mirror', () => {
  let root: string;
  let site: VenueSite;

  beforeEach(() => {
    root = tempDir('venue-mirror');
  });
  afterEach(async () => {
    await site.close();
    cleanup(root);
  });

  it('keeps the newest snapshot and the batches; an older snapshot and an earlier epoch’s pieces go', async () => {
    // Any pending change makes the central hub answer a snapshot: every mirror round takes a new one.
    site = await startVenueSite(root, { central: { snapshotMinOps: 1 } });
    const rows = Array.from({ length: 30 }, (_, i) => cardRow(i));
    site.central.dir.publisher.publishWhitelist(rows.slice(0, 20), 'first');
    await site.venue.syncUpstream({ mirror: true });
    const first = namedPieces(site);
    expect(first.length).toBeGreaterThan(0);
    expect(contentFiles(site)).toEqual(first);

    const t = site.terminal('gate-a-1', 'gate-a');
    // A rebuild: a new epoch; the mirror follows it and keeps nothing of the old one.
    site.central.dir.store.startEpoch('whitelist');
    site.central.dir.publisher.publishWhitelist(rows, 'rebuilt');
    await site.venue.syncUpstream({ mirror: true });
    const second = namedPieces(site);
    expect(second.some((h) => first.includes(h))).toBe(false);
    expect(contentFiles(site)).toEqual(second);

    expect(await t.client.syncNow()).toMatchObject({ ok: true });
    expect(lookup(t, rows[25]!).card?.subject).toBe('S25');
  });

  it('refuses a piece a man in the middle changed and keeps no file of it; the next clean round mirrors it', async () => {
    site = await startVenueSite(root, { mitm: true });
    site.central.dir.publisher.publishWhitelist([cardRow(1), cardRow(2)], 'two');
    const mitm = site.mitm!;
    let flipped = 0;
    mitm.attack = async (req, upstream) => {
      if (!parseContentPath(req.path)) return null;
      const real = await upstream();
      const body = Buffer.from(real.body);
      body[body.length >> 1]! ^= 0x01;
      flipped++;
      return { contentType: 'application/octet-stream', plain: true, body };
    };
    await expect(site.venue.syncUpstream({ mirror: true })).rejects.toMatchObject({
      code: 'SYNC_CONTENT_INVALID',
    });
    expect(flipped).toBeGreaterThan(0);
    expect(contentFiles(site)).toEqual([]);
    expect(site.venue.mirror.feed('whitelist')).toBeNull();

    mitm.attack = null;
    await site.venue.syncUpstream({ mirror: true });
    expect(site.venue.mirror.feed('whitelist')?.position).toBe(2);
    expect(contentFiles(site)).toEqual(namedPieces(site));
  });
});
