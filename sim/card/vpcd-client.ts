// Connects a virtual card to pcscd's vpcd driver (vsmartcard-vpcd). vpcd listens; the card connects.
// Framing both ways: 2-byte big-endian length + payload. A 1-byte payload from vpcd is a control
// message (0 power off, 1 power on, 2 reset, 4 send ATR); anything longer is a command APDU that the
// card answers with a response APDU. Connected = card inserted; disconnected = card removed.
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { getLogger } from '../../base/log.js';
import type { SimulatedCard } from './simulated-card.js';

export type VpcdEndpoint = { path: string } | { host: string; port: number };

export function parseVpcdAddress(text: string): VpcdEndpoint {
  if (text.startsWith('/') || text.startsWith('unix:')) return { path: text.replace(/^unix:/, '') };
  const match = /^(.*):(\d{1,5})$/.exec(text);
  if (!match || !match[1]) throw new Error(`vpcd address must be host:port or a socket path: ${text}`);
  const port = Number(match[2]);
  if (port < 1 || port > 65535) throw new Error(`vpcd port out of range: ${text}`);
  return { host: match[1], port };
}

export interface VpcdClientOptions {
  endpoint: VpcdEndpoint;
  card: SimulatedCard;
  /** Reconnect (re-insert) after the connection drops (e.g. pcscd restarted). Default true. */
  reconnect?: boolean;
  reconnectDelayMs?: number;
}

export interface VpcdClientEvents {
  inserted: [];
  removed: [reason: string];
}

const log = getLogger('sim-card');

export class VpcdCardClient extends EventEmitter<VpcdClientEvents> {
  readonly options: Required<VpcdClientOptions>;
  private socket: Socket | null = null;
  private buffer: Buffer = Buffer.alloc(0);
  private wanted = false;
  private retryTimer: NodeJS.Timeout | null = null;
  private queue: Promise<void> = Promise.resolve();
  private connectedFlag = false;

  constructor(options: VpcdClientOptions) {
    super();
    this.options = { reconnect: true, reconnectDelayMs: 100, ...options };
  }

  get connected(): boolean {
    return this.connectedFlag;
  }

  /** Inserts the card: connects (retrying until vpcd listens when `reconnect`), resolves once connected. */
  insert(timeoutMs = 10_000): Promise<void> {
    this.wanted = true;
    if (this.connectedFlag) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off('inserted', onInserted);
        reject(new Error('vpcd: could not connect in time'));
      }, timeoutMs);
      const onInserted = () => {
        clearTimeout(timer);
        resolve();
      };
      this.once('inserted', onInserted);
      if (!this.socket) this.open();
    });
  }

  /** Removes the card (closes the connection) and stays out until `insert()`. */
  remove(): Promise<void> {
    this.wanted = false;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const socket = this.socket;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }

  private open() {
    const endpoint = this.options.endpoint;
    const socket = 'path' in endpoint ? connect(endpoint.path) : connect(endpoint.port, endpoint.host);
    this.socket = socket;
    this.buffer = Buffer.alloc(0);
    socket.setNoDelay(true);
    socket.on('connect', () => {
      this.connectedFlag = true;
      this.options.card.reset();
      log.debug({ card: this.options.card.applet.profile.name }, 'card inserted');
      this.emit('inserted');
    });
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {
      /* close follows */
    });
    socket.on('close', () => {
      const was = this.connectedFlag;
      this.connectedFlag = false;
      if (this.socket === socket) this.socket = null;
      if (was) this.emit('removed', this.wanted ? 'connection closed' : 'removed');
      if (this.wanted && this.options.reconnect && !this.options.card.isRemoved) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          if (this.wanted && !this.socket) this.open();
        }, this.options.reconnectDelayMs);
      }
    });
  }

  private onData(chunk: Buffer) {
    this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
    while (this.buffer.length >= 2) {
      const length = this.buffer.readUInt16BE(0);
      if (this.buffer.length < 2 + length) break;
      const payload = Uint8Array.from(this.buffer.subarray(2, 2 + length));
      this.buffer = this.buffer.subarray(2 + length);
      const socket = this.socket;
      this.queue = this.queue.then(() => this.handle(payload, socket));
    }
  }

  private async handle(payload: Uint8Array, socket: Socket | null): Promise<void> {
    if (!socket || socket !== this.socket) return;
    const card = this.options.card;
    if (payload.length === 1) {
      log.debug({ control: payload[0] }, 'vpcd control');
      switch (payload[0]) {
        case 0: // power off
        case 1: // power on
        case 2: // reset
          card.reset();
          return;
        case 4:
          this.send(socket, card.atr);
          return;
        default:
          return;
      }
    }
    const reply = card.respond(payload);
    if (reply.kind === 'stall') return; // never answer
    if (reply.kind === 'removed') {
      this.wanted = false;
      socket.destroy();
      return;
    }
    if (reply.delayMs > 0) await new Promise((r) => setTimeout(r, reply.delayMs));
    if (socket === this.socket) this.send(socket, reply.bytes);
  }

  private send(socket: Socket, payload: Uint8Array) {
    // one write: length and body together (splitting them is what makes vpcd itself slow)
    const frame = Buffer.allocUnsafe(2 + payload.length);
    frame.writeUInt16BE(payload.length, 0);
    frame.set(payload, 2);
    socket.write(frame);
  }
}
