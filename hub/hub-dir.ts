// A hub's folder: hub.db (SQLite store), hub-key.pem (Ed25519 publisher key, owner-only; in production
// keep it in an HSM or on an offline signer), hub-public.pem (what terminals pin), index-key (the fleet
// index key shared with terminals as data.indexKey), snapshots/ (built snapshot answers).
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KioskError } from '../base/errors.js';
import { IndexKey } from '../whitelist/privacy.js';
import { Publisher } from './publisher.js';
import { SqliteHubStore } from './sqlite-store.js';

export interface HubDir {
  dir: string;
  store: SqliteHubStore;
  publisher: Publisher;
  hubId: string;
  publicKeyFile: string;
  indexKeyFile: string;
  close(): void;
}

export interface HubDirOptions {
  /** A file holding the fleet index key (64 hex); default `<dir>/index-key`, generated if missing. */
  indexKeyFile?: string | null;
  now?: () => number;
}

function loadOrCreateKey(file: string): KeyObject {
  if (!existsSync(file)) {
    const { privateKey } = generateKeyPairSync('ed25519');
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, {
      mode: 0o600,
      flag: 'wx',
    });
  }
  try {
    return createPrivateKey(readFileSync(file));
  } catch (error) {
    throw new KioskError('CONFIG_INVALID', `${file} is not a PEM private key`, undefined, { cause: error });
  }
}

export function openHubDir(dirIn: string, options: HubDirOptions = {}): HubDir {
  const dir = resolve(dirIn);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const key = loadOrCreateKey(join(dir, 'hub-key.pem'));
  const indexFile = options.indexKeyFile ? resolve(options.indexKeyFile) : join(dir, 'index-key');
  if (!existsSync(indexFile)) {
    if (options.indexKeyFile)
      throw new KioskError('SECRET_MISSING', `index key file ${indexFile} does not exist`);
    writeFileSync(indexFile, IndexKey.generateHex() + '\n', { mode: 0o600, flag: 'wx' });
  }
  const indexKey = IndexKey.fromSecret(readFileSync(indexFile, 'utf8'));
  const store = new SqliteHubStore(join(dir, 'hub.db'));
  const publisher = new Publisher(store, key, indexKey, join(dir, 'snapshots'), options.now);
  const publicKeyFile = join(dir, 'hub-public.pem');
  if (!existsSync(publicKeyFile)) publisher.writePublicKey(publicKeyFile);
  return {
    dir,
    store,
    publisher,
    hubId: `hub-${publisher.keyId.slice(0, 12)}`,
    publicKeyFile,
    indexKeyFile: indexFile,
    close: () => store.close(),
  };
}
