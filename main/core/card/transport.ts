// APDU transport: the raw `CardTransport` (PC/SC or in-process) and the `ApduChannel` on top that every
// command goes through: forbidden-AID guard, per-command timeout, 61xx (GET RESPONSE) and 6Cxx (re-send
// with the right Le) with bounds, and an optional APDU trace with payloads redacted.
import type { Logger } from 'pino';
import { KioskError } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import {
  ApduFormatError,
  bytesEqual,
  encodeCommand,
  indexOfBytes,
  parseCommand,
  responseData,
  statusWord,
  type CommandInput,
} from './apdu.js';
import { FORBIDDEN_AID, JPKI_AID } from './jpki.js';

export type CardProtocol = 'T0' | 'T1' | 'other';

export interface CardTransport {
  readonly kind: 'pcsc' | 'in-process';
  readonly readerName: string;
  readonly atr: Uint8Array;
  readonly protocol: CardProtocol;
  /** True when the transport can carry extended-length APDUs. */
  readonly extendedLength: boolean;
  /** One raw exchange. Implementations call `assertApduAllowed()` first and throw KioskError only. */
  transmitRaw(apdu: Uint8Array, timeoutMs: number): Promise<Uint8Array>;
  /** Ends the session; the card is reset so no verified state outlives it. */
  close(): Promise<void>;
}

/**
 * The guard: the only SELECTs that may ever leave the terminal are SELECT-by-name of the JPKI applet
 * (exactly its AID) and SELECT of an EF by file identifier inside it. Any APDU carrying the AID of the
 * 券面事項入力補助AP anywhere is refused, whatever its instruction.
 */
export function assertApduAllowed(apdu: Uint8Array): void {
  if (indexOfBytes(apdu, FORBIDDEN_AID) >= 0)
    throw new KioskError('CARD_FORBIDDEN_AID', 'refused: APDU carries the AID of the 券面事項入力補助AP');
  if (apdu.length >= 2 && apdu[1] === 0xa4) {
    let command;
    try {
      command = parseCommand(apdu);
    } catch {
      throw new KioskError('CARD_FORBIDDEN_AID', 'refused: malformed SELECT');
    }
    if (command.p1 === 0x04 && bytesEqual(command.data, JPKI_AID)) return;
    if (command.p1 === 0x02 && command.data.length === 2) return;
    throw new KioskError('CARD_FORBIDDEN_AID', 'refused: only the JPKI applet and its files may be selected');
  }
}

export interface ChannelOptions {
  timeoutMs?: number;
  /** Log every exchange at debug level: header, lengths and status word only, never payloads. */
  trace?: boolean;
  /** Most GET RESPONSE commands for one command (61xx chain bound). */
  maxGetResponse?: number;
  /** Largest response accepted after chaining. */
  maxResponseBytes?: number;
  logger?: Logger;
}

export interface CardResponse {
  data: Uint8Array;
  sw: number;
}

export class ApduChannel {
  readonly transport: CardTransport;
  readonly timeoutMs: number;
  private readonly trace: boolean;
  private readonly maxGetResponse: number;
  private readonly maxResponseBytes: number;
  private readonly log: Logger;
  private queue: Promise<unknown> = Promise.resolve();
  /** Exchanges sent to the card (including GET RESPONSE and re-sends). */
  exchanges = 0;

  constructor(transport: CardTransport, options: ChannelOptions = {}) {
    this.transport = transport;
    this.timeoutMs = options.timeoutMs ?? 3000;
    this.trace = options.trace ?? false;
    this.maxGetResponse = options.maxGetResponse ?? 32;
    this.maxResponseBytes = options.maxResponseBytes ?? 65538;
    this.log = options.logger ?? getLogger('card');
  }

  /** Sends one command (object or encoded bytes); commands are serialized. */
  send(command: CommandInput | Uint8Array): Promise<CardResponse> {
    const run = () => this.sendNow(command);
    const next = this.queue.then(run, run);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private async exchange(apdu: Uint8Array): Promise<Uint8Array> {
    assertApduAllowed(apdu);
    this.exchanges++;
    const started = this.trace ? performance.now() : 0;
    const response = await this.transport.transmitRaw(apdu, this.timeoutMs);
    if (response.length < 2)
      throw new KioskError('CARD_PROTOCOL', `response of ${response.length} bytes has no status word`);
    if (this.trace) {
      this.log.debug(
        {
          hdr: Buffer.from(apdu.subarray(0, 4)).toString('hex'),
          lc: apdu.length - 4,
          sw: statusWord(response).toString(16).padStart(4, '0'),
          rlen: response.length - 2,
          ms: Math.round((performance.now() - started) * 100) / 100,
        },
        'apdu',
      );
    }
    return response;
  }

  private async sendNow(command: CommandInput | Uint8Array): Promise<CardResponse> {
    let apdu: Uint8Array;
    try {
      apdu = command instanceof Uint8Array ? command : encodeCommand(command);
    } catch (error) {
      if (error instanceof ApduFormatError) throw new KioskError('INVALID_REQUEST', error.message);
      throw error;
    }
    let response = await this.exchange(apdu);
    let sw = statusWord(response);
    if ((sw & 0xff00) === 0x6c00) {
      // wrong Le: re-send once with the length the card names
      const parsed = parseCommand(apdu);
      const le = sw & 0xff || 256;
      response = await this.exchange(encodeCommand({ ...parsed, le, extended: false }));
      sw = statusWord(response);
      if ((sw & 0xff00) === 0x6c00)
        throw new KioskError('CARD_PROTOCOL', 'card repeated 6Cxx after the Le it asked for');
    }
    if ((sw & 0xff00) !== 0x6100) return { data: responseData(response), sw };

    const parts: Uint8Array[] = [responseData(response)];
    let total = parts[0]!.length;
    for (let i = 0; (sw & 0xff00) === 0x6100; i++) {
      if (i >= this.maxGetResponse)
        throw new KioskError('CARD_PROTOCOL', `more than ${this.maxGetResponse} GET RESPONSE in one answer`);
      const le = sw & 0xff || 256;
      response = await this.exchange(encodeCommand({ cla: 0x00, ins: 0xc0, p1: 0, p2: 0, le }));
      sw = statusWord(response);
      const chunk = responseData(response);
      total += chunk.length;
      if (total > this.maxResponseBytes)
        throw new KioskError('CARD_PROTOCOL', `response longer than ${this.maxResponseBytes} bytes`);
      parts.push(chunk);
    }
    const data = new Uint8Array(total);
    let at = 0;
    for (const part of parts) {
      data.set(part, at);
      at += part.length;
    }
    return { data, sw };
  }
}

/** Races a promise against a timer; the loser is ignored. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new KioskError('CARD_TIMEOUT', `${what}: no answer in ${ms} ms`)),
      ms,
    );
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
