// The hub program in a relay role at a site (`hub serve --venue --upstream URL --site S`): it serves the
// site's terminals on the LAN with the central hub's whitelist and revocations (mirrored byte for byte,
// venue-mirror.ts), signs its own checkpoints and push replies with the venue key the root of trust
// delegated to it for that site only, keeps the site's peer entries itself (global anti-passback goes on
// while the WAN is down), and forwards the journals its terminals pushed to the central hub, idempotently,
// whenever the central hub answers. One supervised loop (base/supervisor.ts backoff) does the upstream work.
//
// Folder: hub.db (SQLite HubStore: terminals, journals, peer entries, nonces), venue.db + content/ (the
// mirror), venue-keys.json + hsm/ (the delegated Ed25519 venue key in the folder's own SoftHSM2 token, or
// another HSM the file names; venue-key.pem in test folders), the venue's P-256 request key (its terminal
// key at the central hub) in the same token (request-key.pem in test folders), delegation.json (from the central hub), root.json + roots/ (the central root of trust).
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { KioskError, toKioskError } from '../base/errors.js';
import { getLogger } from '../base/log.js';
import { Backoff } from '../base/supervisor.js';
import { openPushReply } from '../protocol/checkpoint.js';
import { openDelegation, type Delegation } from '../protocol/delegation.js';
import { softwareFeedSigner, type FeedSigner } from '../protocol/feed-format.js';
import { readSecretFile } from '../config/secrets.js';
import { TokenPlaceFields, ownSoftHsmToken, openToken, type HubKeyStore } from './hub-keys.js';
import { z } from 'zod';
import { softwareSigner, type RequestSigner } from '../protocol/http-signature.js';
import { followRoots, openPinnedRoot, trustFromRoot, type RootOfTrust } from '../protocol/root-of-trust.js';
import { PROTOCOL_VERSION } from '../protocol/sync.js';
import { openVenueRoster, type RosterTerminal } from '../protocol/venue-roster.js';
import { IndexKey } from '../whitelist/privacy.js';
import { Publisher } from './publisher.js';
import { createHub, type Hub, type HubOptions } from './server.js';
import { SqliteHubStore } from './sqlite-store.js';
import { registrationOf, type HubStore } from './store.js';
import { VenueMirror } from './venue-mirror.js';
import { Upstream, upstreamError } from './venue-upstream.js';

const log = getLogger('venue');

export interface VenueDir {
  dir: string;
  /** The delegated Ed25519 key's public half (what `hub venue delegate` at the central hub signs for). */
  venueKey: KeyObject;
  /** The venue's P-256 terminal key at the central hub (register it there under the venue id). */
  requestPublicPem: string;
}

const VENUE_KEY_LABEL = 'venue-key';
const REQUEST_KEY_LABEL = 'request-key';

/**
 * `<venue>/venue-keys.json`: where the delegated venue key lives, and the request key when `requestLabel`
 * names it in the same token (a folder made before that keeps its request key in request-key.pem).
 */
const VenueKeysFile = z.discriminatedUnion('store', [
  z
    .object({ ...TokenPlaceFields, label: z.string().min(1), requestLabel: z.string().min(1).optional() })
    .strict(),
  z.object({ store: z.literal('file') }).strict(),
]);
type VenueKeysFile = z.output<typeof VenueKeysFile>;

function readVenueKeys(dir: string): VenueKeysFile {
  const file = join(dir, 'venue-keys.json');
  // A folder made before the key file existed keeps its venue key in venue-key.pem.
  if (!existsSync(file)) return { store: 'file' };
  let parsed;
  try {
    parsed = VenueKeysFile.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    parsed = null;
  }
  if (!parsed?.success) throw new KioskError('CONFIG_INVALID', `${file} is not a venue key file`);
  return parsed.data;
}

export interface VenueKeys {
  /** The delegated Ed25519 venue key. */
  signer: FeedSigner;
  /** The P-256 key the venue signs its requests to the central hub with, as terminal `keyId`. */
  requestSigner(keyId: string): RequestSigner;
  requestPublicKey: KeyObject;
  close(): void;
}

function pemRequestKey(dir: string): Pick<VenueKeys, 'requestSigner' | 'requestPublicKey'> {
  const key = createPrivateKey(readSecretFile(join(dir, 'request-key.pem'), 'venue request key'));
  return { requestSigner: (keyId) => softwareSigner(keyId, key), requestPublicKey: createPublicKey(key) };
}

/** A venue folder's keys: in its token (or the PEM files of test folders), and how to let go of them. */
export function openVenueKeys(dir: string): VenueKeys {
  const c = readVenueKeys(dir);
  if (c.store === 'file')
    return {
      signer: softwareFeedSigner(createPrivateKey(readSecretFile(join(dir, 'venue-key.pem'), 'venue key'))),
      ...pemRequestKey(dir),
      close: () => undefined,
    };
  const token = openToken(c);
  try {
    const requestLabel = c.requestLabel;
    return {
      signer: token.signer(c.label),
      ...(requestLabel
        ? {
            requestSigner: (keyId: string) => token.requestSigner(keyId, requestLabel),
            requestPublicKey: token.publicKey(requestLabel, 'ec-p256'),
          }
        : pemRequestKey(dir)),
      close: () => token.close(),
    };
  } catch (error) {
    token.close();
    throw error;
  }
}

/**
 * Creates (or opens) a venue folder's keys; the delegation and the root come from the central hub. The
 * delegated Ed25519 venue key and the P-256 request key are made in the folder's own SoftHSM2 token
 * (`keyStore` pkcs11, the default) and never leave it; `file` keeps them in venue-key.pem and
 * request-key.pem (tests that run several venues in one process: SoftHSM2 reads one configuration per
 * process).
 */
export function initVenueDir(dirIn: string, o: { keyStore?: HubKeyStore } = {}): VenueDir {
  const dir = resolve(dirIn);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keysFile = join(dir, 'venue-keys.json');
  const venueKeyFile = join(dir, 'venue-key.pem');
  const requestKeyFile = join(dir, 'request-key.pem');
  const writePem = (file: string, key: KeyObject) =>
    writeFileSync(file, key.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600, flag: 'wx' });
  if (!existsSync(keysFile) && !existsSync(venueKeyFile)) {
    let config: VenueKeysFile;
    if ((o.keyStore ?? 'pkcs11') === 'file') {
      writePem(venueKeyFile, generateKeyPairSync('ed25519').privateKey);
      config = { store: 'file' };
    } else {
      config = {
        store: 'pkcs11',
        ...ownSoftHsmToken(dir, 'jpki-venue'),
        label: VENUE_KEY_LABEL,
        requestLabel: REQUEST_KEY_LABEL,
      };
      const token = openToken(config);
      try {
        if (!token.has(VENUE_KEY_LABEL)) token.generateEd25519(VENUE_KEY_LABEL);
        if (!token.has(REQUEST_KEY_LABEL)) token.generateEcP256(REQUEST_KEY_LABEL);
      } finally {
        token.close();
      }
    }
    writeFileSync(keysFile, JSON.stringify(config, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  }
  const c = readVenueKeys(dir);
  if ((c.store === 'file' || !c.requestLabel) && !existsSync(requestKeyFile))
    writePem(requestKeyFile, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
  const keys = openVenueKeys(dir);
  try {
    return {
      dir,
      venueKey: keys.signer.publicKey,
      requestPublicPem: keys.requestPublicKey.export({ type: 'spki', format: 'pem' }).toString(),
    };
  } finally {
    keys.close();
  }
}

export interface VenueOptions {
  dir: string;
  site: string;
  /** The venue's terminal id at the central hub (the delegation names it). */
  venueId: string;
  upstreamUrl: string;
  upstreamCa?: Buffer | null;
  /** Forwarding journals and following the central hub: one round every this (default 2 s). */
  intervalMs?: number;
  /** Mirror whitelist and revocations every this (default 30 s); forwarding runs every round. */
  mirrorEveryMs?: number;
  /** Passed to createHub (authority, TLS, status token, …). */
  hub?: Partial<HubOptions>;
  now?: () => number;
  random?: () => number;
}

export interface VenueHub {
  hub: Hub;
  store: SqliteHubStore;
  mirror: VenueMirror;
  delegation: Delegation;
  /** One round of upstream work now: registrations, roots, mirror (when due or `mirror`), journals. */
  syncUpstream(o?: { mirror?: boolean }): Promise<{ forwarded: number }>;
  /** Whether the last upstream round reached the central hub. */
  upstreamOnline(): boolean;
  start(): void;
  close(): Promise<void>;
}

export function openVenueHub(o: VenueOptions): VenueHub {
  const now = o.now ?? Date.now;
  const dir = initVenueDir(o.dir).dir;
  const rootsDir = join(dir, 'roots');
  mkdirSync(rootsDir, { recursive: true, mode: 0o700 });
  const pinnedFile = join(dir, 'root.json');
  if (!existsSync(pinnedFile))
    throw new KioskError('CONFIG_INVALID', `${pinnedFile}: copy the central hub's root.json here`);
  let root: RootOfTrust = openPinnedRoot(readFileSync(pinnedFile));
  const successors = () =>
    readdirSync(rootsDir)
      .map((f) => Number(/^(\d+)\.json$/.exec(f)?.[1] ?? NaN))
      .filter((v) => Number.isSafeInteger(v))
      .sort((a, b) => a - b);
  for (const v of successors())
    if (v > root.version) root = followRoots(root, [readFileSync(join(rootsDir, `${v}.json`))]);

  const delegationFile = join(dir, 'delegation.json');
  if (!existsSync(delegationFile))
    throw new KioskError(
      'CONFIG_INVALID',
      `${delegationFile}: the central hub's delegation for site ${o.site} is missing`,
    );
  const delegationBytes = readFileSync(delegationFile);
  const delegation = openDelegation(delegationBytes, root, { site: o.site, now: now() });
  const venueKey = openVenueKeys(dir);
  const venueSigner = venueKey.signer;
  if (venueSigner.keyId !== delegation.venueKeyId) {
    venueKey.close();
    throw new KioskError('DELEGATION_INVALID', `${delegationFile} names another key than this venue's key`);
  }
  if (delegation.venueId !== o.venueId) {
    venueKey.close();
    throw new KioskError(
      'DELEGATION_INVALID',
      `the delegation names venue ${delegation.venueId}, not ${o.venueId}`,
    );
  }

  const store = new SqliteHubStore(join(dir, 'hub.db'));
  const upstream = new Upstream({
    url: o.upstreamUrl,
    signer: venueKey.requestSigner(o.venueId),
    ca: o.upstreamCa ?? null,
  });
  const centralTrust = () => trustFromRoot(root, now());
  const mirror = new VenueMirror(dir, upstream, centralTrust, now);
  // The venue publishes only its own site's peer entries (and signs checkpoints and replies): the index
  // key is never used for rows here.
  const publisher = new Publisher(
    store,
    venueSigner,
    IndexKey.fromSecret(IndexKey.generateHex()),
    join(dir, 'snapshots'),
    now,
  );
  const hub = createHub({
    store,
    publisher,
    hubId: `venue-${o.site}`,
    roots: {
      rootsAfter: (after) =>
        successors()
          .filter((v) => v > after)
          .slice(0, 32)
          .map((v) => readFileSync(join(rootsDir, `${v}.json`))),
    },
    contentSource: mirror,
    delegation: () => delegationBytes,
    ...(o.now ? { now: o.now } : {}),
    ...o.hub,
  });

  let online = false;
  let lastMirror = 0;

  async function followRoot(): Promise<void> {
    const a = await upstream.signed('GET', `/v1/root?after=${root.version}`);
    if (a.status !== 200) throw upstreamError(a);
    const parsed = JSON.parse(a.body.toString('utf8')) as { roots?: string[] };
    const roots = (parsed.roots ?? []).map((r) => Buffer.from(r, 'base64'));
    if (roots.length === 0) return;
    const next = followRoots(root, roots);
    for (let i = 0; i < roots.length; i++) {
      const v = root.version + 1 + i;
      writeFileSync(join(rootsDir, `${v}.json.tmp`), roots[i]!);
      renameSync(join(rootsDir, `${v}.json.tmp`), join(rootsDir, `${v}.json`));
    }
    root = next;
  }

  async function registrations(): Promise<void> {
    const a = await upstream.signed('GET', '/v1/venue/terminals');
    if (a.status !== 200) throw upstreamError(a);
    const roster = openVenueRoster(a.body, centralTrust(), {
      nonce: a.nonce,
      venueId: o.venueId,
      site: o.site,
    });
    applyVenueRoster(store, roster.terminals, now());
  }

  /** Forwards every terminal's journal rows the central hub has not acknowledged; returns rows sent. */
  async function forward(): Promise<number> {
    let sent = 0;
    for (const t of store.terminals()) {
      for (let round = 0; round < 100; round++) {
        const mark = mirror.forwarded(t.terminalId);
        const records = store.journalSince(t.terminalId, mark, 1000);
        if (records.length === 0) break;
        const body = gzipSync(
          Buffer.from(
            JSON.stringify({ v: PROTOCOL_VERSION, venueId: o.venueId, terminalId: t.terminalId, records }),
            'utf8',
          ),
        );
        const a = await upstream.signed('POST', '/v1/venue/journal', body);
        if (a.status !== 200) throw upstreamError(a);
        const reply = openPushReply(a.body, centralTrust(), { nonce: a.nonce, terminalId: t.terminalId });
        const lastSent = records[records.length - 1]!.seq;
        sent += records.length;
        if (reply.acked < records[0]!.seq - 1)
          // The central hub lacks rows below what it was sent (a gap: held by no one but this venue?).
          throw new KioskError(
            'SYNC_PROTOCOL',
            `central hub holds ${t.terminalId} only up to ${reply.acked}`,
          );
        mirror.markForwarded(t.terminalId, Math.min(reply.acked, lastSent));
        if (reply.acked < lastSent) break;
      }
    }
    return sent;
  }

  async function syncUpstream(opt: { mirror?: boolean } = {}): Promise<{ forwarded: number }> {
    try {
      await followRoot();
      await registrations();
      const due = opt.mirror ?? now() - lastMirror >= (o.mirrorEveryMs ?? 30_000);
      if (due) {
        await mirror.pull('whitelist');
        await mirror.pull('revocations');
        lastMirror = now();
      }
      const forwarded = await forward();
      if (!online) log.info({ site: o.site }, 'central hub reachable');
      online = true;
      return { forwarded };
    } catch (error) {
      const typed = toKioskError(error);
      if (online)
        log.warn({ code: typed.code, msg2: typed.message }, 'central hub lost; serving the site alone');
      online = false;
      throw typed;
    }
  }

  let running = false;
  let loop: Promise<void> | null = null;
  let wake: (() => void) | null = null;
  const backoff = new Backoff({ baseMs: 1_000, capMs: 30_000, ...(o.random ? { random: o.random } : {}) });
  const sleep = (ms: number) =>
    new Promise<void>((r) => {
      const timer = setTimeout(r, ms);
      wake = () => {
        clearTimeout(timer);
        r();
      };
    });

  return {
    hub,
    store,
    mirror,
    delegation,
    syncUpstream,
    upstreamOnline: () => online,
    start() {
      if (running) return;
      running = true;
      loop = (async () => {
        while (running) {
          let wait = o.intervalMs ?? 2_000;
          try {
            await syncUpstream();
            backoff.reset();
          } catch {
            wait = Math.max(wait, backoff.fail());
          }
          if (running) await sleep(wait);
        }
      })();
    },
    async close() {
      running = false;
      wake?.();
      await loop?.catch(() => undefined);
      await hub.close();
      upstream.close();
      mirror.close();
      store.close();
      venueKey.close();
    },
  };
}

/**
 * Brings the venue's copy of its site's terminals to what the central hub's signed roster says: new
 * terminals registered, rotated keys replaced (the old key stops working at the venue too), states
 * (disabled, retiring, retired, enabled again) followed, and a terminal the central hub no longer lists
 * disabled. One terminal that cannot be applied (its key registered under another id here) is logged and
 * skipped; the others still follow.
 */
export function applyVenueRoster(store: HubStore, roster: readonly RosterTerminal[], at: number): void {
  const listed = new Set<string>();
  for (const t of roster) {
    listed.add(t.terminalId);
    try {
      let held = store.terminal(t.terminalId);
      if (!held) {
        store.registerTerminal(registrationOf(t), at);
        held = store.terminal(t.terminalId)!;
      } else if (held.publicKeyPem !== t.publicKeyPem && held.state !== 'retired') {
        held = store.replaceTerminalKey(t.terminalId, t.publicKeyPem, at);
        log.info({ terminalId: t.terminalId }, 'terminal key rotated at the central hub');
      }
      if ((held.state ?? 'active') !== t.state && held.state !== 'retired')
        store.setTerminalState(t.terminalId, t.state, t.stateReason, at);
    } catch (error) {
      const e = toKioskError(error);
      log.warn({ terminalId: t.terminalId, code: e.code, err: e.message }, 'venue roster entry not applied');
    }
  }
  for (const held of store.terminals())
    if (!listed.has(held.terminalId) && (held.state ?? 'active') === 'active')
      store.setTerminalState(held.terminalId, 'disabled', 'not listed by the central hub', at);
}
