// The hub's keys and its root of trust. The publisher key (signs every batch, manifest and whatever
// else terminals verify) and the root key (signs the root of trust that names the publisher keys) are
// Ed25519 keys in a PKCS#11 token, used on the hub's own thread (hsm/feed-signer.ts). A fresh hub folder
// gets a SoftHSM2 token of its own (hsm/: softhsm2.conf, tokens/, user-pin and so-pin, owner-only);
// a production hub names its HSM's module, token and PIN file in keys.json instead, and keeps its root
// keys offline (docs/operations.md). Keys of kind "file" (PEM files in the folder) exist only for tests
// and benchmarks that run many hubs in one process (SoftHSM2 reads one configuration per process).
//
// Roots: roots/<version>.json, every version the hub ever signed (served to terminals catching up), and
// root.json, a copy of the newest (what an operator pins in a terminal's sync.rootPath).
import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { KioskError } from '../base/errors.js';
import { readSecret, readSecretFile } from '../config/secrets.js';
import { Feeds, softwareFeedSigner, type FeedSigner } from '../protocol/feed-format.js';
import {
  MAX_ROOTS_PER_ANSWER,
  ROOT_FORMAT,
  openPinnedRoot,
  openSuccessorRoot,
  rootKeyEntry,
  signRoot,
  type RootOfTrust,
} from '../protocol/root-of-trust.js';
import { InThreadToken, initTokenHere, tokensHere } from '../hsm/feed-signer.js';
import {
  DELEGATION_FORMAT,
  openDelegation,
  signDelegation,
  type Delegation,
} from '../protocol/delegation.js';
import { ensureSoftHsmConf } from '../hsm/provision.js';
import { getLogger } from '../base/log.js';
import { rootConflict, type SharedRoot } from './store.js';

const log = getLogger('hub');

/** Where instances of one store share their roots (HubStore.putRoot / rootsAfter). */
export interface SharedRoots {
  putRoot(r: SharedRoot, at: number): void;
  rootsAfter(after: number): SharedRoot[];
}

/** How often a running hub looks for a root another instance put in the shared store. */
export const SHARED_ROOT_CHECK_MS = 5_000;

export const SOFTHSM_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const DAY = 24 * 3600 * 1000;
/** A root is signed for a year; `hub root rotate-publisher` (or renew) signs the next one. */
export const ROOT_VALIDITY_MS = 365 * DAY;

/** A key file's fields that say where its PKCS#11 token is (TokenPlace). */
export const TokenPlaceFields = {
  store: z.literal('pkcs11'),
  module: z.string(),
  /** SoftHSM2 configuration (null for another HSM's module). */
  softhsmConf: z.string().nullable(),
  tokenLabel: z.string().min(1).max(32),
  /** File holding the user PIN (owner-only). */
  pinFile: z.string(),
};

const KeysFile = z.discriminatedUnion('store', [
  z
    .object({
      ...TokenPlaceFields,
      publisherLabel: z.string().min(1),
      rootLabel: z.string().min(1),
    })
    .strict(),
  z
    .object({ store: z.literal('file'), publisherLabel: z.string().min(1), rootLabel: z.string().min(1) })
    .strict(),
]);
type KeysFile = z.output<typeof KeysFile>;

export type HubKeyStore = 'pkcs11' | 'file';

/** Where a folder's PKCS#11 token is: module, SoftHSM2 configuration (null for another HSM), label, PIN file. */
export interface TokenPlace {
  module: string;
  softhsmConf: string | null;
  tokenLabel: string;
  pinFile: string;
}

/**
 * A folder's own SoftHSM2 token under `<dir>/hsm` (its configuration and owner-only user and SO PINs),
 * initialised the first time. Production names its HSM's module and token in the folder's key file instead.
 */
export function ownSoftHsmToken(dir: string, tokenLabel: string): TokenPlace {
  const hsmDir = join(dir, 'hsm');
  const conf = join(hsmDir, 'softhsm2.conf');
  ensureSoftHsmConf(conf);
  const pinFile = join(hsmDir, 'user-pin');
  const soPinFile = join(hsmDir, 'so-pin');
  ensureSecret(pinFile);
  ensureSecret(soPinFile);
  if (!tokensHere(SOFTHSM_MODULE, conf).some((t) => t.initialized && t.label === tokenLabel))
    initTokenHere(
      SOFTHSM_MODULE,
      conf,
      tokenLabel,
      readSecret({ file: soPinFile }, `${tokenLabel} token SO PIN`),
      readSecret({ file: pinFile }, `${tokenLabel} token user PIN`),
    );
  return { module: SOFTHSM_MODULE, softhsmConf: conf, tokenLabel, pinFile };
}

/** Opens (logs in to) a folder's token on this thread. */
export function openToken(p: TokenPlace): InThreadToken {
  return InThreadToken.open({
    module: p.module,
    softhsmConf: p.softhsmConf,
    tokenLabel: p.tokenLabel,
    pin: () => readSecret({ file: p.pinFile }, `${p.tokenLabel} token user PIN`),
  });
}

/** Where a hub's keys live: a token (the default) or PEM files in the folder (tests, benchmarks). */
interface KeyBackend {
  has(label: string): boolean;
  generate(label: string): KeyObject;
  signer(label: string): FeedSigner;
  close(): void;
}

class TokenBackend implements KeyBackend {
  constructor(readonly token: InThreadToken) {}
  has(label: string): boolean {
    return this.token.has(label);
  }
  generate(label: string): KeyObject {
    return this.token.generateEd25519(label);
  }
  signer(label: string): FeedSigner {
    return this.token.signer(label);
  }
  close(): void {
    this.token.close();
  }
}

class FileBackend implements KeyBackend {
  constructor(private readonly dir: string) {}
  private file(label: string): string {
    if (!/^[a-z0-9-]+$/.test(label)) throw new KioskError('CONFIG_INVALID', `bad key label ${label}`);
    return join(this.dir, `${label}.pem`);
  }
  has(label: string): boolean {
    return existsSync(this.file(label));
  }
  generate(label: string): KeyObject {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    writeFileSync(this.file(label), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, {
      mode: 0o600,
      flag: 'wx',
    });
    return publicKey;
  }
  signer(label: string): FeedSigner {
    return softwareFeedSigner(createPrivateKey(readSecretFile(this.file(label), `hub key ${label}`)));
  }
  close(): void {}
}

function writeAtomic(file: string, bytes: Buffer | string, mode = 0o644): void {
  const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, bytes, { mode });
  renameSync(tmp, file);
}

function ensureSecret(file: string): void {
  if (existsSync(file)) return;
  writeFileSync(file, randomBytes(12).toString('hex') + '\n', { mode: 0o600, flag: 'wx' });
  chmodSync(file, 0o600);
}

export interface HubKeysOptions {
  /** Only when the folder has no keys yet: where to keep them (default pkcs11, a SoftHSM2 token). */
  store?: HubKeyStore;
  now?: () => number;
}

/** The hub's keyring and roots; the publisher key follows keys.json (a rotation by another process too). */
export class HubKeys {
  private config!: KeysFile;
  private configStamp = '';
  private backend!: KeyBackend;
  private current!: FeedSigner;
  private readonly now: () => number;

  private constructor(
    readonly dir: string,
    options: HubKeysOptions,
  ) {
    this.now = options.now ?? Date.now;
  }

  get keysFile(): string {
    return join(this.dir, 'keys.json');
  }
  get rootFile(): string {
    return join(this.dir, 'root.json');
  }
  get rootsDir(): string {
    return join(this.dir, 'roots');
  }
  get store(): HubKeyStore {
    return this.config.store;
  }

  /** Opens the keys of a hub folder; a fresh folder gets its token, keys and root v1. */
  static open(dir: string, options: HubKeysOptions = {}): HubKeys {
    const k = new HubKeys(dir, options);
    if (!existsSync(k.keysFile)) k.provision(options.store ?? 'pkcs11');
    k.config = k.readConfig();
    k.backend = k.openBackend(k.config);
    if (!existsSync(join(k.rootsDir, '1.json'))) k.writeFirstRoot();
    k.current = k.backend.signer(k.config.publisherLabel);
    const root = k.root();
    if (!root.publishers.some((p) => p.keyId === k.current.keyId))
      throw new KioskError(
        'CONFIG_INVALID',
        `the publisher key ${k.config.publisherLabel} (${k.current.keyId}) is not named by root v${root.version}`,
      );
    return k;
  }

  private readConfig(): KeysFile {
    const stamp = statSync(this.keysFile);
    this.configStamp = `${stamp.mtimeMs}:${stamp.size}:${stamp.ino}`;
    const parsed = KeysFile.safeParse(JSON.parse(readFileSync(this.keysFile, 'utf8')));
    if (!parsed.success) throw new KioskError('CONFIG_INVALID', `${this.keysFile} is not a hub key file`);
    return parsed.data;
  }

  private openBackend(c: KeysFile): KeyBackend {
    if (c.store === 'file') return new FileBackend(this.dir);
    return new TokenBackend(openToken(c));
  }

  /** A fresh folder: the SoftHSM2 token (or the file keys), the publisher and root keys. */
  private provision(store: HubKeyStore): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    let config: KeysFile;
    if (store === 'file') {
      config = { store: 'file', publisherLabel: 'hub-publisher-1', rootLabel: 'hub-root-1' };
    } else {
      config = {
        store: 'pkcs11',
        ...ownSoftHsmToken(this.dir, 'jpki-hub'),
        publisherLabel: 'hub-publisher-1',
        rootLabel: 'hub-root-1',
      };
    }
    const backend = this.openBackend(config);
    try {
      for (const label of [config.publisherLabel, config.rootLabel])
        if (!backend.has(label)) backend.generate(label);
    } finally {
      backend.close();
    }
    writeAtomic(this.keysFile, JSON.stringify(config, null, 2) + '\n', 0o600);
  }

  private writeFirstRoot(): void {
    const rootKey = this.backend.signer(this.config.rootLabel);
    const publisher = this.backend.signer(this.config.publisherLabel);
    const bytes = signRoot(
      {
        format: ROOT_FORMAT,
        version: 1,
        expires: new Date(this.now() + ROOT_VALIDITY_MS).toISOString(),
        threshold: 1,
        rootKeys: [rootKeyEntry(rootKey.publicKey)],
        publishers: [{ ...rootKeyEntry(publisher.publicKey), feeds: [...Feeds] }],
      },
      [rootKey],
    );
    openPinnedRoot(bytes);
    this.saveRoot(1, bytes);
  }

  private saveRoot(version: number, bytes: Buffer): void {
    mkdirSync(this.rootsDir, { recursive: true, mode: 0o700 });
    writeFileSync(join(this.rootsDir, `${version}.json`), bytes, { flag: 'wx', mode: 0o644 });
    writeAtomic(this.rootFile, bytes);
  }

  /** The newest root this hub signed, verified along its chain from v1. */
  root(): RootOfTrust {
    let root = openPinnedRoot(readFileSync(join(this.rootsDir, '1.json')));
    for (const bytes of this.rootsAfter(1, Number.MAX_SAFE_INTEGER)) root = openSuccessorRoot(bytes, root);
    return root;
  }

  /** Signed roots with a version above `after`, in order, at most `limit` (GET /v1/root). */
  rootsAfter(after: number, limit = MAX_ROOTS_PER_ANSWER): Buffer[] {
    if (!existsSync(this.rootsDir)) return [];
    const versions = readdirSync(this.rootsDir)
      .map((f) => /^(\d+)\.json$/.exec(f)?.[1])
      .filter((v): v is string => v !== undefined)
      .map(Number)
      .filter((v) => v > after)
      .sort((a, b) => a - b)
      .slice(0, limit);
    return versions.map((v) => readFileSync(join(this.rootsDir, `${v}.json`)));
  }

  private shared: { source: SharedRoots; everyMs: number; checkedAt: number; warned: string } | null = null;

  /**
   * Shares this folder's roots through the hub's store and follows the ones another instance puts there
   * (a publisher rotation made on another machine; the new key reaches this one through the replicated
   * HSM): looked for at most every `everyMs`, when a signature is due. The folder and the store must
   * agree on every version both hold (CONFIG_INVALID otherwise: the instances were set up apart).
   */
  share(source: SharedRoots, everyMs = SHARED_ROOT_CHECK_MS): void {
    const newest = this.root().version;
    for (let v = 1; v <= newest; v++)
      source.putRoot(
        {
          version: v,
          bytes: readFileSync(join(this.rootsDir, `${v}.json`)),
          // Only the newest root's key is ever used again; older labels are not kept in keys.json.
          publisherLabel: v === newest ? this.config.publisherLabel : '',
        },
        this.now(),
      );
    this.shared = { source, everyMs, checkedAt: Number.NEGATIVE_INFINITY, warned: '' };
    this.followShared();
  }

  /** Takes the roots another instance put in the shared store, and the publisher key the newest names. */
  private followShared(): void {
    const s = this.shared;
    if (!s || this.now() - s.checkedAt < s.everyMs) return;
    s.checkedAt = this.now();
    try {
      let root = this.root();
      // The newest root this folder holds comes back too: its key may not have been here when it came.
      const rows = s.source.rootsAfter(root.version - 1);
      const newer = rows.filter((r) => r.version > root.version);
      for (const r of newer) {
        root = openSuccessorRoot(r.bytes, root); // each one signed by the root keys of the one before
        const file = join(this.rootsDir, `${r.version}.json`);
        // An instance on this same folder may have written it already.
        if (!existsSync(file)) this.saveRoot(r.version, r.bytes);
        else if (!readFileSync(file).equals(r.bytes)) throw rootConflict(r.version);
      }
      if (newer.length > 0) log.info({ version: root.version }, 'root of trust taken from the shared store');
      if (rows.length === 0) return;
      const label = rows[rows.length - 1]!.publisherLabel;
      if (label === '' || label === this.config.publisherLabel) return;
      const signer = this.backend.has(label) ? this.backend.signer(label) : null;
      if (!signer || !root.publishers.some((p) => p.keyId === signer.keyId)) {
        throw new KioskError(
          'CONFIG_INVALID',
          `root v${root.version} names publisher key ${label}, which this hub's key store does not hold`,
        );
      }
      this.config = { ...this.config, publisherLabel: label };
      writeAtomic(this.keysFile, JSON.stringify(this.config, null, 2) + '\n', 0o600);
      this.readConfig();
      this.current = signer;
      log.info({ keyId: signer.keyId, label }, 'publisher key rotated by another instance');
    } catch (error) {
      // Signing goes on with the key held (terminals on the older root still accept it); said once.
      const message = (error as Error).message;
      if (message !== s.warned) log.error({ err: message }, 'cannot follow the shared root of trust');
      s.warned = message;
    }
  }

  /**
   * The key the hub publishes with now. Follows keys.json, so a `hub root rotate-publisher` run by
   * another process takes effect at the next signature of a running hub; and, when the roots are shared
   * through the store (`share`), a rotation made by an instance on another machine.
   */
  publisher(): FeedSigner {
    this.followShared();
    const stamp = statSync(this.keysFile, { throwIfNoEntry: false });
    if (stamp && `${stamp.mtimeMs}:${stamp.size}:${stamp.ino}` !== this.configStamp) {
      const next = this.readConfig();
      if (next.publisherLabel !== this.config.publisherLabel || next.store !== this.config.store) {
        this.config = next;
        this.current = this.backend.signer(next.publisherLabel);
      }
    }
    return this.current;
  }

  /**
   * Rotation: a new publisher key in the token, root v+1 naming only it, signed by the root key(s); the
   * hub publishes with the new key from then on (keys.json). The caller re-signs stored batches
   * (Publisher.resignAll) so that terminals on the new root keep syncing.
   */
  rotatePublisher(): { version: number; keyId: string; label: string; previousKeyId: string } {
    const previous = this.publisher();
    const trusted = this.root();
    const n = Number(/(\d+)$/.exec(this.config.publisherLabel)?.[1] ?? '1');
    let label = `hub-publisher-${n + 1}`;
    for (let i = n + 2; this.backend.has(label); i++) label = `hub-publisher-${i}`;
    const publicKey = this.backend.generate(label);
    const rootKey = this.backend.signer(this.config.rootLabel);
    const bytes = signRoot(
      {
        format: ROOT_FORMAT,
        version: trusted.version + 1,
        expires: new Date(this.now() + ROOT_VALIDITY_MS).toISOString(),
        threshold: 1,
        rootKeys: [rootKeyEntry(rootKey.publicKey)],
        publishers: [{ ...rootKeyEntry(publicKey), feeds: [...Feeds] }],
      },
      [rootKey],
    );
    openSuccessorRoot(bytes, trusted); // what a terminal will check
    // The other instances learn of it from the store: put there first, so that a store that cannot take
    // it leaves this folder unrotated too.
    this.shared?.source.putRoot({ version: trusted.version + 1, bytes, publisherLabel: label }, this.now());
    this.saveRoot(trusted.version + 1, bytes);
    this.config = { ...this.config, publisherLabel: label };
    writeAtomic(this.keysFile, JSON.stringify(this.config, null, 2) + '\n', 0o600);
    this.readConfig();
    this.current = this.backend.signer(label);
    return { version: trusted.version + 1, keyId: this.current.keyId, label, previousKeyId: previous.keyId };
  }

  get delegationsDir(): string {
    return join(this.dir, 'delegations');
  }

  /**
   * Lends one site's checkpoints to a venue hub: a delegation signed by the root key, naming the site,
   * the venue's terminal id here and its Ed25519 key (delegation.ts). Kept in `delegations/<site>.json`
   * (this hub then accepts that venue's forwarded journals for the site) and returned for the venue.
   */
  delegateVenue(d: { site: string; venueId: string; venueKey: KeyObject; validityMs?: number }): Buffer {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(d.site))
      throw new KioskError('INVALID_REQUEST', `site ${d.site}: letters, digits, . _ - only`);
    const now = this.now();
    const bytes = signDelegation(
      {
        format: DELEGATION_FORMAT,
        site: d.site,
        venueId: d.venueId,
        venueKey: rootKeyEntry(d.venueKey),
        notBefore: new Date(now - 5 * 60_000).toISOString(),
        expires: new Date(now + (d.validityMs ?? ROOT_VALIDITY_MS)).toISOString(),
      },
      [this.backend.signer(this.config.rootLabel)],
    );
    openDelegation(bytes, this.root(), { site: d.site, now }); // what a terminal will check
    mkdirSync(this.delegationsDir, { recursive: true, mode: 0o700 });
    writeAtomic(join(this.delegationsDir, `${d.site}.json`), bytes);
    return bytes;
  }

  /** The delegations this hub signed that are valid now (the venues that may forward journals). */
  delegations(): Delegation[] {
    if (!existsSync(this.delegationsDir)) return [];
    const root = this.root();
    const out: Delegation[] = [];
    for (const f of readdirSync(this.delegationsDir).filter((n) => n.endsWith('.json'))) {
      try {
        out.push(openDelegation(readFileSync(join(this.delegationsDir, f)), root, { now: this.now() }));
      } catch {
        // expired or signed under retired root keys: that venue no longer speaks for its site
      }
    }
    return out;
  }

  /** Every way PKCS#11 offers to read a private key out of the hub token (tests, audits). */
  auditExtraction(label: string) {
    if (!(this.backend instanceof TokenBackend))
      throw new KioskError('CONFIG_INVALID', 'this hub keeps its keys in files, not in a token');
    return this.backend.token.auditExtraction(label);
  }

  labels(): { publisher: string; root: string } {
    return { publisher: this.config.publisherLabel, root: this.config.rootLabel };
  }

  close(): void {
    this.backend.close();
  }
}
