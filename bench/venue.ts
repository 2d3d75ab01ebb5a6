// venue.*: a site whose WAN link is cut. Gate A → venue hub → gate B propagation of an entry on the LAN
// while the central hub is stopped (target ≤ 1 s), beside the same propagation through the central hub
// with the WAN up (same run: the ratio is what to compare across runs on this shared machine); then the
// WAN heals and the venue forwards the journals: rows lost and doubled at the central hub (exactly 0).
// Everything is in process on loopback: two hubs (fastify + SQLite), terminal stores, signed requests.
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { openHubDir, type HubDir } from '../hub/hub-dir.js';
import { createHub, type Hub } from '../hub/server.js';
import { initVenueDir, openVenueHub } from '../hub/venue.js';
import { summarize, type BenchContext, type BenchSuite, type Metrics } from './harness.js';
import { newTerminal, realTerminal, type Terminal } from './sync-setup.js';

const SITE = 'stadium';
const VENUE_ID = 'venue-stadium';

async function listen(hub: Hub, port = 0): Promise<{ url: string; port: number }> {
  await hub.app.listen({ host: '127.0.0.1', port });
  const bound = (hub.app.server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${bound}`, port: bound };
}

function openCentral(dir: string): { dir: HubDir; hub: Hub } {
  const d = openHubDir(dir, { keyStore: 'file' });
  const hub = createHub({
    store: d.store,
    publisher: d.publisher,
    hubId: d.hubId,
    roots: d.keys,
    venues: { siteOf: (id) => d.keys.delegations().find((x) => x.venueId === id)?.site ?? null },
  });
  return { dir: d, hub };
}

function registerAt(dir: HubDir, t: Terminal, gate: string): void {
  dir.store.registerTerminal(
    {
      terminalId: t.id,
      publicKeyPem: t.publicPem,
      siteId: SITE,
      gateId: gate,
      zone: 'main',
      siteKind: 'stadium-gate',
    },
    Date.now(),
  );
}

type Real = ReturnType<typeof realTerminal>;

/** Entries at A until each is inside at B (B long-polls its hub's peer entries); delays in ms. */
async function propagate(a: Real, aId: string, b: Real, prefix: string, rounds: number): Promise<number[]> {
  const delays: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const subject = `${prefix}${i}`;
    const t0 = performance.now();
    a.data.journal.append({
      kind: 'grant',
      terminalId: aId,
      siteId: SITE,
      gateId: 'gate-a',
      direction: 'entry',
      subject,
      outcome: 'admitted',
      reasons: ['ok'],
    });
    a.client.pushSoon(0);
    while (b.data.terminal.presence(subject)?.state !== 'inside') {
      if (performance.now() - t0 > 30_000) throw new Error(`${subject} did not reach gate B in 30 s`);
      await new Promise((r) => setTimeout(r, 2));
    }
    delays.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 30));
  }
  return delays;
}

/** The whole scenario; `rounds` entries per phase. Also run at a smoke size by test/sync/venue-bench.test.ts. */
export async function venueCut(
  rounds: number,
  log: (line: string) => void = () => undefined,
): Promise<Metrics> {
  const root = mkdtempSync(join(tmpdir(), 'jpki-bench-venue-'));
  const opened: Array<() => Promise<void>> = [];
  try {
    let central = openCentral(join(root, 'hub'));
    const c = await listen(central.hub);
    let centralUp = true;
    const venueDir = join(root, 'venue');
    const keys = initVenueDir(venueDir, { keyStore: 'file' }); // one process runs every suite: no second SoftHSM2 configuration
    registerAt(central.dir, { id: VENUE_ID, publicPem: keys.requestPublicPem } as Terminal, 'venue');
    writeFileSync(
      join(venueDir, 'delegation.json'),
      central.dir.keys.delegateVenue({ site: SITE, venueId: VENUE_ID, venueKey: keys.venueKey }),
    );
    copyFileSync(central.dir.rootFile, join(venueDir, 'root.json'));
    const venue = openVenueHub({ dir: venueDir, site: SITE, venueId: VENUE_ID, upstreamUrl: c.url });
    const v = await listen(venue.hub);
    opened.push(() => venue.close());

    const ids = {
      a: newTerminal('gate-a-1'),
      b: newTerminal('gate-b-1'),
      ca: newTerminal('c-gate-a'),
      cb: newTerminal('c-gate-b'),
    };
    registerAt(central.dir, ids.a, 'gate-a');
    registerAt(central.dir, ids.b, 'gate-b');
    registerAt(central.dir, ids.ca, 'gate-a');
    registerAt(central.dir, ids.cb, 'gate-b');
    await venue.syncUpstream({ mirror: true });
    const quiet = {
      pullIntervalMs: 3_600_000,
      pushIntervalMs: 3_600_000,
      contentAddressed: true,
      site: SITE,
    };
    const viaVenue = { ...quiet, hubUrls: [c.url], peerWaitSeconds: 20 };
    const a = realTerminal(root, central.dir, v.url, ids.a, viaVenue);
    const b = realTerminal(root, central.dir, v.url, ids.b, viaVenue);
    const ca = realTerminal(root, central.dir, c.url, ids.ca, { ...quiet, peerWaitSeconds: 20 });
    const cb = realTerminal(root, central.dir, c.url, ids.cb, { ...quiet, peerWaitSeconds: 20 });
    for (const t of [a, b, ca, cb])
      opened.push(async () => {
        await t.client.stop();
        t.data.close();
      });
    for (const t of [a, b, ca, cb]) await t.client.syncNow();

    // Baseline, same run: gate A → central hub → gate B with the WAN up.
    cb.client.start();
    await new Promise((r) => setTimeout(r, 300));
    const central_ = summarize(await propagate(ca, ids.ca.id, cb, 'C', rounds));
    await cb.client.stop();

    // The cut: the central hub stops; gate B long-polls the venue hub.
    await central.hub.close();
    central.dir.close();
    centralUp = false;
    b.client.start();
    await new Promise((r) => setTimeout(r, 300));
    const cut = summarize(await propagate(a, ids.a.id, b, 'V', rounds));
    log(
      `venue: gate A → venue → gate B during the cut p50 ${cut.p50.toFixed(1)} ms, p99 ${cut.p99.toFixed(1)} ms; through the central hub p50 ${central_.p50.toFixed(1)} ms`,
    );

    // The WAN heals: journals reach the central hub; count what arrived.
    central = openCentral(join(root, 'hub'));
    await listen(central.hub, c.port);
    centralUp = true;
    const healStart = performance.now();
    await venue.syncUpstream();
    const healMs = performance.now() - healStart;
    const held = a.data.journal.readSince(0, 1_000_000).length;
    const arrived = central.dir.store.journalCount(ids.a.id);
    await venue.syncUpstream(); // a second round forwards nothing more
    const after = central.dir.store.journalCount(ids.a.id);
    const metrics: Metrics = {
      'venue.cut_propagation_p50_ms': cut.p50,
      'venue.cut_propagation_p99_ms': cut.p99,
      'venue.cut_propagation_max_ms': cut.max,
      'venue.central_propagation_p50_ms': central_.p50,
      'venue.cut_vs_central_p50_ratio': cut.p50 / Math.max(central_.p50, 0.001),
      'venue.heal_forward_ms': healMs,
      'venue.journal_rows_lost': held - Math.min(held, arrived),
      'venue.journal_rows_doubled': after - held,
      'venue.rounds': rounds,
    };
    if (centralUp)
      opened.push(async () => {
        await central.hub.close();
        central.dir.close();
      });
    return metrics;
  } finally {
    for (const close of opened.reverse()) await close().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  }
}

export const run: BenchSuite['run'] = (ctx: BenchContext) => venueCut(ctx.quick ? 10 : 50, ctx.log);
