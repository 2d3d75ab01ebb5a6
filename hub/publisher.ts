// Turns what an operator imports (a whitelist file, a CRL) and what terminals push (journal rows) into
// signed batches of the feed format, and builds signed snapshots. The publisher key is Ed25519
// (protocol/feed-format.ts), in the hub's token (hub-keys.ts); terminals trust it through the root of
// trust that names it (protocol/root-of-trust.ts).
import { createHash, type KeyObject } from 'node:crypto';
import {
  signTicket,
  TICKET_ISSUER_KEY_ID,
  TICKET_NUMBER,
  ticketRevocationSerial,
  ticketRowIdentity,
  type TicketFieldsInput,
} from '../protocol/ticket.js';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { KioskError } from '../base/errors.js';
import { FRAME_HEADER_BYTES, FrameType, HUB_BATCH_OPS, frame, type FeedName } from '../protocol/sync.js';
import {
  BATCH_FORMAT,
  asFeedSigner,
  encodeRevocationValue,
  signBatch,
  type FeedSigner,
  type PublisherKey,
  type FeedBatch,
  type PeerEntryOp,
  type RevocationReason,
  type RevocationOp,
  type SnapshotFeedName,
  type WhitelistOp,
} from '../protocol/feed-format.js';
import { whitelistRow, type CardRowInput } from '../whitelist/feed-ops.js';
import { buildSnapshotFile } from './snapshot-build.js';
import {
  batchContentHash,
  CHECKPOINT_FORMAT,
  PUSH_REPLY_FORMAT,
  signCheckpoint,
  signPushReply,
  type Checkpoint,
  type SignedPushReply,
} from '../protocol/checkpoint.js';
import { sealCardRecord, type IndexKey } from '../whitelist/privacy.js';
import type { CardRecordInput } from '../whitelist/entitlements.js';
import { getLogger } from '../base/log.js';
import {
  REMOTE_CONFIG_FORMAT,
  signRemoteConfig,
  type SignedRemoteConfig,
} from '../protocol/remote-config.js';
import { CRL_STATUS_OP, type CrlIssuerStatus } from '../protocol/crl-status.js';
import type { CrlState, FeedKey, HubStore, Publication, StateRow, StoredBatch } from './store.js';

const log = getLogger('hub');

export interface PublishSummary {
  feed: FeedName;
  puts: number;
  dels: number;
  unchanged: number;
  batches: number;
  head: number;
}

export interface RevocationEntry {
  issuerKeyId: string;
  serial: string;
  /** Seconds since 1970. */
  at: number;
  reason: RevocationReason;
}

type AnyOp = WhitelistOp | RevocationOp | PeerEntryOp;
/** A revocation op that changes a row (not the status-only op). */
type RevocationRowOp = Exclude<RevocationOp, { op: typeof CRL_STATUS_OP }>;

/** A scope's CRL state as terminals are told it. */
export function crlStatusOf(c: CrlState & { nextUpdate: number }): CrlIssuerStatus {
  return {
    issuerKeyId: c.issuerKeyId,
    ...(c.partition !== null ? { partition: c.partition } : {}),
    crlNumber: c.crlNumber,
    thisUpdate: new Date(c.thisUpdate).toISOString(),
    nextUpdate: new Date(c.nextUpdate).toISOString(),
  };
}

/** Canonical JSON (sorted keys) so that the same input always has the same digest. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const sha = (s: string | Buffer): Buffer => createHash('sha256').update(s).digest();

/**
 * Puts in key order: B-tree inserts then append instead of scattering (the hub's state table and every
 * terminal's store both write far less). Keys are unique within a publication, so order does not change
 * what the batch means; dels (already sorted) follow the puts. Sorted by hex key (string comparison is
 * much cheaper than Buffer.compare at a million rows).
 */
function sortByKey<O extends { op: string; k: string }>(ops: O[], puts: StateRow[]): void {
  const pairs: Array<[O, StateRow]> = [];
  const dels: O[] = [];
  let p = 0;
  for (const o of ops) {
    if (o.op === 'put') pairs.push([o, puts[p++]!]);
    else dels.push(o);
  }
  pairs.sort((x, y) => (x[0].k < y[0].k ? -1 : x[0].k > y[0].k ? 1 : 0));
  let i = 0;
  for (const [o, row] of pairs) {
    puts[i] = row;
    ops[i++] = o;
  }
  for (const o of dels) ops[i++] = o;
}

/** One stored batch frame signed again by `signer`, or null when it already is. */
function resignFrame(frameGz: Buffer, signer: FeedSigner): Buffer | null {
  const raw = gunzipSync(frameGz);
  const signed = raw.subarray(FRAME_HEADER_BYTES);
  const nl = signed.indexOf(0x0a);
  const header = JSON.parse(signed.subarray(0, nl).toString('utf8')) as { kid: string };
  if (header.kid === signer.keyId) return null;
  const batch = JSON.parse(signed.subarray(nl + 1).toString('utf8')) as FeedBatch;
  batch.publisherKeyId = signer.keyId;
  return gzipSync(frame(raw[0]!, signBatch(batch, signer)), { level: 6 });
}

export class Publisher {
  private readonly source: () => FeedSigner;

  /**
   * `publisherKey`: a key, or a function answering the current one (hub-keys.ts: the key the hub's root
   * of trust names, which a rotation replaces while the hub runs). Read at every signature.
   */
  constructor(
    private readonly store: HubStore,
    publisherKey: PublisherKey | (() => FeedSigner),
    /** The fleet index key: row keys of cards (companions.ts rewrites rows by it). */
    readonly indexKey: IndexKey,
    private readonly snapshotDir: string,
    private readonly now: () => number = Date.now,
  ) {
    if (typeof publisherKey === 'function') this.source = publisherKey;
    else {
      const fixed = asFeedSigner(publisherKey);
      this.source = () => fixed;
    }
    if (this.publicKey.asymmetricKeyType !== 'ed25519')
      throw new KioskError('CONFIG_INVALID', 'the hub publisher key must be Ed25519');
  }

  private get signer(): FeedSigner {
    return this.source();
  }

  get keyId(): string {
    return this.signer.keyId;
  }

  get publicKey(): KeyObject {
    return this.signer.publicKey;
  }

  /** A QR ticket for a person without a card, signed by the current publisher key (protocol/ticket.ts). */
  issueTicket(fields: TicketFieldsInput): string {
    return signTicket(fields, this.signer);
  }

  /** Revokes a ticket through the revocation feed: terminals refuse it after their next pull. */
  revokeTicket(ticketId: string, at: number, note: string): PublishSummary {
    const entry: RevocationEntry = {
      issuerKeyId: TICKET_ISSUER_KEY_ID,
      serial: ticketRevocationSerial(ticketId),
      at,
      reason: 'cessationOfOperation',
    };
    return this.publishRevocations(TICKET_ISSUER_KEY_ID, [entry], note);
  }

  /**
   * After a rotation: every stored batch not signed by the current key is signed again by it (same
   * content, the new publisherKeyId), and built snapshots are dropped so that they are rebuilt under the
   * new key. Terminals that trust the new root keep syncing; the old key's batches are gone from the hub.
   */
  resignAll(): { batches: number } {
    const signer = this.signer;
    const batches = this.store.resignBatches((frameGz) => resignFrame(frameGz, signer));
    if (existsSync(this.snapshotDir))
      for (const f of readdirSync(this.snapshotDir))
        if (f.endsWith('.frames.gz')) rmSync(join(this.snapshotDir, f), { force: true });
    log.info({ batches, keyId: signer.keyId }, 'stored batches signed again by the new publisher key');
    return { batches };
  }

  /** Signs ops as one batch (fromSeq, fromSeq + n] and wraps it as a gzip member of one frame. */
  makeBatch(
    feed: FeedName,
    fromSeq: number,
    ops: AnyOp[],
    key: FeedKey = feed,
    issuers?: CrlIssuerStatus[],
  ): StoredBatch {
    const info = this.store.feedInfo(key);
    const batch = {
      format: BATCH_FORMAT,
      publisherKeyId: this.keyId,
      epoch: info.epoch,
      fromSeq,
      toSeq: fromSeq + ops.length,
      asOf: new Date(this.now()).toISOString(),
      feed,
      ops,
      ...(issuers !== undefined ? { issuers } : {}),
    } as FeedBatch;
    const signed = signBatch(batch, this.signer);
    return {
      fromSeq,
      toSeq: batch.toSeq,
      frameGz: gzipSync(frame(FrameType.batch, signed), { level: 6 }),
      sha256: batchContentHash(signed),
    };
  }

  /** Signs a pull answer's checkpoint (protocol/checkpoint.ts) with the publisher key. */
  signCheckpoint(c: Omit<Checkpoint, 'format' | 'publisherKeyId'>): Buffer {
    return signCheckpoint({ format: CHECKPOINT_FORMAT, publisherKeyId: this.keyId, ...c }, this.signer);
  }

  /** Signs a journal-push reply bound to the request's nonce. */
  signPushReply(r: Omit<SignedPushReply, 'format' | 'publisherKeyId'>): Buffer {
    return signPushReply({ format: PUSH_REPLY_FORMAT, publisherKeyId: this.keyId, ...r }, this.signer);
  }

  /** Signs a remote configuration answer bound to the request's nonce (protocol/remote-config.ts). */
  signRemoteConfig(c: Omit<SignedRemoteConfig, 'format' | 'publisherKeyId'>): Buffer {
    return signRemoteConfig({ format: REMOTE_CONFIG_FORMAT, publisherKeyId: this.keyId, ...c }, this.signer);
  }

  private publishOps(
    feed: FeedName,
    ops: AnyOp[],
    puts: StateRow[],
    dels: Buffer[],
    note: string,
    unchanged: number,
    crl?: CrlState & { nextUpdate: number },
    spend?: Publication['spendTransferCode'],
  ): PublishSummary {
    let from = this.store.feedInfo(feed).head;
    // A CRL is published with the status it leaves (every scope's, on the last batch only: a terminal
    // that stops between batches of one CRL keeps the previous status). A CRL that changes no serial
    // still moves the status: one status-only op, unless the status is already what terminals hold.
    let issuers: CrlIssuerStatus[] | undefined;
    if (crl) {
      const status = crlStatusOf(crl);
      const before = this.store.crlStatuses();
      const others = before.filter(
        (s) => s.issuerKeyId !== status.issuerKeyId || s.partition !== status.partition,
      );
      issuers = [...others, status].sort((a, b) =>
        a.issuerKeyId + '#' + (a.partition ?? '') < b.issuerKeyId + '#' + (b.partition ?? '') ? -1 : 1,
      );
      if (ops.length === 0 && canonicalJson(before) !== canonicalJson(issuers)) ops = [{ op: CRL_STATUS_OP }];
    }
    const batches: Array<{
      fromSeq: number;
      toSeq: number;
      opCount: number;
      frameGz: Buffer;
      publishedAt: number;
    }> = [];
    const at = this.now();
    for (let i = 0; i < ops.length; i += HUB_BATCH_OPS) {
      const slice = ops.slice(i, i + HUB_BATCH_OPS);
      const last = i + HUB_BATCH_OPS >= ops.length;
      const b = this.makeBatch(feed, from, slice, feed, last ? issuers : undefined);
      batches.push({ ...b, opCount: slice.length, publishedAt: at });
      from = b.toSeq;
    }
    if (batches.length > 0)
      this.store.publish({
        feed,
        puts,
        dels,
        batches,
        note,
        ...(crl ? { crl } : {}),
        ...(spend ? { spendTransferCode: spend } : {}),
      });
    else if (crl) this.store.publish({ feed, puts, dels, batches, note, crl });
    log.info({ feed, puts: puts.length, dels: dels.length, batches: batches.length, note }, 'published');
    return { feed, puts: puts.length, dels: dels.length, unchanged, batches: batches.length, head: from };
  }

  /**
   * Replaces the published whitelist with `rows`: only the difference is published. Ticket holder rows
   * (publishTicketHolders) are their own scope: a card import neither lists nor deletes them.
   */
  publishWhitelist(rows: Iterable<CardRowInput>, note: string): PublishSummary {
    const current = this.store.stateDigests('whitelist');
    for (const k of this.store.stateDigests('whitelist', TICKET_ISSUER_KEY_ID).keys()) current.delete(k);
    return this.publishWhitelistRows(rows, current, note);
  }

  /**
   * Replaces the published ticket holder rows (staff find a holder by ticket number offline when the
   * card is forgotten; protocol/ticket.ts ticketRowIdentity): one row per number, under the ticket's
   * revocation key, sealed under the number, holding the holder's record.
   */
  publishTicketHolders(
    holders: Iterable<{ ticketNumber: string; record: CardRowInput['record'] }>,
    note: string,
  ): PublishSummary {
    const rows: CardRowInput[] = [];
    for (const h of holders) {
      if (!TICKET_NUMBER.test(h.ticketNumber))
        throw new KioskError('IMPORT_INVALID', 'a ticket number is 4–32 letters, digits and dashes');
      rows.push({ ...ticketRowIdentity(h.ticketNumber), record: h.record });
    }
    const current = this.store.stateDigests('whitelist', TICKET_ISSUER_KEY_ID);
    return this.publishWhitelistRows(rows, current, note);
  }

  private publishWhitelistRows(
    rows: Iterable<CardRowInput>,
    current: Map<string, string>,
    note: string,
  ): PublishSummary {
    const seen = new Set<string>();
    const ops: WhitelistOp[] = [];
    const puts: StateRow[] = [];
    let unchanged = 0;
    for (const input of rows) {
      const k = this.indexKey.cardKey(input.issuerKeyId, input.serial);
      const kHex = k.toString('hex');
      if (seen.has(kHex))
        throw new KioskError(
          'IMPORT_INVALID',
          `card ${input.issuerKeyId}/${input.serial} appears twice in the import`,
        );
      seen.add(kHex);
      const h = sha(canonicalJson(input));
      if (current.get(kHex) === h.toString('hex')) {
        unchanged++;
        continue;
      }
      const row = whitelistRow(this.indexKey, input);
      ops.push({ op: 'put', k: kHex, v: row.v.toString('base64') });
      puts.push({ k, h, v: row.v, scope: input.issuerKeyId.toLowerCase() });
    }
    const dels: Buffer[] = [];
    for (const kHex of [...current.keys()].sort()) {
      if (seen.has(kHex)) continue;
      ops.push({ op: 'del', k: kHex });
      dels.push(Buffer.from(kHex, 'hex'));
    }
    sortByKey(ops, puts);
    return this.publishOps('whitelist', ops, puts, dels, note, unchanged);
  }

  /**
   * Puts these card rows, each sealed for its row key (and only these; nothing is deleted), as one
   * publication, with a transfer code spent in the same transaction when `spend` is given
   * (companions.ts): all of it or nothing. `input` is what the row's digest is computed over.
   */
  publishSealedRows(
    rows: Array<{ k: Buffer; spkiSha256: string; record: CardRecordInput; scope: string; input: unknown }>,
    note: string,
    spend?: Publication['spendTransferCode'],
  ): PublishSummary {
    const ops: WhitelistOp[] = [];
    const puts: StateRow[] = [];
    for (const r of rows) {
      const v = sealCardRecord(r.record, r.k, r.spkiSha256);
      ops.push({ op: 'put', k: r.k.toString('hex'), v: v.toString('base64') });
      puts.push({ k: r.k, h: sha(canonicalJson(r.input)), v, scope: r.scope.toLowerCase() });
    }
    sortByKey(ops, puts);
    return this.publishOps('whitelist', ops, puts, [], note, 0, undefined, spend);
  }

  /**
   * Replaces one scope's revocations with `entries` (a complete CRL is complete for its issuer, or for its
   * allowed partition); `crl` is the state the CRL leaves, published with it and stored in the same
   * transaction. Without `crl` (tools, tests) the scope is the issuer and no CRL status moves.
   */
  publishRevocations(
    issuerKeyId: string,
    entries: Iterable<RevocationEntry>,
    note: string,
    crl?: CrlState & { nextUpdate: number },
  ): PublishSummary {
    const issuer = issuerKeyId.toLowerCase();
    const scope = crl?.scope ?? issuer;
    const current = this.store.stateDigests('revocations', scope);
    const seen = new Set<string>();
    const { ops, puts, unchanged } = this.revocationPuts(issuer, entries, current, seen, scope);
    const dels: Buffer[] = [];
    for (const kHex of [...current.keys()].sort()) {
      if (seen.has(kHex)) continue;
      ops.push({ op: 'del', k: kHex });
      dels.push(Buffer.from(kHex, 'hex'));
    }
    sortByKey(ops, puts);
    return this.publishOps('revocations', ops, puts, dels, note, unchanged, crl);
  }

  /**
   * The put ops for revocation entries of one issuer: a serial listed twice counts once (the first entry
   * wins), an entry the hub already holds unchanged is only counted. Fills `seen` with the row keys.
   */
  private revocationPuts(
    issuer: string,
    entries: Iterable<RevocationEntry>,
    current: Map<string, string>,
    seen: Set<string>,
    scope: string,
  ): { ops: RevocationRowOp[]; puts: StateRow[]; unchanged: number } {
    const ops: RevocationRowOp[] = [];
    const puts: StateRow[] = [];
    let unchanged = 0;
    for (const e of entries) {
      const k = this.indexKey.cardKey(issuer, e.serial);
      const kHex = k.toString('hex');
      if (seen.has(kHex)) continue;
      seen.add(kHex);
      const v = encodeRevocationValue(e.at, e.reason);
      const h = sha(v);
      if (current.get(kHex) === h.toString('hex')) {
        unchanged++;
        continue;
      }
      ops.push({ op: 'put', k: kHex, at: e.at, reason: e.reason });
      puts.push({ k, h, v, scope });
    }
    return { ops, puts, unchanged };
  }

  /**
   * Applies a delta CRL to its scope (RFC 5280 §5.2.4): the listed entries are added, the `removals`
   * (removeFromCRL) deleted, and nothing else — the delta is never taken as a complete list.
   */
  applyRevocationDelta(
    issuerKeyId: string,
    additions: Iterable<RevocationEntry>,
    removals: Iterable<string>,
    note: string,
    crl: CrlState & { nextUpdate: number },
  ): PublishSummary {
    const issuer = issuerKeyId.toLowerCase();
    const current = this.store.stateDigests('revocations', crl.scope);
    const seen = new Set<string>();
    const { ops, puts, unchanged } = this.revocationPuts(issuer, additions, current, seen, crl.scope);
    const dels: Buffer[] = [];
    const removed = new Set<string>();
    for (const serial of removals) {
      const kHex = this.indexKey.cardKey(issuer, serial).toString('hex');
      if (seen.has(kHex) || removed.has(kHex) || !current.has(kHex)) continue;
      removed.add(kHex);
    }
    for (const kHex of [...removed].sort()) {
      ops.push({ op: 'del', k: kHex });
      dels.push(Buffer.from(kHex, 'hex'));
    }
    sortByKey(ops, puts);
    return this.publishOps('revocations', ops, puts, dels, note, unchanged, crl);
  }

  /**
   * The signed snapshot of a feed as a file of gzip members (manifest frame, rows frames, end frame),
   * built once per (feed, epoch, seq) and then served to every terminal that needs it.
   */
  async snapshotFile(feed: SnapshotFeedName): Promise<{ file: string; seq: number }> {
    mkdirSync(this.snapshotDir, { recursive: true });
    const info = this.store.feedInfo(feed);
    const name = `${feed}-${info.epoch}-${info.head}.frames.gz`;
    const file = join(this.snapshotDir, name);
    if (existsSync(file)) return { file, seq: info.head };
    const existing = this.building.get(name);
    if (existing) return existing;
    const build = () => this.buildSnapshot(feed, info.epoch, file, name);
    const job = (this.store.snapshotOnce ? this.store.snapshotOnce(name, file, build) : build()).finally(() =>
      this.building.delete(name),
    );
    this.building.set(name, job);
    return job;
  }

  private readonly building = new Map<string, Promise<{ file: string; seq: number }>>();

  /** Where the snapshot of (feed, epoch, seq) is kept once built (it may not exist). */
  snapshotFileAt(feed: SnapshotFeedName, epoch: string, seq: number): string {
    return join(this.snapshotDir, `${feed}-${epoch}-${seq}.frames.gz`);
  }

  private async buildSnapshot(
    feed: SnapshotFeedName,
    epoch: string,
    file: string,
    name: string,
  ): Promise<{ file: string; seq: number }> {
    const started = this.now();
    const built = await buildSnapshotFile({
      store: this.store,
      feed,
      epoch,
      file,
      signer: this.signer,
      now: this.now,
    });
    // Older snapshots of this feed are no longer served.
    for (const old of readdirSync(this.snapshotDir))
      if (old.startsWith(`${feed}-`) && old !== name && old.endsWith('.frames.gz'))
        rmSync(join(this.snapshotDir, old), { force: true });
    log.info({ feed, seq: built.seq, rows: built.rows, ms: this.now() - started }, 'snapshot built');
    return { file, seq: built.seq };
  }

  /** Writes the publisher's public key (what terminals pin) as PEM. */
  writePublicKey(file: string): void {
    writeFileSync(file, this.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  }
}
