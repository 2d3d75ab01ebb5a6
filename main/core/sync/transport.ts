// One HTTP exchange with the hub on node:http/https: a signed request, a streamed (gunzipped) answer,
// a timeout on connect and on every idle gap so that a stalled hub ends in SYNC_UNREACHABLE.
import http from 'node:http';
import https from 'node:https';
import { createGunzip } from 'node:zlib';
import { PassThrough, type Readable } from 'node:stream';
import { ErrorCodes, KioskError, type ErrorCode } from '../../../base/errors.js';
import { authorityOf, signRequest, type RequestSigner } from '../../../protocol/http-signature.js';
import { nonceOf } from '../../../protocol/checkpoint.js';

export interface HubResponse {
  status: number;
  /** The decoded body as a byte stream. */
  body: Readable;
  headers: http.IncomingHttpHeaders;
  /** v2: the nonce this request was signed with; the hub's signed answer must echo it. */
  nonce: string;
  /** Ends the answer now (a deadline or limit passed): the body fails with `error`. */
  abort(error: Error): void;
}

export interface ExchangeOptions {
  base: URL;
  method: 'GET' | 'POST';
  target: string;
  body?: Buffer;
  contentType?: string;
  contentEncoding?: string;
  signer: RequestSigner;
  idleTimeoutMs: number;
  agent?: http.Agent;
  ca?: Buffer;
  signal?: AbortSignal;
}

/**
 * One exchange; when a kept-alive socket turns out to have been closed by the hub while idle (the
 * request fails on a reused socket before any answer), it is retried once on a fresh one — safe
 * because pulls are reads and pushes are idempotent.
 */
export async function exchange(o: ExchangeOptions): Promise<HubResponse> {
  try {
    return await exchangeOnce(o);
  } catch (error) {
    if (!(error instanceof StaleSocket)) throw error;
    try {
      return await exchangeOnce(o);
    } catch (again) {
      // Another pooled socket of a hub that went away (a venue hub stopped): unreachable, try the next.
      if (again instanceof StaleSocket)
        throw new KioskError('SYNC_UNREACHABLE', `hub closed the connection: ${again.message}`);
      throw again;
    }
  }
}

class StaleSocket extends Error {}

async function exchangeOnce(o: ExchangeOptions): Promise<HubResponse> {
  const path = (o.base.pathname.replace(/\/$/, '') + o.target).replace(/^$/, '/');
  const signed = await signRequest(o.signer, {
    method: o.method,
    authority: authorityOf(o.base),
    target: path,
    body: o.body ?? null,
  });
  const nonce = nonceOf(signed['signature-input']) ?? '';
  const headers: Record<string, string | number> = {
    ...signed,
    'accept-encoding': 'gzip',
    accept: 'application/x-ndjson, application/json',
  };
  if (o.body) {
    headers['content-type'] = o.contentType ?? 'application/json';
    headers['content-length'] = o.body.length;
    if (o.contentEncoding) headers['content-encoding'] = o.contentEncoding;
  }
  const lib = o.base.protocol === 'https:' ? https : http;
  return new Promise<HubResponse>((resolve, reject) => {
    const req = lib.request(
      {
        protocol: o.base.protocol,
        hostname: o.base.hostname,
        port: o.base.port || undefined,
        method: o.method,
        path,
        headers,
        agent: o.agent,
        ...(o.ca ? { ca: o.ca } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
      },
      (res) => {
        res.setTimeout(o.idleTimeoutMs, () =>
          res.destroy(new KioskError('SYNC_UNREACHABLE', 'hub stalled while answering')),
        );
        // Whatever arrived whole is delivered; a cut or stalled connection then simply ends the body early,
        // which the frame reader reports as SYNC_UNREACHABLE. Whole batches before the cut stay usable.
        const body = new PassThrough();
        const endBody = () => {
          if (!body.writableEnded) body.end();
        };
        if (res.headers['content-encoding'] === 'gzip') {
          const gunzip = createGunzip();
          gunzip.on('error', endBody);
          gunzip.pipe(body);
          res.pipe(gunzip);
          res.on('close', () => {
            if (!res.complete && !gunzip.writableEnded) gunzip.end();
          });
        } else {
          res.pipe(body);
          res.on('close', () => {
            if (!res.complete) endBody();
          });
        }
        res.on('error', () => undefined);
        resolve({
          status: res.statusCode ?? 0,
          body,
          headers: res.headers,
          nonce,
          abort: (error) => {
            body.destroy(error);
            res.destroy();
          },
        });
      },
    );
    req.setTimeout(o.idleTimeoutMs, () =>
      req.destroy(new KioskError('SYNC_UNREACHABLE', 'hub did not answer')),
    );
    req.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        o.signal?.aborted
          ? new KioskError('SYNC_UNREACHABLE', 'sync stopped')
          : req.reusedSocket && ['ECONNRESET', 'EPIPE', 'ECONNABORTED'].includes(error.code ?? '')
            ? new StaleSocket(error.message)
            : error instanceof KioskError
              ? error
              : new KioskError('SYNC_UNREACHABLE', `hub unreachable: ${error.message}`, undefined, {
                  cause: error,
                }),
      ),
    );
    req.end(o.body);
  });
}

export async function readAll(body: Readable, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      body.destroy();
      throw new KioskError('SYNC_PROTOCOL', 'hub answer too large');
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts);
}

/** Maps a non-200 answer to a typed error; the hub answers `{error:{code,message},hubTime}`. */
export async function errorFrom(res: HubResponse): Promise<KioskError> {
  let code: ErrorCode = res.status === 401 || res.status === 403 ? 'SYNC_REFUSED' : 'SYNC_PROTOCOL';
  let message = `hub answered HTTP ${res.status}`;
  let hubTime: number | undefined;
  try {
    const parsed = JSON.parse((await readAll(res.body, 64 * 1024)).toString('utf8')) as {
      error?: { code?: string; message?: string };
      hubTime?: number;
    };
    const named = parsed.error?.code;
    if (named && (ErrorCodes as readonly string[]).includes(named) && named !== 'INTERNAL')
      code = named as ErrorCode;
    if (parsed.error?.message) message = `hub refused: ${parsed.error.message}`;
    hubTime = parsed.hubTime;
  } catch {
    // keep the generic message
  }
  if (res.status >= 500 || res.status === 0) code = 'SYNC_UNREACHABLE';
  return new KioskError(
    code,
    message,
    hubTime !== undefined ? { hubTime, status: res.status } : { status: res.status },
  );
}
