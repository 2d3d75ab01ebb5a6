// The virtual My Number Card: the JPKI applet as the public facts describe it (docs/card.md).
// Pure and synchronous: `transmit(command) → response` with no I/O, so it runs in process (benchmarks,
// fuzzing) or behind vpcd (sim/card/vpcd-client.ts). Timing and faults are layered on top
// (sim/card/simulated-card.ts).
//
// Extension point for the PIN-less terminal authentication (sim/card/terminal-auth.ts):
// `registerExtension()` adds a handler that sees every command the base applet does not implement
// (e.g. `80 A2` and a GET CHALLENGE `00 84`) while the JPKI applet is selected. It gets the per-selection
// `SecurityState`; setting `terminalUnlock` to the exact bytes the terminal bound lets the signing
// command sign those bytes, once, with the authentication key and without the PIN (anything else is
// refused with 6982 and ends the unlock). Re-selecting the applet, a reset and power-off create a fresh
// SecurityState (the unlock and every extension's `ext` state are gone).
import { privateEncrypt, constants } from 'node:crypto';
import {
  ApduFormatError,
  bytesEqual,
  parseCommand,
  withSw,
  type CommandApdu,
} from '../../main/core/card/apdu.js';
import { EF, FORBIDDEN_AID, JPKI_AID, MAX_SIGN_INPUT, TOKEN_INFO_LENGTH } from '../../main/core/card/jpki.js';
import type { CardProfile, PinState } from './profile.js';
import { newSigningIdentity, signingCa, type SigningIdentity } from './signing-identity.js';

/** The signing password (署名用パスワード) of a virtual card whose profile names none. */
export const DEMO_SIGN_PASSWORD = 'JPKI1234';
export const SIGN_PIN_MAX_TRIES = 5;

export const SW = {
  OK: 0x9000,
  END_OF_FILE: 0x6282,
  WRONG_LENGTH: 0x6700,
  FILE_INCOMPATIBLE: 0x6981,
  SECURITY_STATUS: 0x6982,
  BLOCKED: 0x6984,
  CONDITIONS: 0x6985,
  NO_CURRENT_EF: 0x6986,
  WRONG_DATA: 0x6a80,
  FUNC_NOT_SUPPORTED: 0x6a81,
  NOT_FOUND: 0x6a82,
  WRONG_P1P2: 0x6a86,
  WRONG_OFFSET: 0x6b00,
  INS_NOT_SUPPORTED: 0x6d00,
  CLA_NOT_SUPPORTED: 0x6e00,
} as const;

/** Per-selection security state: a fresh one after SELECT of the applet, reset and power-off. */
export interface SecurityState {
  authPinVerified: boolean;
  signPinVerified: boolean;
  /**
   * Set by the terminal-authentication extension: the one signing input (a DigestInfo) EF 0017 may
   * sign without the PIN. Consumed by the next signing command, whatever it asks.
   */
  terminalUnlock: Uint8Array | null;
  /** Free space for extensions, keyed by extension name. */
  ext: Record<string, unknown>;
}

export interface AppletContext {
  readonly profile: CardProfile;
  readonly security: SecurityState;
  readonly selectedEf: number | null;
  /** Builds a response APDU. */
  reply(data: Uint8Array | number[], sw?: number): Uint8Array;
}

export interface AppletExtension {
  readonly name: string;
  /** Called for commands the base applet does not implement while the JPKI applet is selected.
   *  Return a response APDU, or null to decline (the card then answers 6D00). */
  handle(command: CommandApdu, context: AppletContext): Uint8Array | null;
}

/** What the card saw: for tests (e.g. proving the forbidden AID never reached it). */
export interface CardAudit {
  commands: number;
  forbiddenSelects: number;
  selectsByName: string[];
}

interface FileSpec {
  read: 'always' | 'signPin' | 'never';
  content: () => Uint8Array | null;
}

export class VirtualJpkiCard {
  readonly profile: CardProfile;
  readonly audit: CardAudit = { commands: 0, forbiddenSelects: 0, selectsByName: [] };
  private readonly extensions: AppletExtension[] = [];
  private readonly files: Map<number, FileSpec>;
  private appletSelected = false;
  private selectedEf: number | null = null;
  private security: SecurityState = VirtualJpkiCard.freshSecurity();
  private signing: SigningIdentity | null = null;

  constructor(profile: CardProfile) {
    this.profile = profile;
    // Every card has both PINs with their own counters, as real cards do.
    profile.pins.sign ??= {
      value: DEMO_SIGN_PASSWORD,
      triesLeft: SIGN_PIN_MAX_TRIES,
      maxTries: SIGN_PIN_MAX_TRIES,
    };
    const tokenInfo = new Uint8Array(TOKEN_INFO_LENGTH).fill(0x20);
    tokenInfo.set(Buffer.from(profile.tokenLabel, 'ascii').subarray(0, 32), 0);
    this.files = new Map<number, FileSpec>([
      [EF.authCert, { read: 'always', content: () => profile.authCert }],
      [EF.authCaCert, { read: 'always', content: () => profile.authCaCert }],
      [EF.tokenInfo, { read: 'always', content: () => tokenInfo }],
      [EF.signCaCert, { read: 'always', content: () => profile.signCaCert ?? signingCa().certificate }],
      [EF.signCert, { read: 'signPin', content: () => this.signingIdentity().certificate }],
      [EF.authKey, { read: 'never', content: () => null }],
      [EF.authPin, { read: 'never', content: () => null }],
      [EF.signKey, { read: 'never', content: () => null }],
      [EF.signPin, { read: 'never', content: () => null }],
      [EF.terminalAuthKeyRef, { read: 'never', content: () => null }],
    ]);
  }

  /** Made on first use: the product never touches the signing side, so most cards never pay for it. */
  private signingIdentity(): SigningIdentity {
    this.signing ??= newSigningIdentity(this.profile.name);
    return this.signing;
  }

  static freshSecurity(): SecurityState {
    return { authPinVerified: false, signPinVerified: false, terminalUnlock: null, ext: {} };
  }

  get atr(): Uint8Array {
    return this.profile.atr;
  }

  registerExtension(extension: AppletExtension): void {
    if (this.extensions.some((e) => e.name === extension.name))
      throw new Error(`extension ${extension.name} already registered`);
    this.extensions.push(extension);
  }

  /** Warm reset or power cycle: nothing selected, security state cleared; PIN counters persist. */
  reset(): void {
    this.appletSelected = false;
    this.selectedEf = null;
    this.security = VirtualJpkiCard.freshSecurity();
  }

  transmit(apdu: Uint8Array): Uint8Array {
    this.audit.commands++;
    let command: CommandApdu;
    try {
      command = parseCommand(apdu);
    } catch (error) {
      if (error instanceof ApduFormatError) return withSw([], SW.WRONG_LENGTH);
      throw error;
    }
    if ((command.cla & 0x03) !== 0) return withSw([], 0x6881); // logical channels: only channel 0
    if (command.cla !== 0x00 && command.cla !== 0x80) return withSw([], SW.CLA_NOT_SUPPORTED);
    switch (command.ins) {
      case 0xa4:
        return this.select(command);
      case 0xb0:
        return this.readBinary(command);
      case 0x20:
        return this.verify(command);
      case 0x24:
        return this.changeReferenceData(command);
      case 0x2a:
        if (command.cla === 0x80) return this.sign(command);
        break;
    }
    if (this.appletSelected) {
      const context: AppletContext = {
        profile: this.profile,
        security: this.security,
        selectedEf: this.selectedEf,
        reply: (data, sw = SW.OK) => withSw(data, sw),
      };
      for (const extension of this.extensions) {
        const answer = extension.handle(command, context);
        if (answer) return answer;
      }
    }
    return withSw([], SW.INS_NOT_SUPPORTED);
  }

  private select(command: CommandApdu): Uint8Array {
    if (command.p1 === 0x04) {
      this.audit.selectsByName.push(Buffer.from(command.data).toString('hex'));
      if (bytesEqual(command.data, FORBIDDEN_AID)) this.audit.forbiddenSelects++;
      if ((command.p2 & 0xf3) !== 0x00 && (command.p2 & 0xf3) !== 0x0c) return withSw([], SW.WRONG_P1P2);
      // A failed selection leaves no application selected (and no verified state).
      this.appletSelected = false;
      this.selectedEf = null;
      this.security = VirtualJpkiCard.freshSecurity();
      if (!bytesEqual(command.data, JPKI_AID)) return withSw([], SW.NOT_FOUND);
      this.appletSelected = true;
      return withSw([], SW.OK);
    }
    if (command.p1 === 0x02) {
      if (!this.appletSelected) return withSw([], SW.NOT_FOUND);
      if (command.data.length !== 2) return withSw([], SW.WRONG_LENGTH);
      const fid = (command.data[0]! << 8) | command.data[1]!;
      if (!this.files.has(fid)) return withSw([], SW.NOT_FOUND);
      this.selectedEf = fid;
      return withSw([], SW.OK);
    }
    return withSw([], SW.WRONG_P1P2);
  }

  private readBinary(command: CommandApdu): Uint8Array {
    if (!this.appletSelected) return withSw([], SW.NO_CURRENT_EF);
    let fid = this.selectedEf;
    let offset: number;
    if (command.p1 & 0x80) {
      // short EF identifier in P1 bits 1-5, offset in P2; selects the EF
      const sfi = command.p1 & 0x1f;
      if (command.p1 & 0x60) return withSw([], SW.WRONG_P1P2);
      if (!this.files.has(sfi)) return withSw([], SW.NOT_FOUND);
      fid = sfi;
      this.selectedEf = sfi;
      offset = command.p2;
    } else {
      offset = (command.p1 << 8) | command.p2;
    }
    if (command.data.length > 0) return withSw([], SW.WRONG_LENGTH);
    if (fid === null) return withSw([], SW.NO_CURRENT_EF);
    const spec = this.files.get(fid)!;
    if (spec.read === 'never') return withSw([], SW.FILE_INCOMPATIBLE);
    if (spec.read === 'signPin' && !this.security.signPinVerified) return withSw([], SW.SECURITY_STATUS);
    const content = spec.content();
    if (!content) return withSw([], SW.NOT_FOUND);
    if (offset >= content.length) return withSw([], SW.WRONG_OFFSET);
    const want = command.le ?? 256;
    const end = Math.min(content.length, offset + want);
    const chunk = content.subarray(offset, end);
    return withSw(chunk, end - offset < want ? SW.END_OF_FILE : SW.OK);
  }

  private pinFor(p2: number): PinState | null | undefined {
    if (p2 !== 0x80) return undefined;
    if (this.selectedEf === EF.authPin) return this.profile.pins.auth;
    if (this.selectedEf === EF.signPin) return this.profile.pins.sign;
    return undefined;
  }

  private verify(command: CommandApdu): Uint8Array {
    if (!this.appletSelected) return withSw([], SW.NOT_FOUND);
    if (command.p1 !== 0x00) return withSw([], SW.WRONG_P1P2);
    const pin = this.pinFor(command.p2);
    if (pin === undefined) return withSw([], SW.NO_CURRENT_EF);
    if (pin === null) return withSw([], SW.NOT_FOUND);
    if (pin.triesLeft === 0) return withSw([], SW.BLOCKED);
    // Case 1 VERIFY: report the tries left without consuming one.
    if (command.data.length === 0) {
      if (this.isVerified()) return withSw([], SW.OK);
      return withSw([], 0x63c0 | pin.triesLeft);
    }
    const given = Buffer.from(command.data).toString('latin1');
    if (given === pin.value) {
      pin.triesLeft = pin.maxTries;
      this.setVerified(true);
      return withSw([], SW.OK);
    }
    pin.triesLeft = Math.max(0, pin.triesLeft - 1);
    this.setVerified(false);
    return withSw([], 0x63c0 | pin.triesLeft);
  }

  private isVerified(): boolean {
    return this.selectedEf === EF.signPin ? this.security.signPinVerified : this.security.authPinVerified;
  }

  private setVerified(value: boolean) {
    if (this.selectedEf === EF.signPin) this.security.signPinVerified = value;
    else this.security.authPinVerified = value;
  }

  /** CHANGE REFERENCE DATA: P1=00 data = old || new (same length); P1=01 data = new, after VERIFY. */
  private changeReferenceData(command: CommandApdu): Uint8Array {
    if (!this.appletSelected) return withSw([], SW.NOT_FOUND);
    const pin = this.pinFor(command.p2);
    if (pin === undefined) return withSw([], SW.NO_CURRENT_EF);
    if (pin === null) return withSw([], SW.NOT_FOUND);
    if (pin.triesLeft === 0) return withSw([], SW.BLOCKED);
    const text = Buffer.from(command.data).toString('latin1');
    const valid = (value: string) =>
      this.selectedEf === EF.authPin ? /^[0-9]{4}$/.test(value) : /^[0-9A-Z]{6,16}$/.test(value);
    let next: string;
    if (command.p1 === 0x01) {
      if (!this.isVerified()) return withSw([], SW.SECURITY_STATUS);
      next = text;
    } else if (command.p1 === 0x00) {
      if (text.length % 2 !== 0) return withSw([], SW.WRONG_LENGTH);
      const old = text.slice(0, text.length / 2);
      next = text.slice(text.length / 2);
      if (old !== pin.value) {
        pin.triesLeft = Math.max(0, pin.triesLeft - 1);
        this.setVerified(false);
        return withSw([], 0x63c0 | pin.triesLeft);
      }
    } else return withSw([], SW.WRONG_P1P2);
    if (!valid(next)) return withSw([], SW.WRONG_DATA);
    pin.value = next;
    pin.triesLeft = pin.maxTries;
    this.setVerified(true);
    return withSw([], SW.OK);
  }

  private sign(command: CommandApdu): Uint8Array {
    if (!this.appletSelected) return withSw([], SW.NOT_FOUND);
    if (command.p1 !== 0x00 || command.p2 !== 0x80) return withSw([], SW.WRONG_P1P2);
    if (this.selectedEf === EF.signKey) {
      // the signing key needs the signing password (this product never uses it; JPKI clients do)
      if (!this.security.signPinVerified) return withSw([], SW.SECURITY_STATUS);
      if (command.data.length < 1 || command.data.length > MAX_SIGN_INPUT) return withSw([], SW.WRONG_LENGTH);
      const signature = privateEncrypt(
        { key: this.signingIdentity().privateKey, padding: constants.RSA_PKCS1_PADDING },
        command.data,
      );
      return withSw(new Uint8Array(signature), SW.OK);
    }
    if (this.selectedEf !== EF.authKey) return withSw([], SW.NO_CURRENT_EF);
    if (!this.security.authPinVerified) {
      const unlock = this.security.terminalUnlock;
      this.security.terminalUnlock = null;
      if (!unlock || !bytesEqual(unlock, command.data)) return withSw([], SW.SECURITY_STATUS);
    }
    if (command.data.length < 1 || command.data.length > MAX_SIGN_INPUT) return withSw([], SW.WRONG_LENGTH);
    const signature = privateEncrypt(
      { key: this.profile.authKey, padding: constants.RSA_PKCS1_PADDING },
      command.data,
    );
    return withSw(new Uint8Array(signature), SW.OK);
  }
}
