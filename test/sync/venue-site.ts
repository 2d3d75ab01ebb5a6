// A site with a venue hub: a central hub (SQLite, loopback), a venue hub in its relay role delegated for
// the site by the central root, and terminals that prefer the venue hub and fail over to the central one.
// Shared by test/sync/venue.test.ts and the venue benchmark.
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { initVenueDir, openVenueHub, type VenueHub } from '../../hub/venue.js';
import { freePort, openTerminal, register, startHub, type TestHub, type TestTerminal } from './helpers.js';
import { startMitm, type Mitm } from './mitm.js';
import type { HubOptions } from '../../hub/server.js';
import type { SyncClientOptions } from '../../main/core/sync/client.js';

export const SITE = 'site-1';
export const VENUE_ID = 'venue-site-1';

export interface VenueSite {
  root: string;
  central: TestHub;
  centralPort: number;
  venue: VenueHub;
  venueUrl: string;
  /** The man in the middle between venue and central hub, when asked for. */
  mitm: Mitm | null;
  /** A terminal of the site registered at the central hub, hubs [venue, central]. */
  terminal(id: string, gate: string, options?: Partial<SyncClientOptions>): TestTerminal;
  /** Stops the central hub (the WAN is cut); its folder stays. */
  cutWan(): Promise<void>;
  /** Starts the central hub again on the same port and folder. */
  healWan(): Promise<void>;
  close(): Promise<void>;
}

export async function startVenueSite(
  root: string,
  o: {
    intervalMs?: number;
    mirrorEveryMs?: number;
    start?: boolean;
    /** The venue reaches the central hub through a man in the middle (`site.mitm`), not directly. */
    mitm?: boolean;
    /** Options of the central hub (e.g. when it sends a snapshot rather than batches). */
    central?: Partial<HubOptions>;
  } = {},
): Promise<VenueSite> {
  // Through a man in the middle the venue signs the proxy's address as @authority (it believes that is
  // the central hub), so the central hub is told both names.
  const ports = o.mitm ? [await freePort(), await freePort()] : null;
  const centralOptions = {
    ...o.central,
    ...(ports ? { authority: ports.map((p) => `127.0.0.1:${p}`) } : {}),
  };
  let central = await startHub(root, ports?.[0] ?? 0, centralOptions);
  const centralPort = central.port;
  const mitm = ports ? await startMitm(centralPort, ports[1]) : null;
  const venueDir = join(root, 'venue');
  // Key files: a test file starts several venues, and SoftHSM2 reads one configuration per process.
  const keys = initVenueDir(venueDir, { keyStore: 'file' });
  register(central.dir, VENUE_ID, keys.requestPublicPem, SITE, 'venue', 'stadium-gate');
  const delegation = central.dir.keys.delegateVenue({
    site: SITE,
    venueId: VENUE_ID,
    venueKey: keys.venueKey,
  });
  writeFileSync(join(venueDir, 'delegation.json'), delegation);
  copyFileSync(central.dir.rootFile, join(venueDir, 'root.json'));
  const venue = openVenueHub({
    dir: venueDir,
    site: SITE,
    venueId: VENUE_ID,
    upstreamUrl: mitm?.url ?? central.url,
    intervalMs: o.intervalMs ?? 200,
    mirrorEveryMs: o.mirrorEveryMs ?? 500,
  });
  await venue.hub.app.listen({ host: '127.0.0.1', port: 0 });
  const venueUrl = `http://127.0.0.1:${(venue.hub.app.server.address() as { port: number }).port}`;
  const terminals: TestTerminal[] = [];
  let centralUp = true;
  return {
    root,
    get central() {
      return central;
    },
    centralPort,
    mitm,
    venue,
    venueUrl,
    terminal(id, gate, options = {}) {
      const t = openTerminal(root, id, central.dir, venueUrl, {
        register: false,
        hubUrls: [central.url],
        contentAddressed: true,
        ...options,
        site: options.site ?? SITE,
      });
      register(central.dir, id, t.publicPem, options.site ?? SITE, gate, 'stadium-gate');
      terminals.push(t);
      return t;
    },
    async cutWan() {
      await central.stop();
      centralUp = false;
    },
    async healWan() {
      central = await startHub(root, centralPort, centralOptions);
      centralUp = true;
    },
    async close() {
      for (const t of terminals.splice(0)) await t.close().catch(() => undefined);
      await venue.close();
      if (centralUp) await central.stop();
      await mitm?.close();
    },
  } as VenueSite;
}
