// Demo provisioning, unattended and idempotent: the demo PKI and card set, the SoftHSM2 token with the
// institution and terminal keys and the institution certificate, the demo publisher key, the staff PIN,
// and the demo whitelist/revocations/presence. Every command that uses the demo configuration calls it,
// so a fresh checkout works after `npm run setup` with no other step. Only for the demo profile.
import {
  X509Certificate,
  createHash,
  generateKeyPairSync,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
} from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KioskConfig } from '../../config/load.js';
import { KioskError } from '../../base/errors.js';
import { ensureDemoHsm } from './hsm.js';
import { ensureDemoPki, type DemoCard, type DemoCardSet } from '../../sim/pki/demo-pki.js';
import {
  Feeds,
  publisherKeyId,
  signBatch,
  softwareFeedSigner,
  type FeedBatch,
} from '../../protocol/feed-format.js';
import { ROOT_FORMAT, rootKeyEntry, signRoot } from '../../protocol/root-of-trust.js';
import { revocationPutOp, whitelistPutOp } from '../../whitelist/feed-ops.js';
import type { KioskData } from '../../whitelist/kiosk-data.js';
import { loadIndexKey } from '../../whitelist/privacy.js';
import { getLogger } from '../../base/log.js';
import { DEMO_STAFF_PIN } from './constants.js';
import {
  DEMO_INSIDE,
  DEMO_RECORDS,
  DEMO_REVOKED,
  DEMO_REVOKED_TICKETS,
  DEMO_TICKET_NUMBERS,
} from './data.js';
import { TICKET_ISSUER_KEY_ID, ticketRevocationSerial, ticketRowIdentity } from '../../protocol/ticket.js';

const log = getLogger('demo');

export { DEMO_STAFF_PIN };
export const DEMO_EPOCH = 'demo-1';

export interface DemoAssets {
  cards: DemoCardSet;
  publisherKey: KeyObject;
  actions: string[];
}

function assertDemo(config: KioskConfig): void {
  if (config.source.profile !== 'demo')
    throw new KioskError('CONFIG_INVALID', 'demo provisioning runs only with the demo profile');
}

function writeOwnerOnly(file: string, content: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content, { mode: 0o600 });
}

/**
 * The demo publisher (hub) key pair: Ed25519, private half owner-only under var/demo/hub/, and the demo's
 * root of trust (root.json, what the demo profile pins as sync.rootPath) naming it, signed by a demo root
 * key next to it. The demo's hub is this machine and its keys are files; a real hub keeps both in its
 * token (hub/hub-keys.ts).
 */
export function demoPublisherKey(config: KioskConfig): {
  privateKey: KeyObject;
  rootPath: string;
  privatePath: string;
  created: boolean;
} {
  // Always the demo's own folder: a terminal pinning a real hub's root (sync.rootPath) must never have
  // demo keys written next to it.
  const dir = join(config.data.dir, 'demo', 'hub');
  const rootPath = join(dir, 'root.json');
  const privatePath = join(dir, 'hub-key.pem');
  const rootKeyPath = join(dir, 'root-key.pem');
  let created = false;
  const loadOrCreate = (file: string): KeyObject => {
    if (existsSync(file)) return createPrivateKey(readFileSync(file));
    const { privateKey } = generateKeyPairSync('ed25519');
    writeOwnerOnly(file, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    created = true;
    return privateKey;
  };
  const privateKey = loadOrCreate(privatePath);
  const rootKey = loadOrCreate(rootKeyPath);
  if (created || !existsSync(rootPath)) {
    const root = signRoot(
      {
        format: ROOT_FORMAT,
        version: 1,
        expires: new Date(Date.now() + 10 * 365 * 24 * 3600 * 1000).toISOString(),
        threshold: 1,
        rootKeys: [rootKeyEntry(createPublicKey(rootKey))],
        publishers: [{ ...rootKeyEntry(createPublicKey(privateKey)), feeds: [...Feeds] }],
      },
      [softwareFeedSigner(rootKey)],
    );
    writeFileSync(rootPath, root);
    created = true;
  }
  return { privateKey, rootPath, privatePath, created };
}

export function spkiSha256OfCertificate(certPath: string): string {
  const cert = new X509Certificate(readFileSync(certPath));
  return createHash('sha256')
    .update(cert.publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** Everything but the data: PKI, HSM token, publisher key, staff PIN. */
export async function ensureDemoAssets(config: KioskConfig): Promise<DemoAssets> {
  assertDemo(config);
  const actions: string[] = [];
  const cards = await ensureDemoPki(config.data.dir);
  const hsm = await ensureDemoHsm(config);
  actions.push(...hsm.actions);
  const publisher = demoPublisherKey(config);
  if (publisher.created)
    actions.push(`created the demo publisher key and root of trust ${publisher.rootPath}`);
  const staffPin = config.ui.staffPin;
  if ('file' in staffPin && !existsSync(staffPin.file)) {
    writeOwnerOnly(staffPin.file, DEMO_STAFF_PIN + '\n');
    actions.push(`wrote the demo staff PIN to ${staffPin.file}`);
  }
  loadIndexKey({ ref: config.data.indexKey, dataDir: config.data.dir, demo: true });
  for (const action of actions) log.info(action);
  return { cards, publisherKey: publisher.privateKey, actions };
}

function cardByName(set: DemoCardSet, name: string): DemoCard {
  const card = set.cards.find((c) => c.name === name);
  if (!card) throw new KioskError('INTERNAL', `demo card ${name} missing from the demo PKI`);
  return card;
}

/**
 * Loads the demo whitelist and revocations into empty stores (as signed batches from the demo
 * publisher), marks them current — the demo's hub is this machine — empties the venue and puts the
 * 'already-inside' card's holder inside again.
 */
export function ensureDemoData(
  config: KioskConfig,
  data: KioskData,
  assets: DemoAssets,
  now = new Date(),
): void {
  assertDemo(config);
  const indexKey = loadIndexKey({ ref: config.data.indexKey, dataDir: config.data.dir, demo: true });
  const kid = publisherKeyId(createPublicKey(assets.publisherKey));
  const asOf = now.toISOString();
  const freshness = data.freshness(now.getTime());
  // A demo terminal pinned to a real hub's root (sync.rootPath elsewhere) gets its data from that hub.
  const seeding = data.roots.current()?.publishers.some((p) => p.keyId === kid) ?? false;
  // Only a feed that never held anything is seeded: one on a hub's epoch (the demo synced with a hub,
  // docs/sync.md) keeps that hub's data, and a demo batch would only be refused as a gap.
  const blank = (feed: 'whitelist' | 'revocations') =>
    freshness[feed].seq === 0 && data[feed].feedState().epoch === null;
  if (seeding && blank('whitelist')) {
    const ops = Object.entries(DEMO_RECORDS).map(([name, record]) => {
      const card = cardByName(assets.cards, name);
      return whitelistPutOp(indexKey, {
        issuerKeyId: card.issuerKeyIdHex,
        serial: card.serialHex,
        spkiSha256: spkiSha256OfCertificate(card.certPath),
        record,
      });
    });
    for (const { number, record } of DEMO_TICKET_NUMBERS)
      ops.push(whitelistPutOp(indexKey, { ...ticketRowIdentity(number), record }));
    const batch: FeedBatch = {
      format: 'jpki-kiosk/delta/v1',
      feed: 'whitelist',
      publisherKeyId: kid,
      epoch: DEMO_EPOCH,
      fromSeq: 0,
      toSeq: ops.length,
      asOf,
      ops,
    };
    data.applyBatch(signBatch(batch, assets.publisherKey));
  }
  if (seeding && blank('revocations')) {
    const ops = DEMO_REVOKED.map((name) => {
      const card = cardByName(assets.cards, name);
      return revocationPutOp(indexKey, {
        issuerKeyId: card.issuerKeyIdHex,
        serial: card.serialHex,
        revokedAt: '2026-10-01T00:00:00Z',
        reason: 'keyCompromise',
      });
    });
    // A QR ticket is revoked the same way, under the ticket "issuer" and its number.
    for (const id of DEMO_REVOKED_TICKETS)
      ops.push(
        revocationPutOp(indexKey, {
          issuerKeyId: TICKET_ISSUER_KEY_ID,
          serial: ticketRevocationSerial(id),
          revokedAt: '2026-10-01T00:00:00Z',
          reason: 'cessationOfOperation',
        }),
      );
    const batch: FeedBatch = {
      format: 'jpki-kiosk/delta/v1',
      feed: 'revocations',
      publisherKeyId: kid,
      epoch: DEMO_EPOCH,
      fromSeq: 0,
      toSeq: ops.length,
      asOf,
      ops,
    };
    data.applyBatch(signBatch(batch, assets.publisherKey));
  }
  if (seeding) {
    data.markSynced('whitelist', now, asOf);
    data.markSynced('revocations', now, asOf);
  }
  // Each demo run starts with an empty venue, except the holder the demo shows as already inside.
  data.terminal.resetPresence();
  for (const name of DEMO_INSIDE) {
    const subject = DEMO_RECORDS[name]?.subject;
    if (subject)
      data.terminal.setPresence({
        subject,
        state: 'inside',
        terminalId: 'demo-gate-a-2',
        gateId: 'gate-a',
        zone: 'main',
        at: now.getTime(),
      });
  }
}
