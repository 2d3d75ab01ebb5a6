// The browser shell: the built renderer and the WebSocket API of the core, on 127.0.0.1 only.
// Used for development, for the end-to-end tests in Debian Chromium, and by terminals that run Chromium
// in kiosk mode. Defences: loopback bind; Host header must name the loopback address (DNS rebinding);
// the WebSocket's Origin must be this server (another site open in the same browser cannot drive the
// kiosk); frames are size-limited and validated; a content security policy on every page.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import { dispatchCommand, eventToWire } from '../api/dispatch.js';
import type { KioskCore } from '../api/contract.js';
import { KioskError } from '../../base/errors.js';
import { MaxWsMessageBytes, WsCallSchema, WsPath, type WsServerMessage } from '../api/wire.js';
import { getLogger } from '../../base/log.js';
import type { KioskConfig } from '../../config/load.js';
import { projectRoot } from '../../config/paths.js';

export interface BrowserShellOptions {
  config: KioskConfig;
  core: KioskCore;
  /** Overrides config.server.port; 0 picks a free port. */
  port?: number;
  /** Folder of the built renderer (vite output); default dist/renderer. */
  rendererDir?: string;
}

export interface BrowserShell {
  url: string;
  close(): Promise<void>;
}

/** Calls one connection may have outstanding; more is a misbehaving client. */
const MaxInFlight = 32;

export function contentSecurityPolicy(origin: string): string {
  const ws = origin.replace(/^http/, 'ws');
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    `connect-src 'self' ${ws}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** Host header check: only the loopback names with our port. */
export function isAllowedHost(host: string | undefined, port: number): boolean {
  return host === `127.0.0.1:${port}` || host === `localhost:${port}`;
}

/** Origin check for the WebSocket upgrade: only pages this server served. */
export function isAllowedOrigin(origin: string | undefined, port: number): boolean {
  return origin === `http://127.0.0.1:${port}` || origin === `http://localhost:${port}`;
}

export async function startBrowserShell(options: BrowserShellOptions): Promise<BrowserShell> {
  const log = getLogger('browser');
  const { config, core } = options;
  const host = config.server.host;
  const rendererDir = options.rendererDir ?? join(projectRoot(), 'dist', 'renderer');
  if (!existsSync(join(rendererDir, 'index.html'))) {
    throw new KioskError(
      'NOT_AVAILABLE',
      `the renderer is not built (${rendererDir}/index.html): run npm run build`,
    );
  }
  const app = Fastify({ logger: false, bodyLimit: 16 * 1024 });
  let port = options.port ?? config.server.port;

  app.addHook('onRequest', async (request, reply) => {
    if (!isAllowedHost(request.headers.host, port)) {
      log.warn(
        { host: String(request.headers.host).slice(0, 80) },
        'refused request with a foreign Host header',
      );
      return reply.code(403).send('forbidden');
    }
  });
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('Content-Security-Policy', contentSecurityPolicy(`http://${host}:${port}`));
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('Referrer-Policy', 'no-referrer');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Cross-Origin-Opener-Policy', 'same-origin');
    reply.header('Cache-Control', 'no-store');
    return payload;
  });

  await app.register(fastifyWebsocket, { options: { maxPayload: MaxWsMessageBytes } });
  await app.register(fastifyStatic, { root: rendererDir, index: 'index.html', wildcard: true });

  const sockets = new Set<WebSocket>();
  app.register(async (scope) => {
    scope.get(
      WsPath,
      {
        websocket: true,
        preValidation: async (request: FastifyRequest, reply) => {
          if (!isAllowedOrigin(request.headers.origin, port)) {
            log.warn(
              { origin: String(request.headers.origin).slice(0, 80) },
              'refused WebSocket from a foreign origin',
            );
            return reply.code(403).send('forbidden');
          }
        },
      },
      (socket: WebSocket) => serveSocket(socket),
    );
  });

  function send(socket: WebSocket, message: WsServerMessage) {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message));
  }

  function serveSocket(socket: WebSocket) {
    sockets.add(socket);
    let inFlight = 0;
    const unsubscribe = core.subscribe((event) => {
      const wire = eventToWire(event);
      if ('invalid' in wire) {
        log.error(
          { event: event.name, problem: wire.invalid },
          'core emitted an event that breaks the contract',
        );
        return;
      }
      send(socket, { t: 'event', channel: wire.channel, payload: wire.payload });
    });
    socket.on('message', (raw: Buffer, isBinary: boolean) => {
      if (isBinary) return socket.close(1003, 'text frames only');
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        return socket.close(1007, 'not JSON');
      }
      const call = WsCallSchema.safeParse(json);
      if (!call.success) return socket.close(1008, 'not a call');
      const { id, channel, payload } = call.data;
      if (inFlight >= MaxInFlight) {
        send(socket, {
          t: 'result',
          id,
          ok: false,
          error: { code: 'INVALID_REQUEST', message: 'too many calls at once' },
        });
        return;
      }
      inFlight += 1;
      void dispatchCommand(core, channel, payload).then((reply) => {
        inFlight -= 1;
        send(
          socket,
          reply.ok
            ? { t: 'result', id, ok: true, value: reply.value }
            : { t: 'result', id, ok: false, error: reply.error },
        );
      });
    });
    socket.on('close', () => {
      unsubscribe();
      sockets.delete(socket);
    });
  }

  const address = await app.listen({ host, port });
  port = Number(new URL(address).port);
  const url = `http://${host}:${port}/`;
  log.info({ url }, 'browser shell listening');
  return {
    url,
    async close() {
      for (const socket of sockets) socket.terminate();
      await app.close();
    },
  };
}
