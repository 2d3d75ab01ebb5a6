// The reference hub's HTTP service (fastify). Terminal endpoints under /v1 require an RFC 9421
// signature by a registered terminal key (request-auth.ts); the status page is read-only and guarded
// by the status token (status-access.ts). Writes are coalesced (write-batching.ts). Loopback HTTP in
// tests; in a deployment TLS terminates in front of it or via `https` options (docs/sync.md).
import { EventEmitter, once } from 'node:events';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { KioskError, type ErrorCode } from '../base/errors.js';
import {
  Feeds,
  FrameType,
  MEDIA_TYPE,
  PROTOCOL_VERSION,
  PUSH_REPLY_MEDIA_TYPE,
  PushBody,
  frame,
  jsonFrame,
  type FeedName,
} from '../protocol/sync.js';
import { nonceOf } from '../protocol/checkpoint.js';
import {
  CONTENT_PREFIX,
  DYNAMIC_CACHE_CONTROL,
  IMMUTABLE_CACHE_CONTROL,
  contentEtag,
  parseContentPath,
  type ContentRef,
} from '../protocol/content.js';
import {
  FileHashes,
  StoreContent,
  batchRef,
  snapshotRef,
  type ContentLookup,
  type ContentSource,
} from './content.js';
import { SnapshotFeeds, type SnapshotFeedName } from '../protocol/feed-format.js';
import { getLogger } from '../base/log.js';
import { normalizeAuthority } from '../protocol/http-signature.js';
import type { Publisher } from './publisher.js';
import { presenceFromRow } from './presence.js';
import { peerFeedKey, registrationOf, type FeedKey, type HubStore, type TerminalRecord } from './store.js';
import { RequestAuthenticator, type AuthResult } from './request-auth.js';
import { renderStatusPage, statusModel, statusPageHeaders } from './status-page.js';
import { JournalGroupCommit, Sightings } from './write-batching.js';
import { enrol } from './enrolment.js';
import { bindCompanion } from './companions.js';
import { COMPANION_BIND_PATH, CompanionBindRequest } from '../protocol/companion.js';
import { hubMetrics } from './metrics.js';
import { readFileSync } from 'node:fs';
import {
  STATUS_CHALLENGE,
  presentsStatusToken,
  statusAccessPolicy,
  type StatusTokenDigest,
} from './status-access.js';

const log = getLogger('hub');

/** Objects merge key by key; anything else from the later layer replaces. */
function mergeJson(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const prior = out[k];
    const isObj = (x: unknown): x is Record<string, unknown> =>
      typeof x === 'object' && x !== null && !Array.isArray(x);
    out[k] = isObj(prior) && isObj(v) ? mergeJson(prior, v) : v;
  }
  return out;
}

export interface HubOptions {
  store: HubStore;
  publisher: Publisher;
  hubId: string;
  /** The signed roots of trust, for terminals catching up with a key rotation (GET /v1/root). */
  roots?: { rootsAfter(after: number): Buffer[] } | null;
  /** A request whose `created` is further than this from hub time is refused (and the hub time returned). */
  maxSkewSeconds?: number;
  /** Send a snapshot instead of deltas when more than max(snapshotMinOps, rows/2) ops are pending. */
  snapshotMinOps?: number;
  /** Most batches per answer (the terminal asks again while `more`). */
  maxBatchesPerAnswer?: number;
  maxWaitSeconds?: number;
  /** How long a pull waits for a snapshot being built before it is answered 503 (come back later). */
  snapshotWaitMs?: number;
  /**
   * The name(s) terminals reach this hub by, as RFC 9421 "@authority" (`host:port`, the scheme's default
   * port left out): a request signed for any other authority is refused. Default: the address the server
   * is bound to (e.g. `127.0.0.1:8630`). Never taken from the request's Host header.
   */
  authority?: string | readonly string[] | null;
  /** TLS for a hub that terminates it itself (PEM key and certificate chain). */
  https?: { key: Buffer; cert: Buffer } | null;
  /**
   * Required to read the status page (`readStatusToken`). Without it the page is open on a loopback
   * address and refused (403) on any other.
   */
  statusToken?: StatusTokenDigest | null;
  /** How long a pull answer's checkpoint stays current (default 48 h): past it a terminal counts as stale. */
  checkpointValiditySeconds?: number;
  /**
   * How often a held long poll re-reads its feed's head besides being woken (default 1 s; 5 s when the
   * store announces changes across processes). Tests raise it to show that the wake-up did the work.
   */
  longPollRecheckMs?: number;
  /**
   * A venue hub (venue.ts): whitelist and revocations are its mirror of the central hub, served by
   * content address only; `publisher` then signs with the venue key the root delegated to its site.
   */
  contentSource?: ContentSource | null;
  /** A venue hub: its delegation, handed to terminals with GET /v1/root. */
  delegation?: (() => Buffer | null) | null;
  /**
   * A central hub: the site a venue hub (by its terminal id here) was delegated, from the delegations the
   * root signed; such a venue may forward the journals of that site's terminals (POST /v1/venue/journal).
   */
  venues?: { siteOf(venueId: string): string | null } | null;
  /** The hub's root.json (what terminals pin): handed to a terminal at enrolment. */
  rootFile?: string | null;
  now?: () => number;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  HUB_UNKNOWN_TERMINAL: 403,
  SYNC_REFUSED: 401,
  CLOCK_FAULT: 401,
  INVALID_REQUEST: 400,
  SYNC_PROTOCOL: 409,
  SYNC_UNREACHABLE: 503,
  JOURNAL_BROKEN: 409,
  ENROL_CODE_UNKNOWN: 403,
  ENROL_CODE_USED: 409,
  ENROL_CODE_EXPIRED: 410,
  TRANSFER_CODE_UNKNOWN: 403,
  TRANSFER_CODE_USED: 409,
  TRANSFER_CODE_EXPIRED: 410,
  TRANSFER_REFUSED: 409,
  ENROL_KEY_REGISTERED: 409,
  ENROL_PROOF_INVALID: 401,
  HUB_TERMINAL_EXISTS: 409,
  TERMINAL_DISABLED: 403,
  TERMINAL_RETIRING: 409,
  TERMINAL_RETIRED: 403,
};

export interface Hub {
  app: FastifyInstance;
  /**
   * Wakes long-polling pulls of a feed (imports in this process call it; other processes are polled, or
   * announced by a shared store).
   */
  notify(feed: FeedName): void;
  close(): Promise<void>;
}

export function createHub(o: HubOptions): Hub {
  const now = o.now ?? Date.now;
  const maxSkew = (o.maxSkewSeconds ?? 300) * 1000;
  const snapshotMinOps = o.snapshotMinOps ?? 100_000;
  const maxBatches = o.maxBatchesPerAnswer ?? 64;
  const maxWait = o.maxWaitSeconds ?? 30;
  const snapshotWaitMs = o.snapshotWaitMs ?? 5_000;
  const checkpointValidityMs = (o.checkpointValiditySeconds ?? 48 * 3600) * 1000;
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let closing = false;

  const app = (
    o.https
      ? Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024, forceCloseConnections: true, https: o.https })
      : Fastify({ logger: false, bodyLimit: 16 * 1024 * 1024, forceCloseConnections: true })
  ) as FastifyInstance;
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  // Only content-addressed pieces may be kept by a cache; everything else answers one signed request.
  app.addHook('onSend', async (req, reply, payload) => {
    if (!reply.hasHeader('cache-control') && !req.url.startsWith(CONTENT_PREFIX))
      reply.header('cache-control', DYNAMIC_CACHE_CONTROL);
    return payload;
  });

  const fail = (reply: FastifyReply, code: ErrorCode, message: string, status = STATUS[code] ?? 500) =>
    reply.code(status).send({ error: { code, message }, hubTime: now() });

  // TLS may terminate here or in a proxy in front (so this hub's own scheme says nothing about the
  // terminals' URL): a configured `name:443` or `name:80` also matches the terminals' `name`, which is
  // how a URL with its scheme's default port is signed.
  const withDefaultPort = (a: string): string[] => {
    const n = normalizeAuthority(a);
    const m = /^(.+):(?:80|443)$/.exec(n);
    return m ? [n, m[1]!] : [n];
  };
  const configured =
    o.authority == null ? null : typeof o.authority === 'string' ? [o.authority] : [...o.authority];
  const authorities = configured ? [...new Set(configured.flatMap(withDefaultPort))] : null;
  const hubAuthorities = (): string[] => {
    if (authorities) return authorities;
    const address = app.server.address();
    if (address === null || typeof address !== 'object') return [];
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return withDefaultPort(`${host}:${address.port}`);
  };
  const auth = new RequestAuthenticator(o.store, now, maxSkew, hubAuthorities);

  const metrics = hubMetrics(o.store, now);
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ route, method: req.method, status: String(reply.statusCode) });
    metrics.duration.observe({ route }, reply.elapsedTime / 1000);
  });

  const sightings = new Sightings(o.store, now);

  /** The nonce of the request's signature (what a signed answer is bound to); refuses the request without one. */
  function requestNonce(req: FastifyRequest, reply: FastifyReply): string | null {
    const nonce = nonceOf(req.headers['signature-input']);
    if (!nonce) fail(reply, 'SYNC_REFUSED', 'the request signature carries no nonce');
    return nonce ?? null;
  }

  /**
   * Checks the RFC 9421 signature and the terminal's state; returns the registered terminal or answers
   * the refusal. A disabled or retired terminal is refused whatever it asks; a retiring one may only
   * upload (`uploadOnly`), and is told so when it asks for anything else.
   */
  function authenticate(
    req: FastifyRequest,
    reply: FastifyReply,
    body: Buffer | null,
    uploadOnly = false,
  ): TerminalRecord | null {
    return admitted(auth.check(req, body), reply, uploadOnly);
  }

  /** The terminal of a checked request, or null when its refusal (or the terminal's state's) is answered. */
  function admitted(result: AuthResult, reply: FastifyReply, uploadOnly: boolean): TerminalRecord | null {
    if (!result.ok) {
      fail(reply, result.code, result.message);
      return null;
    }
    const t = result.terminal;
    const state = t.state ?? 'active';
    const why = t.stateReason ? `: ${t.stateReason}` : '';
    if (state === 'disabled') {
      sightings.note(t.terminalId, null);
      fail(reply, 'TERMINAL_DISABLED', `terminal ${t.terminalId} is disabled by the hub operator${why}`);
      return null;
    }
    if (state === 'retired') {
      fail(reply, 'TERMINAL_RETIRED', `terminal ${t.terminalId} is retired${why}`);
      return null;
    }
    if (state === 'retiring' && !uploadOnly) {
      sightings.note(t.terminalId, null);
      fail(
        reply,
        'TERMINAL_RETIRING',
        `terminal ${t.terminalId} is being retired${why}: upload the whole journal, then wipe personal data`,
      );
      return null;
    }
    return t;
  }

  const journals = new JournalGroupCommit(o.store, () => events.emit('peer-entries'));

  // A store shared by several hub processes announces what any of them committed: long polls here wake
  // at once and re-read the head less often (the re-read only covers a wake-up lost while the store
  // reconnects). A store of this process only (SQLite) is re-read every second, for imports run by
  // another process on the same file.
  const unsubscribe =
    o.store.subscribe?.((key) => events.emit(key.startsWith('peer-entries@') ? 'peer-entries' : key)) ?? null;
  const recheckMs = o.longPollRecheckMs ?? (unsubscribe ? 5_000 : 1_000);

  /** A big snapshot is built once, in the background; terminals asking meanwhile are told to come back. */
  const snapshotOrLater = async (
    feed: SnapshotFeedName,
  ): Promise<{ file: string; seq: number } | 'building'> => {
    const job = o.publisher.snapshotFile(feed);
    const waited = await Promise.race([job, sleep(snapshotWaitMs).then(() => 'building' as const)]);
    if (waited === 'building')
      job.catch((error: unknown) => log.error({ err: error }, 'snapshot build failed'));
    return waited;
  };

  app.get('/v1/time', async () => ({ v: PROTOCOL_VERSION, hubTime: now() }));

  // Successors of the terminal's root of trust (hub-keys.ts). The roots carry their own signatures: the
  // terminal verifies each against the root before it, so this answer needs no signature of its own.
  app.get<{ Querystring: Record<string, string | undefined> }>('/v1/root', async (req, reply) => {
    const terminal = authenticate(req, reply, null);
    if (!terminal) return reply;
    const after = Number(req.query.after ?? '0');
    if (!Number.isSafeInteger(after) || after < 0)
      return fail(reply, 'INVALID_REQUEST', 'after must be a root version');
    const roots = o.roots ? o.roots.rootsAfter(after) : [];
    const delegation = o.delegation?.() ?? null;
    return reply.send({
      roots: roots.map((r) => r.toString('base64')),
      ...(delegation ? { delegation: delegation.toString('base64') } : {}),
      hubTime: now(),
    });
  });

  app.get<{ Params: { feed: string }; Querystring: Record<string, string | undefined> }>(
    '/v1/feeds/:feed',
    async (req, reply) => {
      // A fleet-wide feed's head is read with the nonce where the store can (one round trip, PostgreSQL).
      const asked = req.params.feed;
      const checked = auth.check(
        req,
        null,
        asked === 'whitelist' || asked === 'revocations' ? asked : undefined,
      );
      const terminal = admitted(checked, reply, false);
      if (!terminal) return reply;
      // v2: the answer's checkpoint is bound to this request by its (verified) nonce.
      const nonce = requestNonce(req, reply);
      if (!nonce) return reply;
      const feed = req.params.feed as FeedName;
      if (!(Feeds as readonly string[]).includes(feed)) return fail(reply, 'INVALID_REQUEST', 'unknown feed');
      const after = Number(req.query.after ?? '0');
      const epoch = req.query.epoch ?? null;
      const max = Math.min(maxBatches, Math.max(1, Number(req.query.max ?? maxBatches) || 1));
      const wait = Math.min(maxWait, Math.max(0, Number(req.query.wait ?? '0') || 0));
      if (!Number.isSafeInteger(after) || after < 0)
        return fail(reply, 'INVALID_REQUEST', 'after must be a sequence');
      sightings.note(terminal.terminalId, null);

      const key: FeedKey = feed === 'peer-entries' ? peerFeedKey(terminal.siteId) : feed;
      const canSnapshot = (SnapshotFeeds as readonly string[]).includes(feed);
      // Content-addressed answers: refs to immutable pieces plus the signed checkpoint (protocol/content.ts).
      const byAddress = canSnapshot && req.query.content === '1';
      if (canSnapshot && o.contentSource) {
        if (!byAddress)
          return fail(reply, 'SYNC_PROTOCOL', `this venue hub serves ${feed} by content address only`);
        return venueAnswer(reply, feed as SnapshotFeedName, after, epoch, max, nonce);
      }
      let info = (checked.ok && checked.feed?.feed === key ? checked.feed : null) ?? o.store.feedInfo(key);
      const wrongEpoch = epoch !== null && epoch !== info.epoch;
      if (!canSnapshot && (wrongEpoch || after > info.head))
        return fail(
          reply,
          'SYNC_PROTOCOL',
          `${feed}: the terminal's position (${epoch ?? '-'}:${after}) is not this hub's`,
        );

      // Long poll: hold the request until something is published or the wait ends.
      if (wait > 0 && !wrongEpoch && after >= info.head) {
        const deadline = now() + wait * 1000;
        while (!closing && now() < deadline && o.store.feedInfo(key).head <= after) {
          const ac = new AbortController();
          await Promise.race([
            once(events, feed, { signal: ac.signal }).catch(() => undefined),
            sleep(Math.min(recheckMs, Math.max(0, deadline - now())), undefined, { signal: ac.signal }).catch(
              () => undefined,
            ),
          ]);
          ac.abort();
        }
        info = o.store.feedInfo(key);
      }

      let needSnapshot = false;
      if (canSnapshot && after < info.head) {
        const first = o.store.batchesAfter(key, after, 1)[0];
        const pending = o.store.opsAfter(key, after);
        const tooFar = pending > Math.max(snapshotMinOps, info.rows / 2);
        needSnapshot = wrongEpoch || !first || first.fromSeq !== after || tooFar;
      } else if (canSnapshot) needSnapshot = wrongEpoch || after > info.head;
      let snapshot: { file: string; seq: number } | null = null;
      let from = after;
      if (needSnapshot) {
        const got = await snapshotOrLater(feed as SnapshotFeedName);
        if (got === 'building') {
          reply.header('retry-after', '10');
          return fail(reply, 'SYNC_UNREACHABLE', `the ${feed} snapshot is being prepared; try again shortly`);
        }
        snapshot = got;
        from = got.seq;
      }
      // Nothing to send (the steady case: a terminal that is current): the head read above is the answer,
      // without reading batches and the head again (each a round trip on a shared store).
      const upToDate = snapshot === null && from >= info.head && !wrongEpoch;
      const batches = upToDate ? [] : o.store.batchesAfter(key, from, max);
      const lastBatch = batches[batches.length - 1];
      const last = lastBatch?.toSeq ?? from;
      const current = upToDate ? info : o.store.feedInfo(key);
      const head = current.head;
      const digest = lastBatch?.digest ?? (last === head ? current.digest : o.store.digestAt(key, last));
      if (digest === null)
        return fail(
          reply,
          'SYNC_UNREACHABLE',
          `${feed}: no chain digest at ${last}; the feed needs a new epoch`,
        );
      const hello = { v: PROTOCOL_VERSION, hubId: o.hubId, hubTime: now(), feed, epoch: current.epoch, head };
      const scope = feed === 'peer-entries' ? terminal.siteId : null;
      let content: ContentRef[] | undefined;
      if (byAddress) {
        const f = feed as SnapshotFeedName;
        content = [];
        if (snapshot) content.push(await snapshotRef(fileHashes, f, current.epoch, snapshot));
        for (const b of batches) content.push(batchRef(f, current.epoch, b));
      }

      // Signed last, so its hub time is when the answer was complete (a long snapshot included).
      const signedCheckpoint = (): Buffer => {
        const hubTime = now();
        return o.publisher.signCheckpoint({
          feed,
          scope,
          epoch: current.epoch,
          head,
          position: last,
          digest: digest!,
          hubTime,
          expires: hubTime + checkpointValidityMs,
          more: last < head,
          nonce,
          ...(content ? { content } : {}),
        });
      };
      // Only a hello and a checkpoint (about 1 KB): one plain write; gzip buys nothing on it and costs both
      // ends more than the rest of the answer. HTTP leaves the encoding to the server; terminals take both.
      if (batches.length === 0 && snapshot === null)
        return reply
          .type(MEDIA_TYPE)
          .send(
            Buffer.concat([
              jsonFrame(FrameType.hello, hello),
              frame(FrameType.checkpoint, signedCheckpoint()),
            ]),
          );

      async function* body(): AsyncGenerator<Buffer> {
        yield gzipSync(jsonFrame(FrameType.hello, hello));
        if (snapshot && !content)
          for await (const chunk of createReadStream(snapshot.file)) yield chunk as Buffer;
        if (!content) for (const b of batches) yield b.frameGz;
        yield gzipSync(frame(FrameType.checkpoint, signedCheckpoint()));
      }
      reply.header('content-encoding', 'gzip').type(MEDIA_TYPE);
      return reply.send(Readable.from(body()));
    },
  );

  /** A venue hub's whitelist or revocations answer: its mirror's refs under a venue-signed checkpoint. */
  function venueAnswer(
    reply: FastifyReply,
    feed: SnapshotFeedName,
    after: number,
    epoch: string | null,
    max: number,
    nonce: string,
  ): FastifyReply {
    const plan = o.contentSource!.plan(feed, after, epoch, max);
    if (plan === 'behind' || plan === 'unavailable') {
      reply.header('retry-after', '10');
      return fail(
        reply,
        'SYNC_UNREACHABLE',
        plan === 'behind'
          ? `${feed}: this venue hub has not yet mirrored what the terminal holds`
          : `${feed}: this venue hub holds no current copy from the central hub`,
      );
    }
    const hubTime = now();
    const hello = { v: PROTOCOL_VERSION, hubId: o.hubId, hubTime, feed, epoch: plan.epoch, head: plan.head };
    const checkpoint = o.publisher.signCheckpoint({
      feed,
      scope: null,
      epoch: plan.epoch,
      head: plan.head,
      position: plan.position,
      digest: plan.digest,
      hubTime,
      // A venue cannot make data look current for longer than the central hub's own statement lasts.
      expires: Math.max(hubTime + 1, Math.min(hubTime + checkpointValidityMs, plan.expiresBy)),
      more: plan.position < plan.head,
      nonce,
      content: plan.refs,
    });
    return reply
      .header('content-encoding', 'gzip')
      .type(MEDIA_TYPE)
      .send(
        Buffer.concat([
          gzipSync(jsonFrame(FrameType.hello, hello)),
          gzipSync(frame(FrameType.checkpoint, checkpoint)),
        ]),
      );
  }

  const fileHashes = new FileHashes();
  const content: ContentLookup =
    o.contentSource ??
    new StoreContent(o.store, (f, e, seq) => o.publisher.snapshotFileAt(f, e, seq), fileHashes);

  // Immutable, content-addressed pieces: no signature needed (the address is learnt only from a signed
  // checkpoint, and the terminal checks the bytes against it), so any HTTP cache or CDN may serve them.
  app.get(`${CONTENT_PREFIX}*`, async (req, reply) => {
    const path = req.url.split('?')[0]!;
    const loc = parseContentPath(path);
    // A miss must not be cached: the piece may be here a moment later (a venue still mirroring it).
    if (!loc)
      return fail(reply.header('cache-control', 'no-store'), 'INVALID_REQUEST', 'not a content address', 404);
    const etag = contentEtag(loc.sha256);
    const body = await content.open(loc);
    if (!body)
      return fail(reply.header('cache-control', 'no-store'), 'INVALID_REQUEST', 'no such content here', 404);
    reply
      .header('cache-control', IMMUTABLE_CACHE_CONTROL)
      .header('etag', etag)
      .type('application/octet-stream');
    if (req.headers['if-none-match'] === etag) return reply.code(304).send();
    if ('bytes' in body) return reply.header('content-length', body.bytes.length).send(body.bytes);
    return reply.header('content-length', body.size).send(createReadStream(body.file));
  });

  app.post('/v1/journal', async (req, reply) => {
    const raw = req.body as Buffer | undefined;
    if (!Buffer.isBuffer(raw)) return fail(reply, 'INVALID_REQUEST', 'a JSON body is required');
    const terminal = authenticate(req, reply, raw, true);
    if (!terminal) return reply;
    let json: unknown;
    try {
      const text =
        req.headers['content-encoding'] === 'gzip'
          ? gunzipSync(raw, { maxOutputLength: 64 * 1024 * 1024 })
          : raw;
      json = JSON.parse(text.toString('utf8'));
    } catch {
      return fail(reply, 'INVALID_REQUEST', 'body is not (gzip) JSON');
    }
    const parsed = PushBody.safeParse(json);
    if (!parsed.success)
      return fail(reply, 'INVALID_REQUEST', `push body: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    if (parsed.data.terminalId !== terminal.terminalId)
      return fail(reply, 'SYNC_REFUSED', 'push names another terminal than the one that signed it');
    const at = now();
    try {
      const result = await journals.push({
        terminalId: terminal.terminalId,
        rows: parsed.data.records,
        at,
        toPresence: (row, lookup) =>
          presenceFromRow(row, lookup, terminal, { receivedAt: at, maxSkewMs: maxSkew }),
        makeBatch: (fromSeq, ops) =>
          o.publisher.makeBatch('peer-entries', fromSeq, ops, peerFeedKey(terminal.siteId)),
      });
      metrics.journalRecords.inc({ result: 'accepted' }, result.accepted);
      metrics.journalRecords.inc({ result: 'duplicate' }, result.duplicates);
      // The terminal counted these records as queued when it sent them; what it still owes is the rest.
      const delivered = parsed.data.records.filter((r) => r.seq <= result.acked).length;
      const owes = Math.max(0, parsed.data.status.queueLength - delivered);
      // Retiring: the order travels in the signed reply (never in an unsigned refusal), and the terminal
      // wipes only once this reply acknowledges its whole journal. Retired from the hub's side then.
      const retiring = terminal.state === 'retiring';
      if (retiring && owes === 0)
        o.store.setTerminalState(terminal.terminalId, 'retired', terminal.stateReason ?? null, at);
      sightings.note(terminal.terminalId, {
        ...parsed.data.status,
        // v2: an alarm stays on the hub's record until the terminal reports a newer one.
        alarm: parsed.data.status.alarm ?? terminal.status?.alarm ?? null,
        queueLength: owes,
      });
      // v2: signed and bound to the request's nonce; the terminal moves its watermark only on this.
      const answer = o.publisher.signPushReply({
        terminalId: terminal.terminalId,
        nonce: nonceOf(req.headers['signature-input']) ?? '',
        hubTime: now(),
        acked: result.acked,
        accepted: result.accepted,
        duplicates: result.duplicates,
        ...(retiring ? { order: 'retire' as const } : {}),
      });
      return reply.type(PUSH_REPLY_MEDIA_TYPE).send(answer);
    } catch (error) {
      if (error instanceof KioskError) return fail(reply, error.code, error.message);
      throw error;
    }
  });

  // A venue hub forwards the journals its site's terminals pushed to it (while the WAN was down, or as
  // they arrive): the same idempotent acceptance as a terminal's own push, under the venue's signature,
  // only for terminals registered here at the site the root delegated to that venue.
  const VenueJournal = PushBody.omit({ status: true })
    .extend({ venueId: z.string().min(1).max(64) })
    .strict();
  app.post('/v1/venue/journal', async (req, reply) => {
    const raw = req.body as Buffer | undefined;
    if (!Buffer.isBuffer(raw)) return fail(reply, 'INVALID_REQUEST', 'a JSON body is required');
    const venue = authenticate(req, reply, raw);
    if (!venue) return reply;
    const site = o.venues?.siteOf(venue.terminalId) ?? null;
    if (site === null)
      return fail(reply, 'SYNC_REFUSED', `${venue.terminalId} holds no delegation for a site`, 403);
    let parsed;
    try {
      const text =
        req.headers['content-encoding'] === 'gzip'
          ? gunzipSync(raw, { maxOutputLength: 64 * 1024 * 1024 })
          : raw;
      parsed = VenueJournal.safeParse(JSON.parse(text.toString('utf8')));
    } catch {
      return fail(reply, 'INVALID_REQUEST', 'body is not (gzip) JSON');
    }
    if (!parsed.success)
      return fail(reply, 'INVALID_REQUEST', `venue journal: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    if (parsed.data.venueId !== venue.terminalId)
      return fail(reply, 'SYNC_REFUSED', 'the body names another venue than the one that signed it');
    const terminal = o.store.terminal(parsed.data.terminalId);
    if (!terminal || terminal.siteId !== site)
      return fail(
        reply,
        'SYNC_REFUSED',
        `${parsed.data.terminalId} is not a terminal of site ${site}, which this venue was delegated`,
        403,
      );
    const at = now();
    try {
      const result = await journals.push({
        terminalId: terminal.terminalId,
        rows: parsed.data.records,
        at,
        toPresence: (row, lookup) =>
          presenceFromRow(row, lookup, terminal, { receivedAt: at, maxSkewMs: maxSkew }),
        makeBatch: (fromSeq, ops) =>
          o.publisher.makeBatch('peer-entries', fromSeq, ops, peerFeedKey(terminal.siteId)),
      });
      const answer = o.publisher.signPushReply({
        terminalId: terminal.terminalId,
        nonce: nonceOf(req.headers['signature-input']) ?? '',
        hubTime: now(),
        acked: result.acked,
        accepted: result.accepted,
        duplicates: result.duplicates,
      });
      return reply.type(PUSH_REPLY_MEDIA_TYPE).send(answer);
    } catch (error) {
      if (error instanceof KioskError) return fail(reply, error.code, error.message);
      throw error;
    }
  });

  // A venue hub learns which terminals its site has, their keys and states, from the central hub: signed
  // and bound to its nonce, since the venue admits its site's terminals by this list alone.
  app.get('/v1/venue/terminals', async (req, reply) => {
    const venue = authenticate(req, reply, null);
    if (!venue) return reply;
    const nonce = requestNonce(req, reply);
    if (!nonce) return reply;
    const site = o.venues?.siteOf(venue.terminalId) ?? null;
    if (site === null)
      return fail(reply, 'SYNC_REFUSED', `${venue.terminalId} holds no delegation for a site`, 403);
    const terminals = o.store
      .terminals()
      .filter((t) => t.siteId === site && t.terminalId !== venue.terminalId)
      .map((t) => ({
        ...registrationOf(t),
        state: t.state ?? 'active',
        stateReason: t.stateReason ?? null,
      }));
    const signed = o.publisher.signVenueRoster({
      venueId: venue.terminalId,
      nonce,
      site,
      hubTime: now(),
      terminals,
    });
    return reply.type('application/octet-stream').send(signed);
  });

  // Decided per request from the socket actually bound, so an embedder that listens on 0.0.0.0 without a
  // token gets the refusal too, not only `hub serve --host`.
  const boundHost = (): string | null => {
    const address = app.server.address();
    return address !== null && typeof address === 'object' ? address.address : null;
  };
  const statusToken = o.statusToken ?? null;
  const guardStatusPage = async (req: FastifyRequest, reply: FastifyReply) => {
    const access = statusAccessPolicy(boundHost(), statusToken);
    if (access.kind === 'refused-no-token')
      return fail(
        reply,
        'HUB_STATUS_AUTH',
        'the status page is reachable from the network: configure a status token (hub serve --status-token-file)',
        403,
      );
    if (access.kind === 'token-required' && !presentsStatusToken(req.headers.authorization, access.token))
      return fail(
        reply.header('www-authenticate', STATUS_CHALLENGE).header('cache-control', 'no-store'),
        'HUB_STATUS_AUTH',
        'the status page needs the status token (Bearer, or Basic with any user name)',
        401,
      );
  };

  // Enrolment needs no registered key (that is what it creates): the code and the proof of possession
  // are the credentials. Refusals are typed so that the kiosk can say which one it was.
  app.post('/v1/enrol', async (req, reply) => {
    const raw = req.body as Buffer | undefined;
    if (!Buffer.isBuffer(raw) || raw.length > 16 * 1024)
      return fail(reply, 'INVALID_REQUEST', 'a JSON body (at most 16 KiB) is required');
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      return fail(reply, 'INVALID_REQUEST', 'body is not JSON');
    }
    try {
      const root = o.rootFile ? readFileSync(o.rootFile) : null;
      const { answer, terminal } = enrol(o.store, json, {
        hubId: o.hubId,
        authorities: hubAuthorities(),
        root,
        now: now(),
      });
      metrics.enrolments.inc({ result: 'ok' });
      log.info(
        { terminal: terminal.terminalId, site: terminal.siteId, gate: terminal.gateId },
        'terminal enrolled',
      );
      return reply.send(answer);
    } catch (error) {
      if (error instanceof KioskError) {
        metrics.enrolments.inc({ result: error.code });
        log.warn({ code: error.code }, 'enrolment refused');
        return fail(reply, error.code, error.message);
      }
      throw error;
    }
  });

  // A companion's card takes one seat of a purchaser's ticket (companions.ts): a registration desk sends
  // the one-time code with the card's reference, signed like every sync request; one signed batch moves
  // the seat. Refusals are typed (TRANSFER_*) so that the desk can say which one it was.
  app.post(COMPANION_BIND_PATH, async (req, reply) => {
    const raw = req.body as Buffer | undefined;
    if (!Buffer.isBuffer(raw) || raw.length > 16 * 1024)
      return fail(reply, 'INVALID_REQUEST', 'a JSON body (at most 16 KiB) is required');
    const terminal = authenticate(req, reply, raw);
    if (!terminal) return reply;
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      return fail(reply, 'INVALID_REQUEST', 'body is not JSON');
    }
    const parsed = CompanionBindRequest.safeParse(json);
    if (!parsed.success)
      return fail(reply, 'INVALID_REQUEST', `bind body: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    try {
      const answer = bindCompanion(o, terminal, parsed.data, now());
      log.info({ terminal: terminal.terminalId, seat: answer.seat }, 'seat moved to a companion');
      events.emit('whitelist');
      return reply.send(answer);
    } catch (error) {
      if (error instanceof KioskError) {
        log.warn({ terminal: terminal.terminalId, code: error.code }, 'companion binding refused');
        return fail(reply, error.code, error.message);
      }
      throw error;
    }
  });

  // The remote configuration for the asking terminal: site ← gate ← terminal layers merged, the highest
  // of their versions, signed and bound to the request's nonce.
  app.get('/v1/config', async (req, reply) => {
    const terminal = authenticate(req, reply, null);
    if (!terminal) return reply;
    const nonce = requestNonce(req, reply);
    if (!nonce) return reply;
    const layers = o.store.remoteConfigsFor(terminal);
    let layer: Record<string, unknown> = {};
    for (const l of layers) layer = mergeJson(layer, l.layer);
    const version = Math.max(0, ...layers.map((l) => l.version));
    const signed = o.publisher.signRemoteConfig({
      terminalId: terminal.terminalId,
      nonce,
      hubTime: now(),
      version,
      layer,
    });
    return reply.type('application/octet-stream').send(signed);
  });

  // Liveness for a load balancer or systemd: the store answers. No terminal data, so no token needed.
  app.get('/healthz', async (_req, reply) => {
    try {
      o.store.feedInfo('whitelist');
      return reply.header('cache-control', 'no-store').send({ ok: true, hubId: o.hubId });
    } catch (error) {
      return reply.code(503).send({ ok: false, error: (error as Error).message });
    }
  });

  // Prometheus scrapes with the status token (Bearer) where the status page needs one.
  app.get('/metrics', { onRequest: guardStatusPage }, async (_req, reply) => {
    sightings.flush();
    return reply
      .header('cache-control', 'no-store')
      .type(metrics.registry.contentType)
      .send(await metrics.registry.metrics());
  });

  app.get('/status.json', { onRequest: guardStatusPage }, async (_req, reply) => {
    sightings.flush();
    return reply
      .headers(statusPageHeaders())
      .header('cache-control', 'no-store')
      .send(statusModel(o.store, now()));
  });
  app.get('/', { onRequest: guardStatusPage }, async (_req, reply) => {
    sightings.flush();
    return reply
      .type('text/html; charset=utf-8')
      .headers(statusPageHeaders())
      .header('cache-control', 'no-store')
      .send(renderStatusPage(statusModel(o.store, now())));
  });

  app.setErrorHandler((error, _req, reply) => {
    log.error({ err: error }, 'hub request failed');
    const e = error as { statusCode?: number; message?: string };
    if (e.statusCode && e.statusCode < 500) return fail(reply, 'INVALID_REQUEST', e.message ?? 'bad request');
    return reply.code(500).send({ error: { code: 'INTERNAL', message: 'hub error' }, hubTime: now() });
  });

  return {
    app,
    notify: (feed) => events.emit(feed),
    close: async () => {
      closing = true;
      unsubscribe?.();
      auth.close();
      sightings.stop();
      sightings.flush();
      events.emit('peer-entries');
      await app.close();
    },
  };
}
