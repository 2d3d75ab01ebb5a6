// Who is asking: checks a terminal request's RFC 9421 signature against the terminal's registered key,
// the authority it was signed for against this hub's configured name(s), its time against hub time, and
// its nonce against replays. Apart from the routes in server.ts so that every refusal reason sits in one
// place. Nonces are kept in the hub's store (not in memory) so that a restart does not reopen the replay
// window: a request captured before a restart is still refused after it, as long as its time passes.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ErrorCode } from '../base/errors.js';
import { getLogger } from '../base/log.js';
import { parseSignedRequest, type ParsedSignature } from '../protocol/http-signature.js';
import type { FeedInfo, FeedKey, HubStore, TerminalRecord } from './store.js';

const log = getLogger('hub');

export type AuthResult =
  | {
      ok: true;
      terminal: TerminalRecord;
      /** The feed asked for with `check`, when the store read it in the same step. */
      feed?: FeedInfo;
    }
  | { ok: false; code: ErrorCode; message: string };

export class RequestAuthenticator {
  /** Parsed registered keys, re-parsed when a terminal registers another one. */
  private readonly keys = new Map<string, { pem: string; key: KeyObject }>();
  private readonly purge: NodeJS.Timeout;

  constructor(
    private readonly store: HubStore,
    private readonly now: () => number,
    /** A request whose `created` is further than this (ms) from hub time is refused. */
    private readonly maxSkew: number,
    /**
     * The names this hub answers to (RFC 9421 "@authority", normalized), asked per request because the
     * default is derived from the address the server is bound to. Never the request's Host header.
     */
    private readonly authorities: () => readonly string[],
  ) {
    this.purge = setInterval(() => {
      try {
        this.store.pruneNonces(this.now());
      } catch (error) {
        log.error({ err: error }, 'could not prune request nonces');
      }
    }, 60_000);
    this.purge.unref();
  }

  /**
   * Checks the signature; returns the registered terminal or why the request is refused. `feed`: a pull
   * of that feed, whose head the store may read in the same round trip as the nonce.
   */
  check(
    req: { method: string; url: string; headers: IncomingHttpHeaders },
    body: Buffer | null,
    feed?: FeedKey,
  ): AuthResult {
    const names = this.authorities();
    if (names.length === 0)
      return { ok: false, code: 'SYNC_REFUSED', message: 'this hub has no configured authority' };
    const parsedFor = names.map((authority) =>
      parseSignedRequest({ method: req.method, authority, target: req.url, body }, req.headers),
    );
    const first = parsedFor[0]!;
    if (typeof first === 'string')
      return { ok: false, code: 'SYNC_REFUSED', message: `request signature ${first}` };
    const fast = this.checkWithKnownKey(parsedFor, first, feed);
    if (fast) return fast;
    const terminal = this.store.terminal(first.keyid);
    if (!terminal)
      return {
        ok: false,
        code: 'HUB_UNKNOWN_TERMINAL',
        message: `terminal ${first.keyid} is not registered at this hub`,
      };
    let cached = this.keys.get(terminal.terminalId);
    if (!cached || cached.pem !== terminal.publicKeyPem) {
      cached = { pem: terminal.publicKeyPem, key: createPublicKey(terminal.publicKeyPem) };
      this.keys.set(terminal.terminalId, cached);
    }
    const key = cached.key;
    if (!parsedFor.some((p) => typeof p === 'object' && (p as ParsedSignature).verify(key)))
      return {
        ok: false,
        code: 'SYNC_REFUSED',
        message: `request signature does not verify: not signed for this hub (${names.join(', ')}) or not with the registered key`,
      };
    const t = this.now();
    if (Math.abs(first.created * 1000 - t) > this.maxSkew)
      return { ok: false, code: 'CLOCK_FAULT', message: 'request time is too far from hub time' };
    // Kept until a replay would fail the time check anyway.
    if (!this.store.useNonce(terminal.terminalId, first.nonce, t + 2 * this.maxSkew))
      return { ok: false, code: 'SYNC_REFUSED', message: 'request replayed' };
    return { ok: true, terminal };
  }

  /**
   * A terminal whose key this hub has parsed before: verified with that key first, then its nonce used
   * and its record read in one store call (one round trip on PostgreSQL instead of two). The record must
   * still hold the key the request verified with, and its state is taken from that same read; anything
   * else (no such store call, key not known, signature not verifying with it, the key replaced meanwhile)
   * returns null and the request goes the long way, which reads the record first.
   */
  private checkWithKnownKey(
    parsedFor: Array<ParsedSignature | string>,
    first: ParsedSignature,
    feed: FeedKey | undefined,
  ): AuthResult | null {
    const useNonceFor = this.store.useNonceFor?.bind(this.store);
    const cached = this.keys.get(first.keyid);
    if (!useNonceFor || !cached) return null;
    if (!parsedFor.some((p) => typeof p === 'object' && p.verify(cached.key))) return null;
    const t = this.now();
    if (Math.abs(first.created * 1000 - t) > this.maxSkew)
      return { ok: false, code: 'CLOCK_FAULT', message: 'request time is too far from hub time' };
    const { fresh, terminal, feed: info } = useNonceFor(first.keyid, first.nonce, t + 2 * this.maxSkew, feed);
    if (!terminal)
      return {
        ok: false,
        code: 'HUB_UNKNOWN_TERMINAL',
        message: `terminal ${first.keyid} is not registered at this hub`,
      };
    if (terminal.publicKeyPem !== cached.pem) {
      // Re-keyed since: what verified was the old key. The nonce is spent either way (harmless: it was
      // this request's); the signature must verify with the key now registered.
      const key = createPublicKey(terminal.publicKeyPem);
      this.keys.set(terminal.terminalId, { pem: terminal.publicKeyPem, key });
      if (!parsedFor.some((p) => typeof p === 'object' && p.verify(key)))
        return {
          ok: false,
          code: 'SYNC_REFUSED',
          message: 'request signature does not verify: not signed with the registered key',
        };
    }
    if (!fresh) return { ok: false, code: 'SYNC_REFUSED', message: 'request replayed' };
    return info ? { ok: true, terminal, feed: info } : { ok: true, terminal };
  }

  close(): void {
    clearInterval(this.purge);
  }
}
