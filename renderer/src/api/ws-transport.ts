// WebSocket transport for the browser shell. Reconnects with backoff; calls made while disconnected fail
// at once with INTERNAL (the screen shows "connecting"); a call with no answer fails after a timeout.
// Every connection opens with a hello carrying the shell's key (the launch ticket from the URL fragment
// the first time, then the session key the server's welcome gave); it counts as connected only after the
// welcome.
import { MaxWsMessageBytes, WsServerMessageSchema, type Reply, type WsCall } from '../../../main/api/wire.js';
import type { Transport } from './client.js';

/** The parts of the WebSocket API used here (the browser's, or `ws` in Node tests). */
export interface SocketLike {
  readyState: number;
  send(data: string): void;
  close(): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}
export type SocketFactory = (url: string) => SocketLike;

/** Where the transport keeps the key it opens each connection with. */
export interface KeyStore {
  /** The key to send, or null when the page has none (it was not opened by the shell). */
  get(): string | null;
  /** The session key the server's welcome gave; later connections use it. */
  set(key: string): void;
}

/** A key store in memory, starting with `initial` (Node tests, or a page without storage). */
export function memoryKeyStore(initial: string | null): KeyStore {
  let key = initial;
  return {
    get: () => key,
    set: (value) => {
      key = value;
    },
  };
}

export interface WsTransportOptions {
  url: string;
  keys: KeyStore;
  createSocket?: SocketFactory;
  callTimeoutMs?: number;
  /** Reconnect delays grow from min to max (doubling). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

const OPEN = 1;

function defaultFactory(url: string): SocketLike {
  const Ctor = (globalThis as unknown as { WebSocket?: new (url: string) => SocketLike }).WebSocket;
  if (!Ctor) throw new Error('WebSocket is not available in this environment');
  return new Ctor(url);
}

export function createWsTransport(options: WsTransportOptions): Transport {
  const createSocket = options.createSocket ?? defaultFactory;
  const callTimeoutMs = options.callTimeoutMs ?? 15_000;
  const minDelay = options.reconnectMinMs ?? 250;
  const maxDelay = options.reconnectMaxMs ?? 5_000;
  const pending = new Map<
    number,
    { resolve: (r: Reply<unknown>) => void; timer: ReturnType<typeof setTimeout> }
  >();
  const eventListeners = new Set<(channel: string, payload: unknown) => void>();
  const connectionListeners = new Set<(connected: boolean) => void>();
  let socket: SocketLike | null = null;
  let connected = false;
  let closed = false;
  let nextId = 1;
  let delay = minDelay;
  let reconnectTimer: ReturnType<typeof setTimeout> | null = null;

  function setConnected(value: boolean) {
    if (connected === value) return;
    connected = value;
    for (const l of connectionListeners) l(value);
  }

  function failAll(message: string) {
    for (const [id, entry] of pending) {
      clearTimeout(entry.timer);
      entry.resolve({ ok: false, error: { code: 'INTERNAL', message } });
      pending.delete(id);
    }
  }

  function onMessage(data: unknown) {
    if (typeof data !== 'string' || data.length > MaxWsMessageBytes) return;
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      return;
    }
    const parsed = WsServerMessageSchema.safeParse(json);
    if (!parsed.success) return;
    const msg = parsed.data;
    if (msg.t === 'welcome') {
      options.keys.set(msg.key);
      delay = minDelay;
      setConnected(true);
      return;
    }
    if (msg.t === 'event') {
      for (const l of eventListeners) l(msg.channel, msg.payload);
      return;
    }
    const entry = pending.get(msg.id);
    if (!entry) return;
    pending.delete(msg.id);
    clearTimeout(entry.timer);
    entry.resolve(msg.ok ? { ok: true, value: msg.value } : { ok: false, error: msg.error });
  }

  function connect() {
    if (closed) return;
    let s: SocketLike;
    try {
      s = createSocket(options.url);
    } catch {
      scheduleReconnect();
      return;
    }
    socket = s;
    s.onopen = () => {
      const key = options.keys.get();
      // Without a key the server would say nothing; stay on "connecting" and let it close us.
      if (key) s.send(JSON.stringify({ t: 'hello', key }));
    };
    s.onmessage = (ev) => onMessage(ev.data);
    s.onerror = () => {};
    s.onclose = () => {
      if (socket === s) socket = null;
      setConnected(false);
      failAll('connection to the terminal core lost');
      scheduleReconnect();
    };
  }

  function scheduleReconnect() {
    if (closed || reconnectTimer) return;
    reconnectTimer = setTimeout(() => {
      reconnectTimer = null;
      connect();
    }, delay);
    delay = Math.min(maxDelay, delay * 2);
  }

  connect();

  return {
    invoke(channel, payload) {
      const s = socket;
      if (!s || s.readyState !== OPEN) {
        return Promise.resolve({
          ok: false,
          error: { code: 'INTERNAL', message: 'not connected to the terminal core' },
        });
      }
      const id = nextId++;
      const call: WsCall = { t: 'call', id, channel, payload };
      return new Promise<Reply<unknown>>((resolve) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          resolve({
            ok: false,
            error: { code: 'INTERNAL', message: `no answer from the terminal core (${channel})` },
          });
        }, callTimeoutMs);
        pending.set(id, { resolve, timer });
        s.send(JSON.stringify(call));
      });
    },
    listen(listener) {
      eventListeners.add(listener);
      return () => eventListeners.delete(listener);
    },
    onConnection(listener) {
      connectionListeners.add(listener);
      listener(connected);
      return () => connectionListeners.delete(listener);
    },
    close() {
      closed = true;
      if (reconnectTimer) clearTimeout(reconnectTimer);
      failAll('transport closed');
      socket?.close();
      socket = null;
      setConnected(false);
    },
  };
}
