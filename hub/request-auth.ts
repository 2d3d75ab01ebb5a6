// Who is asking: checks a terminal request's RFC 9421 signature against the terminal's registered key,
// its time against hub time, and its nonce against replays. Apart from the routes in server.ts so that
// every refusal reason sits in one place.
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ErrorCode } from '../base/errors.js';
import { parseSignedRequest } from '../protocol/http-signature.js';
import type { HubStore, TerminalRecord } from './store.js';

export type AuthResult =
  { ok: true; terminal: TerminalRecord } | { ok: false; code: ErrorCode; message: string };

export class RequestAuthenticator {
  /** Nonces seen, with the hub time after which a replay would fail the time check anyway. */
  private readonly nonces = new Map<string, number>();
  /** Parsed registered keys, re-parsed when a terminal registers another one. */
  private readonly keys = new Map<string, { pem: string; key: KeyObject }>();
  private readonly purge: NodeJS.Timeout;

  constructor(
    private readonly store: HubStore,
    private readonly now: () => number,
    /** A request whose `created` is further than this (ms) from hub time is refused. */
    private readonly maxSkew: number,
  ) {
    this.purge = setInterval(() => {
      const t = this.now();
      for (const [n, exp] of this.nonces) if (exp < t) this.nonces.delete(n);
    }, 60_000);
    this.purge.unref();
  }

  /** Checks the signature; returns the registered terminal or why the request is refused. */
  check(req: { method: string; url: string; headers: IncomingHttpHeaders }, body: Buffer | null): AuthResult {
    const parsed = parseSignedRequest({ method: req.method, target: req.url, body }, req.headers);
    if (typeof parsed === 'string')
      return { ok: false, code: 'SYNC_REFUSED', message: `request signature ${parsed}` };
    const terminal = this.store.terminal(parsed.keyid);
    if (!terminal)
      return {
        ok: false,
        code: 'HUB_UNKNOWN_TERMINAL',
        message: `terminal ${parsed.keyid} is not registered at this hub`,
      };
    let cached = this.keys.get(terminal.terminalId);
    if (!cached || cached.pem !== terminal.publicKeyPem) {
      cached = { pem: terminal.publicKeyPem, key: createPublicKey(terminal.publicKeyPem) };
      this.keys.set(terminal.terminalId, cached);
    }
    if (!parsed.verify(cached.key))
      return {
        ok: false,
        code: 'SYNC_REFUSED',
        message: 'request signature does not verify with the registered key',
      };
    const t = this.now();
    if (Math.abs(parsed.created * 1000 - t) > this.maxSkew)
      return { ok: false, code: 'CLOCK_FAULT', message: 'request time is too far from hub time' };
    const nonceKey = `${terminal.terminalId}:${parsed.nonce}`;
    if (this.nonces.has(nonceKey)) return { ok: false, code: 'SYNC_REFUSED', message: 'request replayed' };
    this.nonces.set(nonceKey, t + 2 * this.maxSkew);
    return { ok: true, terminal };
  }

  close(): void {
    clearInterval(this.purge);
  }
}
