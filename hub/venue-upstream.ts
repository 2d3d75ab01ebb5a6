// A venue hub's link to the central hub: signed requests (RFC 9421, the venue's own terminal key at the
// central hub) and plain GETs of content pieces, on node:http/https with an idle timeout. The hub may not
// import the terminal's sync module, so this is the small client a relay needs, nothing more.
import http from 'node:http';
import https from 'node:https';
import { createHash } from 'node:crypto';
import { createWriteStream, rmSync } from 'node:fs';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { KioskError, ErrorCodes, type ErrorCode } from '../base/errors.js';
import { authorityOf, signRequest, type RequestSigner } from '../protocol/http-signature.js';
import { nonceOf } from '../protocol/checkpoint.js';

export interface UpstreamOptions {
  url: string;
  signer: RequestSigner;
  ca?: Buffer | null;
  idleTimeoutMs?: number;
}

export interface UpstreamAnswer {
  status: number;
  body: Buffer;
  nonce: string;
}

export class Upstream {
  readonly base: URL;
  private readonly agent: http.Agent;
  private readonly idleMs: number;

  constructor(private readonly o: UpstreamOptions) {
    this.base = new URL(o.url);
    this.idleMs = o.idleTimeoutMs ?? 15_000;
    this.agent =
      this.base.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, maxSockets: 4, ...(o.ca ? { ca: o.ca } : {}) })
        : new http.Agent({ keepAlive: true, maxSockets: 4 });
  }

  /** One signed request; the answer read whole (pull answers here are hello + checkpoint, or a reply). */
  async signed(
    method: 'GET' | 'POST',
    target: string,
    body?: Buffer,
    limit = 1024 * 1024,
  ): Promise<UpstreamAnswer> {
    const path = this.base.pathname.replace(/\/$/, '') + target;
    const headers: Record<string, string | number> = await signRequest(this.o.signer, {
      method,
      authority: authorityOf(this.base),
      target: path,
      body: body ?? null,
    });
    const nonce = nonceOf(headers['signature-input'] as string) ?? '';
    headers['accept-encoding'] = 'gzip';
    if (body) {
      headers['content-type'] = 'application/json';
      headers['content-encoding'] = 'gzip';
      headers['content-length'] = body.length;
    }
    const { status, bytes } = await this.request(method, path, headers, body, limit);
    return { status, body: bytes, nonce };
  }

  /**
   * A content piece (unsigned GET) streamed into `file` (created owner-only), at most `limit` bytes: the
   * piece is never held in memory, whatever its size. Answers its length and SHA-256; the caller compares
   * them with what the signed checkpoint names before it uses the file.
   */
  async contentToFile(path: string, file: string, limit: number): Promise<{ bytes: number; sha256: string }> {
    const full = this.base.pathname.replace(/\/$/, '') + path;
    const res = await this.send('GET', full, { 'accept-encoding': 'identity' }, undefined);
    if (res.statusCode !== 200) {
      res.resume();
      throw new KioskError('SYNC_UNREACHABLE', `central hub: content ${path}: HTTP ${res.statusCode ?? 0}`);
    }
    const hash = createHash('sha256');
    let bytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > limit) {
          done(new KioskError('SYNC_LIMIT', `central content ${path} is past ${limit} bytes`));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    try {
      await pipeline(res, meter, createWriteStream(file, { mode: 0o600 }));
    } catch (error) {
      rmSync(file, { force: true });
      throw error instanceof KioskError
        ? error
        : new KioskError('SYNC_UNREACHABLE', `central hub: content ${path}: ${(error as Error).message}`);
    }
    return { bytes, sha256: hash.digest('hex') };
  }

  close(): void {
    this.agent.destroy();
  }

  /** One request; resolves with the answer's head (its body still to read), typed errors otherwise. */
  private send(
    method: string,
    path: string,
    headers: Record<string, string | number>,
    body: Buffer | undefined,
  ): Promise<http.IncomingMessage> {
    const lib = this.base.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(
        {
          protocol: this.base.protocol,
          hostname: this.base.hostname,
          port: this.base.port || undefined,
          method,
          path,
          headers,
          agent: this.agent,
          ...(this.o.ca ? { ca: this.o.ca } : {}),
        },
        (res) => {
          res.setTimeout(this.idleMs, () =>
            res.destroy(new KioskError('SYNC_UNREACHABLE', 'central hub stalled')),
          );
          resolve(res);
        },
      );
      req.setTimeout(this.idleMs, () =>
        req.destroy(new KioskError('SYNC_UNREACHABLE', 'central hub did not answer')),
      );
      req.on('error', (e: Error) =>
        reject(
          e instanceof KioskError
            ? e
            : new KioskError('SYNC_UNREACHABLE', `central hub unreachable: ${e.message}`),
        ),
      );
      req.end(body);
    });
  }

  /** One request with its answer read whole, at most `limit` bytes (decompressed). */
  private async request(
    method: string,
    path: string,
    headers: Record<string, string | number>,
    body: Buffer | undefined,
    limit: number,
  ): Promise<{ status: number; bytes: Buffer }> {
    const res = await this.send(method, path, headers, body);
    const stream = res.headers['content-encoding'] === 'gzip' ? res.pipe(createGunzip()) : res;
    const parts: Buffer[] = [];
    let size = 0;
    try {
      for await (const c of stream as AsyncIterable<Buffer>) {
        size += c.length;
        if (size > limit) throw new KioskError('SYNC_LIMIT', `central hub answer past ${limit} bytes`);
        parts.push(c);
      }
    } catch (e) {
      res.destroy();
      throw e instanceof KioskError
        ? e
        : new KioskError('SYNC_UNREACHABLE', `central hub: ${(e as Error).message}`);
    }
    return { status: res.statusCode ?? 0, bytes: Buffer.concat(parts) };
  }
}

/** The typed error of a non-200 answer (`{error:{code,message}}`). */
export function upstreamError(a: UpstreamAnswer): KioskError {
  let code: ErrorCode = a.status >= 500 ? 'SYNC_UNREACHABLE' : 'SYNC_PROTOCOL';
  let message = `central hub answered HTTP ${a.status}`;
  try {
    const parsed = JSON.parse(a.body.toString('utf8')) as { error?: { code?: string; message?: string } };
    const named = parsed.error?.code;
    if (named && (ErrorCodes as readonly string[]).includes(named) && a.status < 500)
      code = named as ErrorCode;
    if (parsed.error?.message) message = `central hub refused: ${parsed.error.message}`;
  } catch {
    // keep the generic message
  }
  return new KioskError(code, message, { status: a.status });
}
