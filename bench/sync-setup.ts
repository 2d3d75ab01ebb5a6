// Shared by the sync benchmark parts: simulated terminal identities registered at a hub, a real
// terminal (KioskData + SyncClient), and the hub in its own process as a deployment runs it.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../config/paths.js';
import type { HubDir } from '../hub/hub-dir.js';
import { SyncClient } from '../main/core/sync/client.js';
import { kioskDataJournal, kioskDataRoots, kioskDataSinks } from '../main/core/sync/kiosk-data-sinks.js';
import { softwareSigner, type RequestSigner } from '../protocol/http-signature.js';
import { KioskData } from '../whitelist/kiosk-data.js';
import { IndexKey } from '../whitelist/privacy.js';

export const BASE_PORT = 36460;
export const ISSUER = 'b1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

export interface Terminal {
  id: string;
  signer: RequestSigner;
  publicPem: string;
}

export function newTerminal(id: string): Terminal {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    id,
    signer: softwareSigner(id, privateKey),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

export function register(hub: HubDir, t: Terminal, gate = 'gate-a'): void {
  hub.store.registerTerminal(
    {
      terminalId: t.id,
      publicKeyPem: t.publicPem,
      siteId: 'stadium',
      gateId: gate,
      zone: 'main',
      siteKind: 'stadium-gate',
    },
    Date.now(),
  );
}

export function realTerminal(
  root: string,
  hub: HubDir,
  url: string,
  t: Terminal,
  extra: Partial<ConstructorParameters<typeof SyncClient>[0]> = {},
) {
  const data = KioskData.open({
    dir: join(root, t.id),
    indexKey: IndexKey.fromSecret(readFileSync(hub.indexKeyFile, 'utf8')),
    root: readFileSync(hub.rootFile),
  });
  const client = new SyncClient({
    hubUrl: url,
    signer: t.signer,
    sinks: kioskDataSinks(data),
    journal: kioskDataJournal(data),
    roots: kioskDataRoots(data),
    stagingDir: join(root, t.id, 'staging'),
    idleTimeoutMs: 120_000,
    ...extra,
  });
  return { data, client };
}

/** The hub in its own process (`jpki-kiosk hub serve`), as a deployment runs it. */
export async function spawnHub(
  dir: string,
  indexKeyFile: string,
  port: number,
  /** More `hub serve` options (--store, --authority). */
  extra: string[] = [],
): Promise<ChildProcess> {
  // JPKI_BENCH_HUB_NODE_FLAGS: node options for the hub child (e.g. `--cpu-prof --cpu-prof-dir=/tmp/p`).
  const nodeFlags = (process.env.JPKI_BENCH_HUB_NODE_FLAGS ?? '').split(' ').filter(Boolean);
  const child = spawn(
    process.execPath,
    [
      ...nodeFlags,
      join(projectRoot(), 'bin', 'jpki-kiosk.js'),
      'hub',
      'serve',
      '--dir',
      dir,
      '--index-key',
      indexKeyFile,
      '--port',
      String(port),
      ...extra,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, JPKI_LOG_LEVEL: 'silent' } },
  );
  await new Promise<void>((resolve, reject) => {
    let err = '';
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('serving')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`hub exited (${code}): ${err}`)));
  });
  return child;
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await done;
}
