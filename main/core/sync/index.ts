// The sync module's entry: build a SyncClient from the loaded configuration, the terminal's stores
//  and a RequestSigner over the terminal's HSM key.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { readSyncCa, type KioskConfig } from '../../../config/load.js';
import { KioskError } from '../../../base/errors.js';
import type { KioskData } from '../../../whitelist/kiosk-data.js';
import { TERMINAL_KEY_LABEL } from '../../../hsm/config.js';
import { SyncClient, type SyncClientOptions } from './client.js';
import type { RequestSigner } from '../../../protocol/http-signature.js';
import { kioskDataJournal, kioskDataRoots, kioskDataSinks } from './kiosk-data-sinks.js';

export { SyncClient, type SyncStatus, type SyncReport, type FeedStatus } from './client.js';
export { softwareSigner, type RequestSigner } from '../../../protocol/http-signature.js';
export type { FeedSink, JournalSource } from './sinks.js';

/** Anything that signs a SHA-256 digest with an EC P-256 key in a token, returning raw r‖s (hsm/ Hsm). */
export interface DigestSigner {
  signDigest(label: string, digest: Uint8Array): Promise<Buffer>;
}

/** RFC 9421 request signatures made in the HSM: the private key never leaves the token. */
export function hsmRequestSigner(
  hsm: DigestSigner,
  terminalId: string,
  label: string = TERMINAL_KEY_LABEL,
): RequestSigner {
  return {
    keyId: terminalId,
    sign: async (data) => {
      const raw = await hsm.signDigest(label, createHash('sha256').update(data).digest());
      if (raw.length !== 64) throw new KioskError('HSM_FAILED', `key ${label} is not an EC P-256 key`);
      return raw;
    },
  };
}

export interface SyncFromConfigOptions extends Partial<SyncClientOptions> {
  version?: string;
}

/**
 * The terminal's sync client as the configuration describes it, or null when sync is off. The stores
 * verify against the root of trust pinned at `sync.rootPath` (KioskData.fromConfig), which the client
 * brings up to date from the hub before each pull.
 */
export function syncFromConfig(
  config: KioskConfig,
  data: KioskData,
  signer: RequestSigner,
  extra: SyncFromConfigOptions = {},
): SyncClient | null {
  if (!config.sync.enabled) return null;
  if (!config.sync.hubUrl)
    throw new KioskError('CONFIG_INVALID', 'sync.enabled is true but sync.hubUrl is not set');
  if (!config.sync.rootPath)
    throw new KioskError('CONFIG_INVALID', 'sync.enabled is true but sync.rootPath is not set');
  const ap = config.policy.stadium.antiPassback;
  const globalPresence = config.site.kind === 'stadium-gate' && ap.mode !== 'off' && ap.reach === 'global';
  return new SyncClient({
    hubUrl: config.sync.hubUrl,
    hubUrls: config.sync.hubUrls,
    site: config.site.siteId,
    signer,
    sinks: kioskDataSinks(data),
    journal: kioskDataJournal(data),
    roots: kioskDataRoots(data),
    pullIntervalMs: config.sync.pullIntervalSeconds * 1000,
    pushIntervalMs: config.sync.pushIntervalSeconds * 1000,
    peerWaitSeconds: globalPresence ? 25 : 0,
    maxSkewSeconds: config.clock.maxSkewSeconds,
    contentAddressed: config.sync.contentAddressed,
    // Read now, at start: a CA file that went missing is a config error, not a TLS failure every round.
    ...(config.sync.caFile ? { ca: readSyncCa(config.sync.caFile) } : {}),
    // v2: under the data folder (not the OS temp folder, RAM on many systems), checked for free space.
    stagingDir: join(config.data.dir, 'staging'),
    ...extra,
  });
}
