// Shared set-up for the sync and hub tests: a real hub (SQLite, fastify on a loopback port the test
// picks), real terminal stores (KioskData on SQLite files), software or HSM signers.
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHub, type Hub, type HubOptions } from '../../hub/server.js';
import { openHubDir, type HubDir } from '../../hub/hub-dir.js';
import type { HubKeyStore } from '../../hub/hub-keys.js';
import { SyncClient, type SyncClientOptions } from '../../main/core/sync/client.js';
import { softwareSigner, type RequestSigner } from '../../protocol/http-signature.js';
import { kioskDataJournal, kioskDataRoots, kioskDataSinks } from '../../main/core/sync/kiosk-data-sinks.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { type CardRowInput } from '../../whitelist/feed-ops.js';
import { IndexKey } from '../../whitelist/privacy.js';

export const ISSUER = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

export function tempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `jpki-sync-${label}-`));
}

export function cardRow(i: number, tag = 'v1'): CardRowInput {
  return {
    issuerKeyId: ISSUER,
    serial: (0x10000000 + i).toString(16),
    spkiSha256: createHash('sha256').update(`spki ${i}`).digest('hex'),
    record: { subject: `S${i}`, entitlements: [{ kind: 'member', memberId: `m${i}-${tag}` }] },
  };
}

/** A card row as one line of a whitelist NDJSON file (`hub import-whitelist`). */
export function ndjsonLine(r: CardRowInput): string {
  return JSON.stringify({
    issuerKeyId: r.issuerKeyId,
    serial: r.serial,
    spkiSha256: r.spkiSha256,
    subject: r.record.subject,
    entitlements: r.record.entitlements,
  });
}

export interface TestHub {
  dir: HubDir;
  hub: Hub;
  port: number;
  url: string;
  stop(): Promise<void>;
}

export async function startHub(
  root: string,
  port: number,
  options: Partial<HubOptions> & {
    indexKeyFile?: string;
    keyStore?: HubKeyStore;
    /** Called before the hub listens (fastify takes hooks only then), e.g. to count requests. */
    beforeListen?: (hub: Hub) => void;
  } = {},
): Promise<TestHub> {
  // A fresh hub folder keeps its keys in files here unless a test asks for its SoftHSM2 token: SoftHSM2
  // reads one configuration per process, and several suites run a terminal token or two hubs in one file.
  // An existing folder keeps what it was created with (keys.json).
  const { indexKeyFile, keyStore, beforeListen, ...hubOptions } = options;
  const dir = openHubDir(join(root, 'hub'), {
    indexKeyFile: indexKeyFile ?? null,
    keyStore: keyStore ?? 'file',
  });
  const hub = createHub({
    store: dir.store,
    publisher: dir.publisher,
    hubId: dir.hubId,
    roots: dir.keys,
    venues: { siteOf: (id) => dir.keys.delegations().find((d) => d.venueId === id)?.site ?? null },
    ...hubOptions,
  });
  beforeListen?.(hub);
  await hub.app.listen({ host: '127.0.0.1', port });
  // Port 0: the system picks a free one (the attack suite runs beside other suites on one machine).
  const bound = (hub.app.server.address() as { port: number }).port;
  return {
    dir,
    hub,
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    stop: async () => {
      await hub.close();
      dir.close();
    },
  };
}

export interface TestTerminal {
  id: string;
  key: KeyObject;
  publicPem: string;
  signer: RequestSigner;
  data: KioskData;
  client: SyncClient;
  close(): Promise<void>;
}

export function newTerminalKey(): { key: KeyObject; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { key: privateKey, publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string };
}

export function register(
  hubDir: HubDir,
  id: string,
  publicPem: string,
  site = 'site-1',
  gate = 'gate-a',
  kind = 'stadium-gate',
): void {
  hubDir.store.registerTerminal(
    { terminalId: id, publicKeyPem: publicPem, siteId: site, gateId: gate, zone: 'main', siteKind: kind },
    Date.now(),
  );
}

export function openTerminal(
  root: string,
  id: string,
  hubDir: HubDir,
  hubUrl: string,
  options: Partial<SyncClientOptions> & {
    register?: boolean;
    /** The root of trust the terminal pins (default: the hub's current root.json). */
    pinnedRoot?: Buffer;
    site?: string;
  } = {},
): TestTerminal {
  const { key, publicPem } = newTerminalKey();
  if (options.register !== false) register(hubDir, id, publicPem, options.site);
  const indexKey = IndexKey.fromSecret(readFileSync(hubDir.indexKeyFile, 'utf8'));
  const data = KioskData.open({
    dir: join(root, id),
    indexKey,
    root: options.pinnedRoot ?? readFileSync(hubDir.rootFile),
  });
  const signer = options.signer ?? softwareSigner(id, key);
  const client = new SyncClient({
    hubUrl,
    signer,
    sinks: kioskDataSinks(data),
    journal: kioskDataJournal(data),
    roots: kioskDataRoots(data),
    stagingDir: join(root, id, 'staging'),
    idleTimeoutMs: 20_000,
    ...options,
  });
  return {
    id,
    key,
    publicPem,
    signer,
    data,
    client,
    close: async () => {
      await client.stop();
      data.close();
    },
  };
}

export function lookup(t: TestTerminal, row: CardRowInput) {
  return t.data.lookup({ issuerKeyId: row.issuerKeyId, serial: row.serial, spkiSha256: row.spkiSha256 });
}

export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Appends a granted entry (and its passage) to a terminal's journal. */
export function journalEntry(
  t: TestTerminal,
  subject: string,
  direction: 'entry' | 'exit' = 'entry',
  gateId = 'gate-a',
): number {
  const grant = t.data.journal.append({
    kind: 'grant',
    terminalId: t.id,
    siteId: 'site-1',
    gateId,
    direction,
    subject,
    outcome: 'admitted',
    reasons: ['ok'],
  });
  return grant.seq;
}

/** A loopback port nobody listens on right now (for a proxy whose address the hub must know up front). */
export async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
