// A virtual card as a reader sees it: the pure applet plus a timing model, transport quirks (T=0 style
// 61xx/6Cxx) and fault injection. `respond()` says what to send back and after how long; the vpcd
// client and the in-process transport both play that out.
import { parseCommand, statusWord, withSw } from '../../main/core/card/apdu.js';
import { VirtualJpkiCard } from './applet.js';
import { loadCardProfile, type CardProfile } from './profile.js';
import { exchangeMs, timingModel, type TimingModel } from './timing.js';

export interface CardFaults {
  /** The card leaves the field when command number N (1-based, counted since power-on) arrives. */
  removeAtCommand?: number;
  /** Command number N never gets an answer. */
  stallAtCommand?: number;
  /** Command number N (or every command from N on, with `sticky`) answers with this status word. */
  wrongStatus?: { atCommand: number; sw: number; sticky?: boolean };
  /** XOR one byte of the authentication certificate as stored on the card. */
  corruptCertificate?: { offset: number; xor?: number };
  /** From command number N on, every answer (including GET RESPONSE) is `61 10`. */
  endlessGetResponseAt?: number;
}

export interface SimulatedCardOptions {
  /** Timing; default: the profile's own. */
  timing?: TimingModel;
  faults?: CardFaults;
  /** T=0 style: data is announced with 61xx and fetched with GET RESPONSE; too-long Le gets 6Cxx. */
  t0Style?: boolean;
}

export type CardReply =
  { kind: 'answer'; bytes: Uint8Array; delayMs: number } | { kind: 'stall' } | { kind: 'removed' };

export class SimulatedCard {
  readonly applet: VirtualJpkiCard;
  timing: TimingModel;
  faults: CardFaults;
  readonly t0Style: boolean;
  private count = 0;
  private pending: Uint8Array | null = null;
  private removed = false;

  constructor(profile: CardProfile, options: SimulatedCardOptions = {}) {
    this.faults = options.faults ?? {};
    const corrupt = this.faults.corruptCertificate;
    if (corrupt) {
      const cert = Uint8Array.from(profile.authCert);
      const at = Math.min(cert.length - 1, Math.max(0, corrupt.offset));
      cert[at] = cert[at]! ^ (corrupt.xor ?? 0xff);
      profile = { ...profile, authCert: cert };
    }
    this.applet = new VirtualJpkiCard(profile);
    this.timing = options.timing ?? timingModel(profile.timing);
    this.t0Style = options.t0Style ?? false;
  }

  static fromFile(path: string, options?: SimulatedCardOptions): SimulatedCard {
    return new SimulatedCard(loadCardProfile(path), options);
  }

  get atr(): Uint8Array {
    return this.applet.atr;
  }

  /** True once a removal fault fired: the card is out of the field until re-created. */
  get isRemoved(): boolean {
    return this.removed;
  }

  /** Power-on or reset from the reader. */
  reset(): void {
    this.applet.reset();
    this.pending = null;
    this.count = 0;
  }

  respond(command: Uint8Array): CardReply {
    if (this.removed) return { kind: 'removed' };
    this.count++;
    const n = this.count;
    const f = this.faults;
    if (f.removeAtCommand !== undefined && n >= f.removeAtCommand) {
      this.removed = true;
      return { kind: 'removed' };
    }
    if (f.stallAtCommand !== undefined && n === f.stallAtCommand) return { kind: 'stall' };
    if (f.endlessGetResponseAt !== undefined && n >= f.endlessGetResponseAt)
      return this.timed(command, withSw([], 0x6110), false);

    let response: Uint8Array;
    const isGetResponse = command.length >= 4 && command[1] === 0xc0 && this.t0Style;
    if (isGetResponse) {
      response = this.getResponse(command);
    } else {
      this.pending = null;
      response = this.applet.transmit(command);
      if (this.t0Style) response = this.t0(command, response);
    }
    if (
      f.wrongStatus &&
      (n === f.wrongStatus.atCommand || (f.wrongStatus.sticky && n > f.wrongStatus.atCommand))
    ) {
      response = withSw(response.subarray(0, response.length - 2), f.wrongStatus.sw);
    }
    return this.timed(
      command,
      response,
      command.length > 1 && command[1] === 0x2a && statusWord(response) === 0x9000,
    );
  }

  private timed(command: Uint8Array, response: Uint8Array, signed: boolean): CardReply {
    return {
      kind: 'answer',
      bytes: response,
      delayMs: exchangeMs(this.timing, command.length, response.length, signed),
    };
  }

  private t0(command: Uint8Array, response: Uint8Array): Uint8Array {
    const sw = statusWord(response);
    const data = response.subarray(0, response.length - 2);
    let le: number | null = null;
    try {
      le = parseCommand(command).le;
    } catch {
      return response;
    }
    // READ BINARY asking for more than remains: tell the exact length (6Cxx) instead of 6282.
    if (command[1] === 0xb0 && sw === 0x6282 && data.length < 256) return withSw([], 0x6c00 | data.length);
    if (data.length === 0) return response;
    if (sw !== 0x9000 && sw !== 0x6282) return response;
    void le;
    this.pending = Uint8Array.from(data);
    return withSw([], 0x6100 | (data.length >= 256 ? 0 : data.length));
  }

  private getResponse(command: Uint8Array): Uint8Array {
    if (!this.pending) return withSw([], 0x6985);
    let le = 256;
    try {
      le = parseCommand(command).le ?? 256;
    } catch {
      return withSw([], 0x6700);
    }
    const chunk = this.pending.subarray(0, le);
    const rest = this.pending.subarray(chunk.length);
    this.pending = rest.length > 0 ? Uint8Array.from(rest) : null;
    return withSw(chunk, rest.length > 0 ? 0x6100 | (rest.length >= 256 ? 0 : rest.length) : 0x9000);
  }
}
