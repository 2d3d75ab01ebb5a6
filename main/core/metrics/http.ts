// The terminal's GET /healthz and GET /metrics on node:http. Loopback by default; on any other address
// only with a Bearer token (config metrics.token), compared in constant time. /healthz answers 503 when
// the terminal cannot decide because a device it needs is gone (reader, HSM) — what systemd's watchdog
// and a fleet's monitoring want to know — and 200 otherwise, with the states as JSON.
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { TerminalStatus } from '../../api/contract.js';

export interface MetricsServerOptions {
  host: string;
  port: number;
  /** Required by the caller for a non-loopback host. */
  token: string | null;
  registry: Registry;
  status(): TerminalStatus;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

/** The health answer: unhealthy when the reader or the HSM the terminal needs is gone. */
export function healthOf(s: TerminalStatus): {
  ok: boolean;
  reader: string;
  hsm: string;
  outOfService: unknown;
} {
  const readerGone = s.reader.state === 'unavailable' || s.reader.state === 'no_reader';
  const hsmGone = s.hsm.state === 'unavailable';
  return {
    ok: !readerGone && !hsmGone,
    reader: s.reader.state,
    hsm: s.hsm.state,
    outOfService: s.outOfService,
  };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

export async function startMetricsServer(o: MetricsServerOptions): Promise<MetricsServer> {
  const want = o.token ? digest(`Bearer ${o.token}`) : null;
  const server = http.createServer((req, res) => {
    void (async () => {
      if (want && !timingSafeEqual(digest(req.headers.authorization ?? ''), want)) {
        res
          .writeHead(401, { 'www-authenticate': 'Bearer', 'content-type': 'text/plain' })
          .end('token required\n');
        return;
      }
      const path = (req.url ?? '/').split('?')[0];
      if (req.method === 'GET' && path === '/healthz') {
        const h = healthOf(o.status());
        res
          .writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json', 'cache-control': 'no-store' })
          .end(JSON.stringify(h));
      } else if (req.method === 'GET' && path === '/metrics') {
        const text = await o.registry.metrics();
        res.writeHead(200, { 'content-type': o.registry.contentType, 'cache-control': 'no-store' }).end(text);
      } else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    })().catch(() => {
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
