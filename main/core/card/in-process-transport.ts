// A transport to a card living in this process (the virtual card of sim/card, or any object with the
// same shape): no pcscd, no vpcd. Used by the "instant" benchmark, the fuzz test and unit tests.
// The card shape is structural so that main/core does not import the simulator.
import { KioskError } from '../../../base/errors.js';
import { assertApduAllowed, withTimeout, type CardProtocol, type CardTransport } from './transport.js';

export type InProcessReply =
  { kind: 'answer'; bytes: Uint8Array; delayMs: number } | { kind: 'stall' } | { kind: 'removed' };

export interface InProcessCard {
  readonly atr: Uint8Array;
  reset(): void;
  respond(command: Uint8Array): InProcessReply;
}

export class InProcessTransport implements CardTransport {
  readonly kind = 'in-process' as const;
  readonly readerName: string;
  readonly protocol: CardProtocol = 'T1';
  readonly extendedLength: boolean;
  private readonly card: InProcessCard;
  private closed = false;

  constructor(card: InProcessCard, options: { readerName?: string; extendedLength?: boolean } = {}) {
    this.card = card;
    this.readerName = options.readerName ?? 'in-process';
    this.extendedLength = options.extendedLength ?? true;
    card.reset();
  }

  get atr(): Uint8Array {
    return this.card.atr;
  }

  async transmitRaw(apdu: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    assertApduAllowed(apdu);
    if (this.closed) throw new KioskError('CARD_ABSENT', 'transport closed');
    const reply = this.card.respond(Uint8Array.from(apdu));
    if (reply.kind === 'removed') throw new KioskError('CARD_REMOVED', 'card removed');
    if (reply.kind === 'stall')
      return withTimeout(new Promise<Uint8Array>(() => undefined), timeoutMs, 'card command');
    if (reply.delayMs <= 0) return reply.bytes;
    if (reply.delayMs >= timeoutMs)
      return withTimeout(new Promise<Uint8Array>(() => undefined), timeoutMs, 'card command');
    await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
    return reply.bytes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.card.reset();
  }
}
