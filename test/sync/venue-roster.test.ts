// A venue hub admits its site's terminals by the roster the central hub gives it. The roster is signed by
// the central publisher and bound to the venue's request, and the venue follows what the operator does at
// the central hub: a rotated key, a disabled terminal. Real hubs on loopback, a real man in the middle.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { softwareSigner } from '../../protocol/http-signature.js';
import { cardRow, cleanup, journalEntry, newTerminalKey, openTerminal, tempDir } from './helpers.js';
import { SITE, startVenueSite, type VenueSite } from './venue-site.js';

describe('venue roster', () => {
  let root: string;
  let site: VenueSite;

  beforeEach(async () => {
    root = tempDir('venue-roster');
  });
  afterEach(async () => {
    await site.close();
    cleanup(root);
  });

  /** A terminal of the site that talks to the venue hub only (no failover to the central hub). */
  const venueOnly = (id: string, gate: string) => site.terminal(id, gate, { hubUrls: [] });

  it('follows a key rotated at the central hub: the old key is refused at the venue, the new one served, and mirroring goes on', async () => {
    site = await startVenueSite(root);
    site.central.dir.publisher.publishWhitelist([cardRow(1)], 'one');
    const a = venueOnly('gate-a-1', 'gate-a');
    await site.venue.syncUpstream({ mirror: true });
    journalEntry(a, 'R1');
    expect((await a.client.push()).acked).toBe(1);

    const rotated = newTerminalKey();
    site.central.dir.store.replaceTerminalKey('gate-a-1', rotated.publicPem, Date.now());
    site.central.dir.publisher.publishWhitelist([cardRow(1), cardRow(2)], 'two');
    // The round that learns of the rotation still mirrors the new whitelist.
    await site.venue.syncUpstream({ mirror: true });
    expect(site.venue.mirror.feed('whitelist')?.position).toBe(
      site.central.dir.store.feedInfo('whitelist').head,
    );
    expect(site.venue.store.terminal('gate-a-1')?.publicKeyPem).toBe(rotated.publicPem);

    journalEntry(a, 'R2');
    await expect(a.client.push()).rejects.toMatchObject({ code: 'SYNC_REFUSED' });
    // The same terminal, its data kept, now signing with the rotated key.
    await a.close();
    const renewed = openTerminal(root, 'gate-a-1', site.central.dir, site.venueUrl, {
      register: false,
      hubUrls: [],
      contentAddressed: true,
      site: SITE,
      signer: softwareSigner('gate-a-1', rotated.key),
    });
    try {
      const report = await renewed.client.syncNow();
      expect(report).toMatchObject({ ok: true });
      expect(renewed.data.journal.pendingUpload()).toBe(0);
      expect(site.venue.store.journalCount('gate-a-1')).toBe(2);
    } finally {
      await renewed.close();
    }
  });

  it('follows the operator’s disable and enable at the central hub', async () => {
    site = await startVenueSite(root);
    const a = venueOnly('gate-a-1', 'gate-a');
    await site.venue.syncUpstream({ mirror: true });
    site.central.dir.store.setTerminalState('gate-a-1', 'disabled', 'stolen', Date.now());
    await site.venue.syncUpstream();
    journalEntry(a, 'D1');
    await expect(a.client.push()).rejects.toMatchObject({ code: 'TERMINAL_DISABLED' });
    site.central.dir.store.setTerminalState('gate-a-1', 'active', null, Date.now());
    await site.venue.syncUpstream();
    expect((await a.client.push()).acked).toBe(1);
  });

  it('refuses a roster a man in the middle rewrote or replayed, and admits no terminal from it', async () => {
    site = await startVenueSite(root, { mitm: true });
    const mitm = site.mitm!;
    venueOnly('gate-a-1', 'gate-a');
    await site.venue.syncUpstream({ mirror: true });
    expect(site.venue.store.terminal('gate-a-1')).not.toBeNull();
    const genuine = mitm.answers.find((a) => a.path === '/v1/venue/terminals');
    expect(genuine?.status).toBe(200);

    // An attacker's own terminal key slipped into the list the venue admits by.
    const intruder = newTerminalKey();
    mitm.attack = async (req, upstream) => {
      if (req.path !== '/v1/venue/terminals') return null;
      const real = await upstream();
      const text = real.body.toString('utf8');
      const nl = text.indexOf('\n');
      const payload = JSON.parse(text.slice(nl + 1)) as { terminals: Array<Record<string, unknown>> };
      payload.terminals.push({
        ...payload.terminals[0],
        terminalId: 'intruder',
        publicKeyPem: intruder.publicPem,
      });
      return {
        contentType: 'application/octet-stream',
        plain: true,
        body: Buffer.from(text.slice(0, nl + 1) + JSON.stringify(payload)),
      };
    };
    await expect(site.venue.syncUpstream()).rejects.toMatchObject({ code: 'SYNC_REPLY_INVALID' });
    expect(site.venue.store.terminal('intruder')).toBeNull();

    // The genuine roster of an earlier request, replayed after the operator disabled gate-a-1.
    site.central.dir.store.setTerminalState('gate-a-1', 'disabled', 'stolen', Date.now());
    mitm.attack = async (req) =>
      req.path === '/v1/venue/terminals'
        ? { contentType: 'application/octet-stream', plain: true, body: genuine!.body }
        : null;
    await expect(site.venue.syncUpstream()).rejects.toMatchObject({ code: 'SYNC_REPLY_INVALID' });
    mitm.attack = null;
    await site.venue.syncUpstream();
    expect(site.venue.store.terminal('gate-a-1')?.state).toBe('disabled');
  });
});
