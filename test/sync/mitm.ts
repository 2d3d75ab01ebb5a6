// A man in the middle for the attack suite: an HTTP proxy on a free loopback port between a real terminal
// and a real hub. It records every answer (decoded frames) and lets a test replace one with anything: a
// replayed answer, rewritten frames, forged JSON, an endless stream, a connection cut.
import http from 'node:http';
import type { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { frame } from '../../protocol/sync.js';

export interface Answer {
  method: string;
  path: string;
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The decoded (gunzipped) body. */
  body: Buffer;
}

export interface Forged {
  status?: number;
  contentType?: string;
  /** Sent gzipped (as the hub does for pulls) unless `plain`. */
  body: Buffer | Readable;
  plain?: boolean;
  /** Cut the connection after this many bytes of the (decoded) body. */
  cutAfter?: number;
}

/** Given the request and a way to ask the real hub, what the terminal gets (null: the hub's answer). */
export type Attack = (
  req: { method: string; path: string },
  upstream: () => Promise<Answer>,
) => Promise<Forged | null> | Forged | null;

export interface Mitm {
  url: string;
  /** Every answer the hub gave through the proxy, oldest first. */
  answers: Answer[];
  attack: Attack | null;
  close(): Promise<void>;
}

export async function startMitm(hubPort: number, port = 0): Promise<Mitm> {
  const answers: Answer[] = [];
  const sockets = new Set<Socket>();
  const m: Mitm = {
    url: '',
    answers,
    attack: null,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  const server = http.createServer((req, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      const reqBody = Buffer.concat(parts);
      const path = req.url ?? '/';
      const method = req.method ?? 'GET';
      const upstream = () =>
        new Promise<Answer>((resolve, reject) => {
          const up = http.request(
            { host: '127.0.0.1', port: hubPort, method, path, headers: req.headers },
            (ur) => {
              const chunks: Buffer[] = [];
              ur.on('data', (c: Buffer) => chunks.push(c));
              ur.on('end', () => {
                const raw = Buffer.concat(chunks);
                const body = ur.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
                const a = { method, path, status: ur.statusCode ?? 0, headers: ur.headers, body };
                answers.push(a);
                resolve(a);
              });
              ur.on('error', reject);
            },
          );
          up.on('error', reject);
          up.end(reqBody);
        });
      void (async () => {
        const forged = m.attack ? await m.attack({ method, path }, upstream) : null;
        if (!forged) {
          const a = await upstream();
          const gz = a.headers['content-encoding'] === 'gzip';
          res.writeHead(a.status, {
            'content-type': String(a.headers['content-type'] ?? 'application/octet-stream'),
            ...(gz ? { 'content-encoding': 'gzip' } : {}),
          });
          res.end(gz ? gzipSync(a.body) : a.body);
          return;
        }
        res.writeHead(forged.status ?? 200, {
          'content-type': forged.contentType ?? 'application/vnd.jpki-kiosk.sync-v2',
          ...(forged.plain ? {} : { 'content-encoding': 'gzip' }),
        });
        if (forged.body instanceof Readable) {
          // Endless data: gzip member per chunk, until the terminal hangs up.
          forged.body.on('data', (c: Buffer) => {
            if (!res.destroyed) res.write(gzipSync(c));
          });
          res.on('close', () => forged.body instanceof Readable && forged.body.destroy());
          return;
        }
        const body = forged.cutAfter !== undefined ? forged.body.subarray(0, forged.cutAfter) : forged.body;
        const out = forged.plain ? body : gzipSync(body);
        if (forged.cutAfter !== undefined) res.write(out, () => res.socket?.destroy());
        else res.end(out);
      })().catch(() => res.destroy());
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  m.url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return m;
}

/** The frames of a decoded pull answer. */
export function splitFrames(body: Buffer): Array<{ type: number; payload: Buffer }> {
  const out: Array<{ type: number; payload: Buffer }> = [];
  for (let p = 0; p < body.length;) {
    const type = body[p]!;
    const length = body.readUInt32BE(p + 1);
    out.push({ type, payload: body.subarray(p + 5, p + 5 + length) });
    p += 5 + length;
  }
  return out;
}

export function joinFrames(frames: Array<{ type: number; payload: Buffer }>): Buffer {
  return Buffer.concat(frames.map((f) => frame(f.type, f.payload)));
}
