// One service provider over HTTPS: its reachability is a supervised part (a health GET, polled), which
// the menu shows; a request is a POST signed with the terminal's HSM key (RFC 9421, as sync), carrying an
// idempotency key (the request id) so that a retry after a timeout or a 5xx can never issue twice.
import { readFileSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Clock } from '../../../base/clock.js';
import { systemClock } from '../../../base/clock.js';
import { KioskError, toKioskError } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import { Supervisor, type Health } from '../../../base/supervisor.js';
import { authorityOf, signRequest, type RequestSigner } from '../../../protocol/http-signature.js';
import {
  DOCUMENT_ID_HEADER,
  IDEMPOTENCY_HEADER,
  RefusalBody,
  SERVICE_HEALTH_PATH,
  SERVICE_REQUEST_PATH,
  type ServiceRefusal,
  type ServiceRequestBody,
} from '../../../protocol/service-request.js';

const log = getLogger('services');
const MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;

export interface ProviderSettings {
  id: string;
  url: string;
  caFile: string | null;
  timeoutMs: number;
  retries: number;
  healthEverySeconds: number;
}

export type ProviderAnswer =
  | { kind: 'document'; pdf: Buffer; documentId: string | null }
  | { kind: 'refused'; refusal: ServiceRefusal; message: string };

interface RawResponse {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export class ProviderClient {
  readonly supervisor: Supervisor;
  private readonly base: URL;
  private readonly ca: Buffer | undefined;
  private readonly clock: Clock;

  constructor(
    readonly settings: ProviderSettings,
    private readonly signer: () => RequestSigner,
    clock: Clock = systemClock,
  ) {
    this.base = new URL(settings.url.endsWith('/') ? settings.url : `${settings.url}/`);
    this.ca = settings.caFile ? readFileSync(settings.caFile) : undefined;
    this.clock = clock;
    this.supervisor = new Supervisor({
      name: `provider:${settings.id}`,
      open: () => this.ping(),
      backoff: { baseMs: 500, capMs: settings.healthEverySeconds * 1000 },
      errorCode: 'SERVICE_UNAVAILABLE',
      poll: { everyMs: settings.healthEverySeconds * 1000, check: () => this.ping() },
      clock,
    });
  }

  health(): Health {
    return this.supervisor.health();
  }

  get reachable(): boolean {
    const s = this.supervisor.state;
    return s === 'ready' || s === 'running';
  }

  start(): Promise<unknown> {
    return this.supervisor.start();
  }

  stop(): Promise<void> {
    return this.supervisor.stop();
  }

  private url(path: string): URL {
    return new URL(path.replace(/^\//, ''), this.base);
  }

  private async ping(): Promise<void> {
    const res = await this.send(
      'GET',
      this.url(SERVICE_HEALTH_PATH),
      {},
      null,
      Math.min(this.settings.timeoutMs, 3000),
    );
    if (res.status !== 200)
      throw new KioskError('SERVICE_UNAVAILABLE', `provider health answered ${res.status}`);
  }

  /**
   * Sends the request, retrying a timeout, a refused connection or a 5xx with the same idempotency key;
   * `stillWanted` is asked before each attempt (a session that ended sends nothing more).
   */
  async request(body: ServiceRequestBody, stillWanted: () => boolean): Promise<ProviderAnswer> {
    const bytes = Buffer.from(JSON.stringify(body), 'utf8');
    const url = this.url(SERVICE_REQUEST_PATH);
    let last: KioskError = new KioskError('SERVICE_TIMEOUT', 'no attempt made');
    for (let attempt = 0; attempt <= this.settings.retries; attempt++) {
      if (!stillWanted())
        throw new KioskError('SESSION_ENDED', 'the session ended before the provider answered');
      if (attempt > 0) await new Promise((r) => this.clock.setTimeout(() => r(undefined), 200 * attempt));
      const signed = await signRequest(
        this.signer(),
        { method: 'POST', authority: authorityOf(url), target: url.pathname + url.search, body: bytes },
        this.clock.now(),
      );
      let res: RawResponse;
      try {
        res = await this.send(
          'POST',
          url,
          { ...signed, 'content-type': 'application/json', [IDEMPOTENCY_HEADER]: body.request.requestId },
          bytes,
          this.settings.timeoutMs,
        );
      } catch (error) {
        last = toKioskError(error, 'SERVICE_TIMEOUT');
        log.warn({ provider: this.settings.id, attempt, code: last.code }, 'provider attempt failed');
        if (last.code === 'SERVICE_UNAVAILABLE') void this.supervisor.lost(last);
        continue;
      }
      if (res.status >= 500) {
        last = new KioskError('SERVICE_TIMEOUT', `provider answered ${res.status}`);
        continue;
      }
      return this.answer(res);
    }
    throw last;
  }

  private answer(res: RawResponse): ProviderAnswer {
    const type = String(res.headers['content-type'] ?? '');
    if (res.status === 200 && type.startsWith('application/pdf')) {
      if (!res.body.subarray(0, 5).equals(Buffer.from('%PDF-')))
        throw new KioskError('SERVICE_PROTOCOL', 'the document is not a PDF');
      const id = res.headers[DOCUMENT_ID_HEADER];
      return { kind: 'document', pdf: res.body, documentId: typeof id === 'string' ? id.slice(0, 64) : null };
    }
    if (res.status >= 400 && res.status < 500 && type.startsWith('application/json')) {
      let parsed: ReturnType<typeof RefusalBody.safeParse>;
      try {
        parsed = RefusalBody.safeParse(JSON.parse(res.body.toString('utf8')));
      } catch {
        throw new KioskError('SERVICE_PROTOCOL', 'the refusal is not JSON');
      }
      if (parsed.success)
        return { kind: 'refused', refusal: parsed.data.refusal, message: parsed.data.message };
    }
    throw new KioskError('SERVICE_PROTOCOL', `unexpected answer ${res.status} ${type}`);
  }

  private send(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: Buffer | null,
    timeoutMs: number,
  ): Promise<RawResponse> {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        url,
        {
          method,
          headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
          ...(this.ca ? { ca: this.ca } : {}),
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            size += chunk.length;
            if (size > MAX_DOCUMENT_BYTES) {
              req.destroy(new KioskError('SERVICE_PROTOCOL', 'answer too large'));
              return;
            }
            chunks.push(chunk);
          });
          res.on('end', () => {
            clearTimeout(timer);
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
          });
          res.on('error', (error) => reject(toKioskError(error, 'SERVICE_TIMEOUT')));
        },
      );
      // A real-time limit (not the terminal's clock): it bounds a network wait.
      const timer = setTimeout(() => {
        req.destroy(new KioskError('SERVICE_TIMEOUT', `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      // One small request and one answer per exchange: no Nagle wait for a segment the provider acks late.
      req.on('socket', (socket) => socket.setNoDelay(true));
      req.on('error', (error) => {
        clearTimeout(timer);
        const code = (error as NodeJS.ErrnoException).code;
        if (error instanceof KioskError) reject(error);
        else if (
          code === 'ECONNREFUSED' ||
          code === 'EHOSTUNREACH' ||
          code === 'ENETUNREACH' ||
          code === 'ENOTFOUND'
        )
          reject(new KioskError('SERVICE_UNAVAILABLE', `provider unreachable (${code})`));
        else reject(toKioskError(error, 'SERVICE_TIMEOUT'));
      });
      req.end(body ?? undefined);
    });
  }
}
