// A hub's folder: hub.db (SQLite store; none when the store is a PostgreSQL database), the hub's keys and
// roots of trust (hub-keys.ts: keys.json, the SoftHSM2 token under hsm/ with the publisher and root keys,
// roots/<version>.json and root.json, what terminals pin as sync.rootPath), index-key (the fleet index key
// shared with terminals as data.indexKey), snapshots/ (built snapshot answers).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KioskError } from '../base/errors.js';
import { IndexKey } from '../whitelist/privacy.js';
import { readSecretFile } from '../config/secrets.js';
import { HubKeys, type HubKeyStore } from './hub-keys.js';
import { Publisher } from './publisher.js';
import { SqliteHubStore } from './sqlite-store.js';
import { PgHubStore, isPostgresUrl } from './pg-store.js';
import type { HubStore } from './store.js';

export interface HubDir {
  dir: string;
  store: HubStore;
  /** The SQLite store when the hub uses one (bulk loads in benchmarks), else null. */
  sqlite: SqliteHubStore | null;
  publisher: Publisher;
  keys: HubKeys;
  hubId: string;
  /** The newest signed root of trust (what terminals pin: sync.rootPath). */
  rootFile: string;
  indexKeyFile: string;
  /** A new publisher key, root v+1 naming only it, and every stored batch signed again by it. */
  rotatePublisher(): { version: number; keyId: string; previousKeyId: string; batches: number };
  close(): void;
}

export interface HubDirOptions {
  /** A file holding the fleet index key (64 hex); default `<dir>/index-key`, generated if missing. */
  indexKeyFile?: string | null;
  /**
   * Only for a fresh folder: where its keys live. Default `pkcs11` (its own SoftHSM2 token); `file` is for
   * tests and benchmarks that run several hubs in one process.
   */
  keyStore?: HubKeyStore;
  now?: () => number;
  /**
   * Where terminals, feeds and journals are kept: `<dir>/hub.db` (SQLite, the default) or a PostgreSQL
   * connection string (`postgres://…`), which several hub instances can share. The keys, index key and
   * built snapshots stay in the folder either way.
   */
  store?: string | null;
}

export function openHubDir(dirIn: string, options: HubDirOptions = {}): HubDir {
  const dir = resolve(dirIn);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const indexFile = options.indexKeyFile ? resolve(options.indexKeyFile) : join(dir, 'index-key');
  if (!existsSync(indexFile)) {
    if (options.indexKeyFile)
      throw new KioskError('SECRET_MISSING', `index key file ${indexFile} does not exist`);
    writeFileSync(indexFile, IndexKey.generateHex() + '\n', { mode: 0o600, flag: 'wx' });
  }
  const indexKey = IndexKey.fromSecret(readSecretFile(indexFile, 'hub index key').toString('utf8'));
  const keys = HubKeys.open(dir, {
    ...(options.keyStore ? { store: options.keyStore } : {}),
    ...(options.now ? { now: options.now } : {}),
  });
  let store: HubStore;
  try {
    const where = options.store ?? null;
    if (where !== null && !isPostgresUrl(where))
      throw new KioskError('CONFIG_INVALID', 'the hub store must be a postgres:// or postgresql:// URL');
    store = where ? new PgHubStore(where) : new SqliteHubStore(join(dir, 'hub.db'));
  } catch (error) {
    keys.close();
    throw error;
  }
  try {
    keys.share(store);
  } catch (error) {
    store.close();
    keys.close();
    throw error;
  }
  const publisher = new Publisher(
    store,
    () => keys.publisher(),
    indexKey,
    join(dir, 'snapshots'),
    options.now,
  );
  const firstRootKey = keys.root().rootKeys[0]!.keyId;
  return {
    dir,
    store,
    sqlite: store instanceof SqliteHubStore ? store : null,
    publisher,
    keys,
    // Named after the root key, which outlives publisher key rotations.
    hubId: `hub-${firstRootKey.slice(0, 12)}`,
    rootFile: keys.rootFile,
    indexKeyFile: indexFile,
    rotatePublisher: () => {
      const r = keys.rotatePublisher();
      const { batches } = publisher.resignAll();
      return { version: r.version, keyId: r.keyId, previousKeyId: r.previousKeyId, batches };
    },
    close: () => {
      store.close();
      keys.close();
    },
  };
}
