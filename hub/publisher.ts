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
import { basename, join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { KioskError } from '../base/errors.js';
import { FRAME_HEADER_BYTES, FrameType, HUB_BATCH_OPS, frame, type FeedName } from '../protocol/sync.js';
import {
  BATCH_FORMAT,
  asFeedSigner,
  encodeRevocationValue,
  signBatch,
  signBatchJson,
  type FeedSigner,
  type PublisherKey,
  type FeedBatch,
  type PeerEntryOp,
  type RevocationReason,
  type RevocationOp,
  type SnapshotFeedName,
  type WhitelistOp,
} from '../protocol/feed-format.js';
import type { CardRowInput } from '../whitelist/feed-ops.js';
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
import { sealCardRecord, sealEncodedRecord, type IndexKey } from '../whitelist/privacy.js';
import { encodeCardRecord } from '../whitelist/entitlements.js';
import { Staging, revocationDigests, type StagedRow } from './publish-staging.js';
import { RevocationStager, type PublishThread } from './publish-thread.js';
import type { CardRecordInput } from '../whitelist/entitlements.js';
import { getLogger } from '../base/log.js';
import {
  REMOTE_CONFIG_FORMAT,
  signRemoteConfig,
  type SignedRemoteConfig,
} from '../protocol/remote-config.js';
import { CRL_STATUS_OP, type CrlIssuerStatus } from '../protocol/crl-status.js';
import { VENUE_ROSTER_FORMAT, signVenueRoster, type SignedVenueRoster } from '../protocol/venue-roster.js';
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

// Level 3: within a few per cent of level 6's size at less than half its time (a 10-million-row import
// gzips a gigabyte of ops). Any level is the same gzip to a terminal.
const BATCH_GZIP_LEVEL = 3;

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
    readonly now: () => number = Date.now,
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

  /**
   * A complete import (whitelist, CRL) is published in chunks, each one store transaction of up to
   * `chunkBatches` signed batches of `batchOps` ops (tests make them small to see several chunks).
   */
  batchOps = HUB_BATCH_OPS;
  chunkBatches = 2;
  /** Where an import's rows are staged while it is published (scratch files, removed afterwards). */
  private get stagingDir(): string {
    return join(this.snapshotDir, 'staging');
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
        if (/\.frames\.gz(\.sha256)?$/.test(f)) rmSync(join(this.snapshotDir, f), { force: true });
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
    const { toSeq, signed } = this.signedBatch(feed, fromSeq, ops, key, issuers);
    return {
      fromSeq,
      toSeq,
      frameGz: gzipSync(frame(FrameType.batch, signed), { level: BATCH_GZIP_LEVEL }),
      sha256: batchContentHash(signed),
    };
  }

  /** The signed batch (fromSeq, fromSeq + n] of makeBatch, before it is framed and gzipped. */
  signedBatch(
    feed: FeedName,
    fromSeq: number,
    ops: AnyOp[],
    key: FeedKey = feed,
    issuers?: CrlIssuerStatus[],
  ): { toSeq: number; signed: Buffer } {
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
    return { toSeq: batch.toSeq, signed: signBatch(batch, this.signer) };
  }

  /**
   * signedBatch for ops already serialised (`ops`: the UTF-8 of their JSON, comma-separated, `count`
   * of them): the same signed bytes as the op objects would give.
   */
  signedBatchJson(
    feed: FeedName,
    fromSeq: number,
    ops: Buffer,
    count: number,
    issuers?: CrlIssuerStatus[],
  ): { toSeq: number; signed: Buffer } {
    const info = this.store.feedInfo(feed);
    const batch = {
      format: BATCH_FORMAT,
      publisherKeyId: this.keyId,
      epoch: info.epoch,
      fromSeq,
      toSeq: fromSeq + count,
      asOf: new Date(this.now()).toISOString(),
      feed,
      ops: [],
      ...(issuers !== undefined ? { issuers } : {}),
    };
    // Nothing before the ops (format, hex key id and epoch, numbers, an ISO date, the feed name) can
    // hold this text, and JSON escapes every quote inside a string: the first match is the ops field.
    const head = JSON.stringify(batch);
    const at = head.indexOf('"ops":[]') + '"ops":['.length;
    const json = Buffer.concat([
      Buffer.from(head.slice(0, at), 'utf8'),
      ops,
      Buffer.from(head.slice(at), 'utf8'),
    ]);
    return { toSeq: batch.toSeq, signed: signBatchJson(json, this.signer) };
  }

  /** Signs a pull answer's checkpoint (protocol/checkpoint.ts) with the publisher key. */
  signCheckpoint(c: Omit<Checkpoint, 'format' | 'publisherKeyId'>): Buffer {
    const signer = this.signer; // once: looking up the current key checks the key file
    return signCheckpoint({ format: CHECKPOINT_FORMAT, publisherKeyId: signer.keyId, ...c }, signer);
  }

  /** Signs a journal-push reply bound to the request's nonce. */
  signPushReply(r: Omit<SignedPushReply, 'format' | 'publisherKeyId'>): Buffer {
    const signer = this.signer;
    return signPushReply({ format: PUSH_REPLY_FORMAT, publisherKeyId: signer.keyId, ...r }, signer);
  }

  /** Signs a remote configuration answer bound to the request's nonce (protocol/remote-config.ts). */
  signRemoteConfig(c: Omit<SignedRemoteConfig, 'format' | 'publisherKeyId'>): Buffer {
    return signRemoteConfig({ format: REMOTE_CONFIG_FORMAT, publisherKeyId: this.keyId, ...c }, this.signer);
  }

  /** Signs the roster of a venue's site, bound to the venue's request nonce (protocol/venue-roster.ts). */
  signVenueRoster(r: Omit<SignedVenueRoster, 'format' | 'publisherKeyId'>): Buffer {
    return signVenueRoster({ format: VENUE_ROSTER_FORMAT, publisherKeyId: this.keyId, ...r }, this.signer);
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
      const after = this.crlIssuersAfter(crl);
      issuers = after.issuers;
      if (ops.length === 0 && after.moved) ops = [{ op: CRL_STATUS_OP }];
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
    return this.staged((st) => {
      for (const input of rows) this.stageCard(st, input);
      return this.publishStagedWhitelist(st, { except: TICKET_ISSUER_KEY_ID }, note);
    });
  }

  /** publishWhitelist for rows read as they come (a whitelist file of any size); `rows` counts them. */
  async publishWhitelistFrom(
    rows: AsyncIterable<CardRowInput>,
    note: string,
  ): Promise<PublishSummary & { rows: number }> {
    const st = new Staging(this.stagingDir);
    try {
      for await (const input of rows) this.stageCard(st, input);
      return {
        ...this.publishStagedWhitelist(st, { except: TICKET_ISSUER_KEY_ID }, note),
        rows: st.count,
      };
    } finally {
      st.close();
    }
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
    return this.staged((st) => {
      for (const h of holders) {
        if (!TICKET_NUMBER.test(h.ticketNumber))
          throw new KioskError('IMPORT_INVALID', 'a ticket number is 4–32 letters, digits and dashes');
        this.stageCard(st, { ...ticketRowIdentity(h.ticketNumber), record: h.record });
      }
      return this.publishStagedWhitelist(st, { only: TICKET_ISSUER_KEY_ID }, note);
    });
  }

  private staged<T>(fn: (st: Staging) => T): T {
    const st = new Staging(this.stagingDir);
    try {
      return fn(st);
    } finally {
      st.close();
    }
  }

  /**
   * Stages one card row, validated and encoded (a bad row fails the import before any of it is
   * published); it is sealed only if it changed.
   */
  private stageCard(st: Staging, input: CardRowInput): void {
    const k = this.indexKey.cardKey(input.issuerKeyId, input.serial);
    const plain = encodeCardRecord(input.record);
    st.add({
      k,
      h: sha(canonicalJson(input)),
      v: plain,
      scope: input.issuerKeyId.toLowerCase(),
      label: `${input.issuerKeyId}/${input.serial}`,
      spki: spkiBytes(input.spkiSha256),
      at: null,
    });
  }

  private publishStagedWhitelist(
    st: Staging,
    current: { only: string } | { except: string },
    note: string,
  ): PublishSummary {
    const dup = st.firstDuplicate();
    if (dup !== null) throw new KioskError('IMPORT_INVALID', `card ${dup} appears twice in the import`);
    return this.publishStaged(
      'whitelist',
      st,
      current,
      note,
      (r) => r.h!,
      (r, h, out) => {
        const v = sealEncodedRecord(r.v, r.k, r.spki!);
        out.putSealed({ k: r.k, h, v, scope: r.scope! });
      },
    );
  }

  /**
   * The streamed publication of a complete import: the staged rows and the current rows of the scope,
   * both in key order, merge into ops in key order (a put for a new or changed row, a del for a row
   * gone, an unchanged row only counted; of a key staged twice the first row counts), and the ops are
   * published a chunk at a time, each chunk one store transaction of whole signed batches. Every chunk
   * leaves a consistent published state (the import applied below some key); the CRL state moves with
   * the last one only. A run stopped between chunks is completed by running the import again.
   */
  private publishStaged(
    feed: 'whitelist' | 'revocations',
    st: Staging,
    scope: { only: string } | { except: string },
    note: string,
    digest: (r: StagedRow) => Buffer,
    put: (r: StagedRow, h: Buffer, out: ChunkedPublication) => void,
    crl?: CrlState & { nextUpdate: number },
    thread?: PublishThread,
  ): PublishSummary {
    this.store.streamedPublication?.(true);
    try {
      const out = new ChunkedPublication(this, this.store, feed, note, crl, thread);
      const current = this.currentDigests(feed, scope);
      let c = current.next();
      let previous: Buffer | null = null;
      let unchanged = 0;
      for (const r of st.sorted()) {
        if (previous !== null && previous.equals(r.k)) continue;
        previous = r.k;
        while (!c.done && Buffer.compare(c.value.k, r.k) < 0) {
          out.del(c.value.k);
          c = current.next();
        }
        const h = digest(r);
        if (!c.done && c.value.k.equals(r.k)) {
          const same = c.value.h.equals(h);
          c = current.next();
          if (same) {
            unchanged++;
            continue;
          }
        }
        put(r, h, out);
      }
      while (!c.done) {
        out.del(c.value.k);
        c = current.next();
      }
      return out.finish(unchanged);
    } finally {
      this.store.streamedPublication?.(false);
    }
  }

  /**
   * The current (k, h) of a scope in key order, a page at a time. A page is read only once the merge
   * has passed the previous one, so the chunks already committed (all below it) never move it.
   */
  private *currentDigests(
    feed: FeedName,
    scope: { only: string } | { except: string },
  ): Generator<{ k: Buffer; h: Buffer }> {
    let after: Buffer = Buffer.alloc(0);
    for (;;) {
      const page = this.store.stateDigestPage(feed, after, DIGEST_PAGE, scope);
      yield* page;
      if (page.length < DIGEST_PAGE) return;
      after = page[page.length - 1]!.k;
    }
  }

  /** Issuers as terminals will hold them once `crl` is applied, and whether that changes anything. */
  crlIssuersAfter(crl: CrlState & { nextUpdate: number }): { issuers: CrlIssuerStatus[]; moved: boolean } {
    const status = crlStatusOf(crl);
    const before = this.store.crlStatuses();
    const others = before.filter(
      (s) => s.issuerKeyId !== status.issuerKeyId || s.partition !== status.partition,
    );
    const issuers = [...others, status].sort((a, b) =>
      a.issuerKeyId + '#' + (a.partition ?? '') < b.issuerKeyId + '#' + (b.partition ?? '') ? -1 : 1,
    );
    return { issuers, moved: canonicalJson(before) !== canonicalJson(issuers) };
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
    return this.staged((st) => {
      const stager = this.revocationStager(st, issuerKeyId);
      let thread: PublishThread | null = null;
      try {
        for (const e of entries) stager.add(e);
        thread = stager.finish();
        return this.publishStagedRevocations(st, issuerKeyId, note, crl, thread);
      } finally {
        stager.abort();
        thread?.close();
      }
    });
  }

  /** publishRevocations for entries read as they come (a CRL of any size). */
  async publishRevocationsFrom(
    issuerKeyId: string,
    entries: AsyncIterable<RevocationEntry>,
    note: string,
    crl?: CrlState & { nextUpdate: number },
  ): Promise<PublishSummary & { entries: number }> {
    const st = new Staging(this.stagingDir);
    const stager = this.revocationStager(st, issuerKeyId);
    let thread: PublishThread | null = null;
    try {
      for await (const e of entries) stager.add(e);
      thread = stager.finish();
      return { ...this.publishStagedRevocations(st, issuerKeyId, note, crl, thread), entries: st.count };
    } finally {
      stager.abort();
      thread?.close();
      st.close();
    }
  }

  /**
   * Entries staged on this thread before a complete CRL's staging moves to the publish worker thread
   * (publish-thread.ts); Infinity keeps it all on this thread.
   */
  threadAfter = 50_000;

  private revocationStager(st: Staging, issuerKeyId: string): RevocationStager {
    return new RevocationStager(
      st,
      this.indexKey,
      issuerKeyId.toLowerCase(),
      (e) => this.stageRevocation(st, issuerKeyId, e as RevocationEntry),
      this.threadAfter,
    );
  }

  private stageRevocation(st: Staging, issuerKeyId: string, e: RevocationEntry): void {
    st.add({
      k: this.indexKey.cardKey(issuerKeyId.toLowerCase(), e.serial),
      h: null,
      v: encodeRevocationValue(e.at, e.reason),
      scope: null,
      label: e.reason,
      spki: null,
      at: e.at,
    });
  }

  private publishStagedRevocations(
    st: Staging,
    issuerKeyId: string,
    note: string,
    crl?: CrlState & { nextUpdate: number },
    thread?: PublishThread | null,
  ): PublishSummary {
    const scope = crl?.scope ?? issuerKeyId.toLowerCase();
    // A revocation's digest is that of its 5-byte value (the thread stages it with the row); a CRL
    // repeats values (dates, reasons) a lot.
    const digestOf = revocationDigests();
    return this.publishStaged(
      'revocations',
      st,
      { only: scope },
      note,
      (r) => r.h ?? digestOf(r.v),
      (r, h, out) => out.putRevocation({ k: r.k, h, v: r.v, scope }, r.at!, r.label!),
      crl,
      thread ?? undefined,
    );
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
    // Only the rows the delta names are looked up: the scope may hold millions.
    const added = [...additions];
    const removing = [...removals];
    const current = this.store.stateDigestsOf(
      'revocations',
      [...added.map((e) => e.serial), ...removing].map((serial) => this.indexKey.cardKey(issuer, serial)),
      crl.scope,
    );
    const seen = new Set<string>();
    const { ops, puts, unchanged } = this.revocationPuts(issuer, added, current, seen, crl.scope);
    const dels: Buffer[] = [];
    const removed = new Set<string>();
    for (const serial of removing) {
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
    const file = this.snapshotFileAt(feed, info.epoch, info.head);
    const name = basename(file);
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

  /**
   * Where the snapshot of (feed, epoch, seq) signed by the current publisher key is kept once built (it may
   * not exist). The key is in the name: after a rotation a snapshot of the same state built under the old
   * key — in this folder, another instance's, or the database that shares built snapshots — is never
   * served again.
   */
  snapshotFileAt(feed: SnapshotFeedName, epoch: string, seq: number): string {
    return join(this.snapshotDir, `${feed}-${epoch}-${seq}-${this.keyId}.frames.gz`);
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
      if (old.startsWith(`${feed}-`) && !old.startsWith(name) && /\.frames\.gz(\.sha256)?$/.test(old))
        rmSync(join(this.snapshotDir, old), { force: true });
    log.info({ feed, seq: built.seq, rows: built.rows, ms: this.now() - started }, 'snapshot built');
    return { file, seq: built.seq };
  }

  /** Writes the publisher's public key (what terminals pin) as PEM. */
  writePublicKey(file: string): void {
    writeFileSync(file, this.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  }
}

const DIGEST_PAGE = 10_000;

/** An SPKI hash as bytes, checked while an import is staged (sealing it later cannot fail). */
function spkiBytes(value: string | Uint8Array): Buffer {
  const bytes =
    typeof value === 'string'
      ? /^[0-9a-fA-F]{64}$/.test(value)
        ? Buffer.from(value, 'hex')
        : null
      : Buffer.from(value);
  if (bytes === null || bytes.length !== 32)
    throw new KioskError('INVALID_REQUEST', 'SPKI hash must be 32 bytes (SHA-256)');
  return bytes;
}

/**
 * The ops of one streamed publication as they come, in key order: cut into signed batches of
 * `batchOps` and committed `chunkBatches` batches at a time (store.publish, one transaction each, with
 * exactly the puts and dels of its batches). A batch is signed only once the next op exists, so the last
 * batch is known when it is signed: it carries the CRL status, and the last commit the CRL state.
 * With a publish thread, the signed batches are framed, gzipped and hashed there while this thread goes
 * on with the next chunk; a chunk is committed once its frames are back (chunks still in order, one
 * chunk at most waiting).
 */
class ChunkedPublication {
  private ops = new OpsJson();
  private puts: StateRow[] = [];
  private dels: Buffer[] = [];
  private batches: PendingBatch[] = [];
  private readonly waiting: Array<{
    puts: StateRow[];
    dels: Buffer[];
    batches: PendingBatch[];
    last: boolean;
  }> = [];
  private from: number;
  private readonly at: number;
  private nPuts = 0;
  private nDels = 0;
  private nBatches = 0;
  private lastId = 0;

  constructor(
    private readonly publisher: Publisher,
    private readonly store: HubStore,
    private readonly feed: FeedName,
    private readonly note: string,
    private readonly crl?: CrlState & { nextUpdate: number },
    private readonly thread?: PublishThread,
  ) {
    this.from = store.feedInfo(feed).head;
    this.at = publisher.now();
  }

  /** A revocation put: `{op, k, at, reason}`. */
  putRevocation(row: StateRow, at: number, reason: string): void {
    this.room();
    this.ops.revocation(row.k, at, reason);
    this.keep(row);
  }

  /** A whitelist put of a sealed row: `{op, k, v}`. */
  putSealed(row: StateRow): void {
    this.room();
    this.ops.sealed(row.k, row.v);
    this.keep(row);
  }

  private arena = Buffer.alloc(0);
  private arenaUsed = 0;

  /**
   * Holds a put until its chunk commits, its bytes copied into an arena of the chunk: a staged row is a
   * view of its whole bucket, and a few changed rows of every bucket (a diff) would otherwise keep every
   * bucket in memory until the chunk is full.
   */
  private keep(row: StateRow): void {
    const n = row.k.length + row.h.length + row.v.length;
    if (this.arenaUsed + n > this.arena.length) {
      this.arena = Buffer.allocUnsafe(Math.max(ARENA_BYTES, n));
      this.arenaUsed = 0;
    }
    const a = this.arena;
    let o = this.arenaUsed;
    // TypedArray set: Buffer.copy's checks cost more than copying a few bytes.
    a.set(row.k, o);
    const k = a.subarray(o, (o += row.k.length));
    a.set(row.h, o);
    const h = a.subarray(o, (o += row.h.length));
    a.set(row.v, o);
    const v = a.subarray(o, (o += row.v.length));
    this.arenaUsed = o;
    this.puts.push({ k, h, v, scope: row.scope });
    this.nPuts++;
  }

  del(k: Buffer): void {
    this.room();
    this.ops.del(k);
    this.dels.push(k);
    this.nDels++;
  }

  private room(): void {
    if (this.ops.count < this.publisher.batchOps) return;
    this.sign(undefined);
    if (this.batches.length >= this.publisher.chunkBatches) this.commit(false);
  }

  private sign(issuers: CrlIssuerStatus[] | undefined): void {
    const opCount = this.ops.count;
    const base = { fromSeq: this.from, opCount, publishedAt: this.at };
    const { toSeq, signed } = this.publisher.signedBatchJson(
      this.feed,
      this.from,
      this.ops.take(),
      opCount,
      issuers,
    );
    if (this.thread) {
      const id = ++this.lastId;
      const own = signed.byteOffset === 0 && signed.byteLength === signed.buffer.byteLength;
      this.thread.post(
        { t: 'gzip', id, signed, level: BATCH_GZIP_LEVEL },
        own ? [signed.buffer as ArrayBuffer] : undefined,
      );
      this.batches.push({ ...base, toSeq, id });
    } else {
      const frameGz = gzipSync(frame(FrameType.batch, signed), { level: BATCH_GZIP_LEVEL });
      this.batches.push({ ...base, toSeq, frameGz, sha256: batchContentHash(signed) });
    }
    this.from = toSeq;
    this.nBatches++;
  }

  private commit(last: boolean): void {
    this.waiting.push({ puts: this.puts, dels: this.dels, batches: this.batches, last });
    this.puts = [];
    this.dels = [];
    this.batches = [];
    this.settle(last || !this.thread ? 0 : 1);
  }

  /** Commits waiting chunks, in order, until `keep` are left (their frames taken from the thread). */
  private settle(keep: number): void {
    while (this.waiting.length > keep) {
      const chunk = this.waiting[0]!;
      for (const b of chunk.batches) {
        if (b.frameGz) continue;
        const r = this.thread!.take();
        if (r.t !== 'gzip' || r.id !== b.id)
          throw new KioskError('INTERNAL', `publish worker: unexpected ${r.t} answer`);
        b.frameGz = Buffer.from(r.frameGz.buffer, r.frameGz.byteOffset, r.frameGz.byteLength);
        b.sha256 = Buffer.from(r.sha256.buffer, r.sha256.byteOffset, r.sha256.byteLength);
      }
      this.store.publish({
        feed: this.feed,
        puts: chunk.puts,
        dels: chunk.dels,
        batches: chunk.batches.map((b) => ({
          fromSeq: b.fromSeq,
          toSeq: b.toSeq,
          opCount: b.opCount,
          publishedAt: b.publishedAt,
          frameGz: b.frameGz!,
          sha256: b.sha256!,
        })),
        note: this.note,
        ...(chunk.last && this.crl ? { crl: this.crl } : {}),
      });
      this.waiting.shift();
    }
  }

  finish(unchanged: number): PublishSummary {
    let issuers: CrlIssuerStatus[] | undefined;
    if (this.crl) {
      const after = this.publisher.crlIssuersAfter(this.crl);
      issuers = after.issuers;
      // A CRL that changes no serial still moves the status: one status-only op, unless terminals
      // already hold it.
      if (this.nPuts + this.nDels === 0 && after.moved) this.ops.raw({ op: CRL_STATUS_OP });
    }
    if (this.ops.count > 0) this.sign(issuers);
    if (this.batches.length > 0 || this.crl) this.commit(true);
    else this.settle(0);
    log.info(
      { feed: this.feed, puts: this.nPuts, dels: this.nDels, batches: this.nBatches, note: this.note },
      'published',
    );
    return {
      feed: this.feed,
      puts: this.nPuts,
      dels: this.nDels,
      unchanged,
      batches: this.nBatches,
      head: this.from,
    };
  }
}

/** A batch of a chunk: its frame and hash are filled in when the publish thread hands them back. */
interface PendingBatch {
  fromSeq: number;
  toSeq: number;
  opCount: number;
  publishedAt: number;
  id?: number;
  frameGz?: Buffer;
  sha256?: Buffer;
}

/** Bytes of the arenas a chunk's puts are copied into. */
const ARENA_BYTES = 256 * 1024;
const HEX = Buffer.from('0123456789abcdef', 'latin1');
const OP_PUT_K = Buffer.from('{"op":"put","k":"', 'latin1');
const OP_DEL_K = Buffer.from('{"op":"del","k":"', 'latin1');
const OP_AT = Buffer.from('","at":', 'latin1');
const OP_V = Buffer.from('","v":"', 'latin1');

/**
 * The ops of one batch as the UTF-8 of their JSON.stringify, written as they come: the same bytes as
 * the op objects stringified (keys in the order the ops have always been built), without an object
 * and a hex string per op for the garbage collector.
 */
class OpsJson {
  private buf = Buffer.allocUnsafe(1 << 20);
  private len = 0;
  count = 0;
  private readonly reasons = new Map<string, Buffer>();

  private room(n: number): void {
    if (this.len + n + 1 <= this.buf.length) {
      if (this.count > 0) this.buf[this.len++] = 0x2c;
      this.count++;
      return;
    }
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n + 1));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
    this.room(n);
  }

  private bytes(b: Buffer): void {
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  private hex(k: Buffer): void {
    const buf = this.buf;
    let o = this.len;
    for (let i = 0; i < k.length; i++) {
      const x = k[i]!;
      buf[o++] = HEX[x >> 4]!;
      buf[o++] = HEX[x & 15]!;
    }
    this.len = o;
  }

  revocation(k: Buffer, at: number, reason: string): void {
    let tail = this.reasons.get(reason);
    if (!tail) this.reasons.set(reason, (tail = Buffer.from(`,"reason":${JSON.stringify(reason)}}`, 'utf8')));
    const num = JSON.stringify(at);
    this.room(OP_PUT_K.length + 2 * k.length + OP_AT.length + num.length + tail.length);
    this.bytes(OP_PUT_K);
    this.hex(k);
    this.bytes(OP_AT);
    this.len += this.buf.write(num, this.len, 'latin1');
    this.bytes(tail);
  }

  sealed(k: Buffer, v: Buffer): void {
    const b64 = v.toString('base64');
    this.room(OP_PUT_K.length + 2 * k.length + OP_V.length + b64.length + 2);
    this.bytes(OP_PUT_K);
    this.hex(k);
    this.bytes(OP_V);
    this.len += this.buf.write(b64, this.len, 'latin1');
    this.buf[this.len++] = 0x22;
    this.buf[this.len++] = 0x7d;
  }

  del(k: Buffer): void {
    this.room(OP_DEL_K.length + 2 * k.length + 2);
    this.bytes(OP_DEL_K);
    this.hex(k);
    this.buf[this.len++] = 0x22;
    this.buf[this.len++] = 0x7d;
  }

  raw(op: AnyOp): void {
    const json = Buffer.from(JSON.stringify(op), 'utf8');
    this.room(json.length);
    this.bytes(json);
  }

  /** The ops written so far (a copy), and a fresh start. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.len));
    this.len = 0;
    this.count = 0;
    return out;
  }
}
