// CardTransport over a PC/SC reader (pcsclite). One connection per card session; exchanges are
// serialized by the ApduChannel. A command that does not answer in time ends the session with
// CARD_TIMEOUT: the binding cannot cancel SCardTransmit, so the transport is poisoned and the caller
// starts a new session once the card is back.
import { KioskError } from '../../../base/errors.js';
import { pcscError } from './card-errors.js';
import type { PcscReader } from './pcsc-binding.js';
import { assertApduAllowed, withTimeout, type CardProtocol, type CardTransport } from './transport.js';

export class PcscTransport implements CardTransport {
  readonly kind = 'pcsc' as const;
  readonly readerName: string;
  readonly atr: Uint8Array;
  readonly protocol: CardProtocol;
  readonly extendedLength = true;
  private readonly reader: PcscReader;
  private readonly protocolValue: number;
  private broken: KioskError | null = null;
  private closed = false;

  private constructor(reader: PcscReader, protocolValue: number, atr: Uint8Array) {
    this.reader = reader;
    this.readerName = reader.name;
    this.protocolValue = protocolValue;
    this.atr = atr;
    this.protocol =
      protocolValue === reader.SCARD_PROTOCOL_T1
        ? 'T1'
        : protocolValue === reader.SCARD_PROTOCOL_T0
          ? 'T0'
          : 'other';
  }

  static async connect(reader: PcscReader, atr: Uint8Array, timeoutMs = 3000): Promise<PcscTransport> {
    if (reader.connected) {
      // a previous session that ended abnormally: the binding would skip the connect and report no protocol
      await withTimeout(
        new Promise<void>((resolve) => reader.disconnect(reader.SCARD_RESET_CARD, () => resolve())),
        timeoutMs,
        'disconnect stale session',
      ).catch(() => undefined);
    }
    const protocol = await withTimeout(
      new Promise<number>((resolve, reject) => {
        reader.connect(
          {
            share_mode: reader.SCARD_SHARE_SHARED,
            protocol: reader.SCARD_PROTOCOL_T0 | reader.SCARD_PROTOCOL_T1,
          },
          (err, value) => (err ? reject(pcscError(err, 'CARD_PROTOCOL')) : resolve(value)),
        );
      }),
      timeoutMs,
      'connect to card',
    );
    return new PcscTransport(reader, protocol, atr);
  }

  async transmitRaw(apdu: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    assertApduAllowed(apdu);
    if (this.closed) throw new KioskError('CARD_ABSENT', 'card session closed');
    if (this.broken) throw this.broken;
    try {
      const response = await withTimeout(
        new Promise<Buffer>((resolve, reject) => {
          this.reader.transmit(Buffer.from(apdu), 65538, this.protocolValue, (err, data) =>
            err ? reject(pcscError(err, 'CARD_PROTOCOL')) : resolve(data),
          );
        }),
        timeoutMs,
        'card command',
      );
      return new Uint8Array(response);
    } catch (error) {
      const typed = pcscError(error, 'CARD_PROTOCOL');
      if (
        ['CARD_TIMEOUT', 'CARD_REMOVED', 'CARD_ABSENT', 'READER_GONE', 'PCSC_UNAVAILABLE'].includes(
          typed.code,
        )
      )
        this.broken = typed;
      throw typed;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.broken?.code === 'CARD_TIMEOUT') return; // a transmit is still pending in the binding
    // Reset on disconnect: no verified PIN or unlocked key outlives the session.
    await withTimeout(
      new Promise<void>((resolve) => {
        this.reader.disconnect(this.reader.SCARD_RESET_CARD, () => resolve());
      }),
      2000,
      'disconnect',
    ).catch(() => undefined);
  }
}
