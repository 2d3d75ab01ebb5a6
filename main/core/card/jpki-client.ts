// The JPKI client: everything the terminal asks of the card's JPKI applet, in as few commands as the
// card allows, with every status word turned into a typed KioskError. It never selects anything but
// the JPKI applet and its EFs (the channel's guard enforces that for every path, including transmit()).
import { KioskError } from '../../../base/errors.js';
import { parseCommand, type CommandInput } from './apdu.js';
import { statusError } from './card-errors.js';
import {
  AUTH_PIN_MAX_TRIES,
  EF,
  JPKI_AID,
  MAX_SIGN_INPUT,
  SHA256_DIGEST_INFO_PREFIX,
  TOKEN_LABELS,
  type CardType,
} from './jpki.js';
import { ApduChannel, type CardResponse, type ChannelOptions, type CardTransport } from './transport.js';

export interface TokenInfo {
  label: string;
  cardType: CardType;
}

export interface JpkiClientOptions extends ChannelOptions {
  /** Largest certificate accepted (DER length). */
  maxCertificateBytes?: number;
}

const OK = 0x9000;

export class JpkiClient {
  readonly channel: ApduChannel;
  private readonly maxCertificateBytes: number;
  private extendedReads: boolean;
  private selectedEf: number | null = null;
  private appletSelected = false;

  constructor(transport: CardTransport | ApduChannel, options: JpkiClientOptions = {}) {
    this.channel = transport instanceof ApduChannel ? transport : new ApduChannel(transport, options);
    this.maxCertificateBytes = options.maxCertificateBytes ?? 8192;
    this.extendedReads = this.channel.transport.extendedLength;
  }

  /** Exchanges sent so far (benchmarks report commands per operation). */
  get exchanges(): number {
    return this.channel.exchanges;
  }

  private async command(input: CommandInput, operation: string): Promise<CardResponse> {
    const response = await this.channel.send(input);
    if (response.sw !== OK && response.sw !== 0x6282) throw statusError(response.sw, operation);
    return response;
  }

  /** SELECT the JPKI applet (as real tools send it: P2=0C, no Le). Drops any verified state. */
  async selectApplet(): Promise<void> {
    this.appletSelected = false;
    this.selectedEf = null;
    const response = await this.channel.send({ cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x0c, data: JPKI_AID });
    if (response.sw === 0x6a82 || response.sw === 0x6a86 || response.sw === 0x6d00 || response.sw === 0x6e00)
      throw new KioskError('CARD_NOT_JPKI', 'no JPKI applet on this card', { sw: response.sw.toString(16) });
    if (response.sw !== OK) throw statusError(response.sw, 'select JPKI applet');
    this.appletSelected = true;
  }

  private async ensureApplet() {
    if (!this.appletSelected) await this.selectApplet();
  }

  async selectEf(fid: number): Promise<void> {
    await this.ensureApplet();
    const data = Uint8Array.from([(fid >> 8) & 0xff, fid & 0xff]);
    const response = await this.channel.send({ cla: 0x00, ins: 0xa4, p1: 0x02, p2: 0x0c, data });
    if (response.sw !== OK) {
      this.selectedEf = null;
      throw statusError(response.sw, `select EF ${fid.toString(16).padStart(4, '0')}`);
    }
    this.selectedEf = fid;
  }

  private async readBinary(offset: number, le: number): Promise<CardResponse> {
    if (offset > 0x7fff) throw new KioskError('CARD_MALFORMED', 'file offset beyond 15 bits');
    return this.command(
      { cla: 0x00, ins: 0xb0, p1: (offset >> 8) & 0x7f, p2: offset & 0xff, le },
      'read binary',
    );
  }

  async readTokenInfo(): Promise<TokenInfo> {
    await this.selectEf(EF.tokenInfo);
    const { data } = await this.readBinary(0, 32);
    if (data.length === 0 || data.length > 32)
      throw new KioskError('CARD_MALFORMED', 'token info of bad length');
    const label = Buffer.from(data)
      .toString('latin1')
      .replace(/[\s\0]+$/, '');
    if (!/^[\x20-\x7e]*$/.test(label)) throw new KioskError('CARD_MALFORMED', 'token label is not ASCII');
    const cardType = (TOKEN_LABELS as Record<string, CardType>)[label] ?? 'unknown';
    return { label, cardType };
  }

  /** Reads a DER object from an EF: its header first (4 bytes), then the rest in as few reads as possible. */
  async readDerFile(fid: number): Promise<Uint8Array> {
    await this.selectEf(fid);
    const head = (await this.readBinary(0, 4)).data;
    if (head.length !== 4)
      throw new KioskError('CARD_MALFORMED', `DER header read returned ${head.length} bytes`);
    if (head[0] !== 0x30) throw new KioskError('CARD_MALFORMED', 'file does not start with a DER SEQUENCE');
    let total: number;
    if (head[1]! < 0x80) total = 2 + head[1]!;
    else if (head[1] === 0x81) total = 3 + head[2]!;
    else if (head[1] === 0x82) total = 4 + ((head[2]! << 8) | head[3]!);
    else throw new KioskError('CARD_MALFORMED', 'unsupported DER length form');
    if (head[1] === 0x81 && head[2]! < 0x80) throw new KioskError('CARD_MALFORMED', 'non-minimal DER length');
    if (head[1] === 0x82 && total - 4 < 0x100)
      throw new KioskError('CARD_MALFORMED', 'non-minimal DER length');
    if (total > this.maxCertificateBytes)
      throw new KioskError(
        'CARD_MALFORMED',
        `DER object of ${total} bytes exceeds ${this.maxCertificateBytes}`,
      );
    const out = new Uint8Array(total);
    const first = Math.min(4, total);
    out.set(head.subarray(0, first), 0);
    let offset = first;
    let reads = 0;
    const maxReads = Math.ceil(total / 256) + 4;
    while (offset < total) {
      if (++reads > maxReads) throw new KioskError('CARD_MALFORMED', 'certificate read does not progress');
      const remaining = total - offset;
      const useExtended = this.extendedReads && remaining > 256;
      const want = useExtended ? remaining : Math.min(256, remaining);
      let response: CardResponse;
      try {
        response = await this.readBinary(offset, want);
      } catch (error) {
        if (
          useExtended &&
          error instanceof KioskError &&
          ['CARD_WRONG_LENGTH', 'CARD_STATUS', 'CARD_PROTOCOL'].includes(error.code)
        ) {
          this.extendedReads = false; // the card or reader does not do extended length: use chunks
          continue;
        }
        if (error instanceof KioskError && error.code === 'CARD_WRONG_LENGTH' && error.detail?.sw === '6B00')
          throw new KioskError('CARD_MALFORMED', 'file shorter than its DER header says', undefined, {
            cause: error,
          });
        throw error;
      }
      const chunk = response.data;
      if (chunk.length > want)
        throw new KioskError('CARD_MALFORMED', `read returned ${chunk.length} > ${want} bytes`);
      if (chunk.length === 0) throw new KioskError('CARD_MALFORMED', 'read returned no data');
      if (response.sw === 0x6282 && chunk.length < want)
        throw new KioskError('CARD_MALFORMED', 'file shorter than its DER header says');
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }

  readAuthCertificate(): Promise<Uint8Array> {
    return this.readDerFile(EF.authCert);
  }

  readAuthCaCertificate(): Promise<Uint8Array> {
    return this.readDerFile(EF.authCaCert);
  }

  /** Tries left for the authentication PIN, without consuming one (case-1 VERIFY). 0 = blocked. */
  async authPinTriesLeft(): Promise<number> {
    await this.selectEf(EF.authPin);
    const { sw } = await this.channel.send({ cla: 0x00, ins: 0x20, p1: 0x00, p2: 0x80 });
    if (sw === OK) return AUTH_PIN_MAX_TRIES; // verified in this session: the counter is full
    if ((sw & 0xfff0) === 0x63c0) return sw & 0x0f;
    if (sw === 0x6983 || sw === 0x6984) return 0;
    throw statusError(sw, 'query PIN tries');
  }

  /** VERIFY the 4-digit authentication PIN. Throws PIN_WRONG (detail.triesLeft) or PIN_BLOCKED. */
  async verifyAuthPin(pin: string): Promise<void> {
    if (!/^[0-9]{4}$/.test(pin)) throw new KioskError('PIN_FORMAT', 'the PIN is 4 digits');
    await this.selectEf(EF.authPin);
    const data = Uint8Array.from(Buffer.from(pin, 'ascii'));
    try {
      const { sw } = await this.channel.send({ cla: 0x00, ins: 0x20, p1: 0x00, p2: 0x80, data });
      if (sw !== OK) throw statusError(sw, 'verify PIN');
    } finally {
      data.fill(0);
    }
  }

  /** The card signs `input` (1–245 bytes, normally a DigestInfo) with its authentication key. */
  async signAuth(input: Uint8Array): Promise<Uint8Array> {
    if (input.length < 1 || input.length > MAX_SIGN_INPUT)
      throw new KioskError('INVALID_REQUEST', `signature input must be 1-${MAX_SIGN_INPUT} bytes`);
    if (this.selectedEf !== EF.authKey) await this.selectEf(EF.authKey);
    const { data } = await this.command(
      { cla: 0x80, ins: 0x2a, p1: 0x00, p2: 0x80, data: input, le: 256 },
      'sign',
    );
    if (data.length !== 256) throw new KioskError('CARD_MALFORMED', `signature of ${data.length} bytes`);
    return data;
  }

  /** Signs a SHA-256 hash as a DigestInfo (PKCS#1 v1.5, as sha256WithRSAEncryption verifies). */
  signSha256(hash: Uint8Array): Promise<Uint8Array> {
    if (hash.length !== 32) throw new KioskError('INVALID_REQUEST', 'a SHA-256 hash is 32 bytes');
    const digestInfo = new Uint8Array(SHA256_DIGEST_INFO_PREFIX.length + 32);
    digestInfo.set(SHA256_DIGEST_INFO_PREFIX, 0);
    digestInfo.set(hash, SHA256_DIGEST_INFO_PREFIX.length);
    return this.signAuth(digestInfo);
  }

  /**
   * Sends any other command (the terminal-authentication protocol's proprietary ones). Goes through
   * the same channel: the forbidden-AID guard, timeouts and 61xx/6Cxx handling apply. Returns the raw
   * status word; the caller maps it (see statusError).
   */
  async transmit(command: CommandInput | Uint8Array): Promise<CardResponse> {
    const parsed = command instanceof Uint8Array ? safeParse(command) : command;
    const response = await this.channel.send(command);
    if (parsed?.ins === 0xa4) {
      // keep our view of the selection in step with what the card now has selected
      const data = parsed.data ?? new Uint8Array(0);
      if (parsed.p1 === 0x04) {
        this.appletSelected = response.sw === OK;
        this.selectedEf = null;
      } else if (parsed.p1 === 0x02) {
        this.selectedEf = response.sw === OK && data.length === 2 ? (data[0]! << 8) | data[1]! : null;
      }
    }
    return response;
  }

  async close(): Promise<void> {
    await this.channel.transport.close();
  }
}

function safeParse(bytes: Uint8Array): CommandInput | null {
  try {
    return parseCommand(bytes);
  } catch {
    return null;
  }
}
