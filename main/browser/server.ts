// The browser shell: the built renderer and the WebSocket API of the core, on 127.0.0.1 only.
// Used for development, for the end-to-end tests in Debian Chromium, and by terminals that run Chromium
// in kiosk mode. Defences: loopback bind; Host header must name the loopback address (DNS rebinding);
// the WebSocket's Origin must be this server (another site open in the same browser cannot drive the
// kiosk); frames are size-limited and validated; a content security policy on every page.
// The Origin check stops other pages, not other local processes (they can send any Origin): a WebSocket
// must also open with a per-launch key. The shell hands a one-time launch ticket to the Chromium it
// starts in the URL fragment (never sent over HTTP); the page trades it in its first message for the
// session key, which the page keeps for reconnects. A used ticket is dead, so reading Chromium's command
// line later gives nothing. A connection without a valid key gets no event and no answer. A PIN request
// can be answered or cancelled only by a connection that received it.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Fastify, { type FastifyRequest } from 'fastify';
import fastifyStatic from '@fastify/static';
import fastifyWebsocket from '@fastify/websocket';
import type { WebSocket } from 'ws';
import { dispatchCommand, eventToWire } from '../api/dispatch.js';
import { Channels, type KioskCore } from '../api/contract.js';
import { KioskError } from '../../base/errors.js';
import {
  LaunchFragmentParam,
  MaxWsMessageBytes,
  WsCallSchema,
  WsHelloSchema,
  WsPath,
  type WsServerMessage,
} from '../api/wire.js';
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
  /** The origin's root, without a key: what a page opened here loads, but its WebSocket gets nothing. */
  url: string;
  /**
   * The URL to open in the kiosk's browser: `url` with a fresh one-time launch ticket in the fragment.
   * Each call mints a new ticket; a ticket works for one WebSocket hello only.
   */
  launchUrl(): string;
  close(): Promise<void>;
}

/** How long a new WebSocket may take to send its hello before it is closed. */
const HelloTimeoutMs = 10_000;
/** Launch tickets not yet used; more than this and the oldest are dropped. */
const MaxOpenTickets = 8;

function newKey(): string {
  return randomBytes(32).toString('base64url');
}

function sameKey(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
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
    "object-src 'none'",
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
  const sessionKey = newKey();
  const tickets: string[] = [];

  /** True (and the ticket spent) for an open launch ticket or the session key. */
  function acceptKey(key: string): boolean {
    if (sameKey(key, sessionKey)) return true;
    const index = tickets.findIndex((ticket) => sameKey(ticket, key));
    if (index < 0) return false;
    tickets.splice(index, 1);
    return true;
  }
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
    let unsubscribe: (() => void) | null = null;
    /** PIN requests this connection was shown; only these may it answer or cancel. */
    const pinRequests = new Set<string>();
    const helloTimer = setTimeout(() => socket.close(1008, 'no hello'), HelloTimeoutMs);

    function welcome() {
      clearTimeout(helloTimer);
      send(socket, { t: 'welcome', key: sessionKey });
      unsubscribe = core.subscribe((event) => {
        const wire = eventToWire(event);
        if ('invalid' in wire) {
          log.error(
            { event: event.name, problem: wire.invalid },
            'core emitted an event that breaks the contract',
          );
          return;
        }
        if (event.name === 'pinRequest') pinRequests.add(event.payload.requestId);
        if (event.name === 'pinClosed') pinRequests.delete(event.payload.requestId);
        send(socket, { t: 'event', channel: wire.channel, payload: wire.payload });
      });
    }

    socket.on('message', (raw: Buffer, isBinary: boolean) => {
      if (isBinary) return socket.close(1003, 'text frames only');
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch {
        return socket.close(1007, 'not JSON');
      }
      if (!unsubscribe) {
        const hello = WsHelloSchema.safeParse(json);
        if (!hello.success || !acceptKey(hello.data.key)) {
          log.warn('refused a WebSocket without the launch key');
          return socket.close(1008, 'no valid key');
        }
        return welcome();
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
      if (
        (channel === Channels.commands.answerPin || channel === Channels.commands.cancelPin) &&
        !pinRequests.has(String((payload as { requestId?: unknown } | null)?.requestId))
      ) {
        send(socket, {
          t: 'result',
          id,
          ok: false,
          error: { code: 'INVALID_REQUEST', message: 'no such PIN request is open on this screen' },
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
      clearTimeout(helloTimer);
      unsubscribe?.();
      sockets.delete(socket);
    });
  }

  const address = await app.listen({ host, port });
  port = Number(new URL(address).port);
  const url = `http://${host}:${port}/`;
  log.info({ url }, 'browser shell listening');
  return {
    url,
    launchUrl() {
      const ticket = newKey();
      tickets.push(ticket);
      if (tickets.length > MaxOpenTickets) tickets.shift();
      return `${url}#${LaunchFragmentParam}=${ticket}`;
    },
    async close() {
      for (const socket of sockets) socket.terminate();
      await app.close();
    },
  };
}
