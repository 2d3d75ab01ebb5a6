// PIN-less terminal authentication, card side: an extension of the virtual JPKI applet that holds the
// mock 特定機関 CA's public key behind EF 0016 and implements this project's protocol
// (docs/pinless-protocol.md; main/core/card/terminal-auth.ts is the terminal side).
//
// Per-selection state lives in `security.ext['terminal-auth']`, so a re-select, reset or power-off
// forgets the verified certificate, the challenge and the unlock together.
import { createHash, randomBytes } from 'node:crypto';
import type { CommandApdu } from '../../main/core/card/apdu.js';
import { EF, SHA256_DIGEST_INFO_PREFIX } from '../../main/core/card/jpki.js';
import { TA, TA_SW, taSignedMessage } from '../../main/core/card/terminal-auth.js';
import {
  cvcValidAt,
  parseCvc,
  RIGHT_UNLOCK_AUTH_KEY,
  verifyCvcSignature,
  verifyP256,
} from '../../hsm/cvc.js';
import type { TrustedInstitutionCa } from '../institution-ca/ca.js';
import type { AppletContext, AppletExtension, VirtualJpkiCard } from './applet.js';

export const TERMINAL_AUTH_EXTENSION = 'terminal-auth';

interface TaState {
  holder: { chr: string; publicPoint: Uint8Array } | null;
  challenge: Uint8Array | null;
}

export interface TerminalAuthCardOptions {
  /** The CA public keys the card trusts (in a real card: personalised behind EF 0016). */
  trusted: readonly TrustedInstitutionCa[];
  /** The card's notion of "now" for certificate validity (the virtual card has a clock; see docs). */
  now?: () => Date;
  random?: (n: number) => Uint8Array;
}

export class TerminalAuthCardExtension implements AppletExtension {
  readonly name = TERMINAL_AUTH_EXTENSION;

  constructor(private readonly options: TerminalAuthCardOptions) {}

  private state(context: AppletContext): TaState {
    const ext = context.security.ext;
    ext[this.name] ??= { holder: null, challenge: null } satisfies TaState;
    return ext[this.name] as TaState;
  }

  handle(command: CommandApdu, context: AppletContext): Uint8Array | null {
    if (command.cla === TA.claProprietary && command.ins === TA.insVerifyCertificate)
      return this.verifyCertificate(command, context);
    if (command.cla === 0x00 && command.ins === TA.insGetChallenge)
      return this.getChallenge(command, context);
    if (command.cla === 0x00 && command.ins === TA.insExternalAuthenticate)
      return this.externalAuthenticate(command, context);
    return null;
  }

  private verifyCertificate(command: CommandApdu, context: AppletContext): Uint8Array {
    const state = this.state(context);
    // Any new attempt forgets the previous certificate, challenge and unlock.
    state.holder = null;
    state.challenge = null;
    context.security.terminalUnlock = null;
    if (command.p1 !== 0 || command.p2 !== 0) return context.reply([], 0x6a86);
    if (context.selectedEf !== EF.terminalAuthKeyRef) return context.reply([], TA_SW.CONDITIONS);
    let cvc;
    try {
      cvc = parseCvc(command.data);
    } catch {
      return context.reply([], TA_SW.WRONG_DATA);
    }
    const ca = this.options.trusted.find((t) => t.car === cvc.car);
    if (!ca) return context.reply([], TA_SW.UNKNOWN_CA);
    if (!verifyCvcSignature(cvc, ca.publicPoint)) return context.reply([], TA_SW.VERIFICATION_FAILED);
    if (!cvcValidAt(cvc, this.options.now?.() ?? new Date()))
      return context.reply([], TA_SW.VERIFICATION_FAILED);
    if ((cvc.rights & RIGHT_UNLOCK_AUTH_KEY) === 0) return context.reply([], TA_SW.NOT_ENTITLED);
    state.holder = { chr: cvc.chr, publicPoint: Uint8Array.from(cvc.publicPoint) };
    return context.reply([], TA_SW.OK);
  }

  private getChallenge(command: CommandApdu, context: AppletContext): Uint8Array {
    const state = this.state(context);
    if (command.p1 !== 0 || command.p2 !== 0) return context.reply([], 0x6a86);
    if (command.le !== TA.challengeLength || command.data.length !== 0)
      return context.reply([], TA_SW.WRONG_LENGTH);
    if (!state.holder) return context.reply([], TA_SW.CONDITIONS);
    const challenge =
      this.options.random?.(TA.challengeLength) ?? new Uint8Array(randomBytes(TA.challengeLength));
    state.challenge = Uint8Array.from(challenge);
    return context.reply(challenge, TA_SW.OK);
  }

  private externalAuthenticate(command: CommandApdu, context: AppletContext): Uint8Array {
    const state = this.state(context);
    // A challenge answers exactly one attempt: replaying an old answer meets a new (or no) challenge.
    const challenge = state.challenge;
    state.challenge = null;
    if (command.p1 !== 0 || command.p2 !== 0) return context.reply([], 0x6a86);
    if (!state.holder || !challenge) return context.reply([], TA_SW.CONDITIONS);
    if (command.data.length !== TA.nonceLength + TA.hashLength + TA.signatureLength)
      return context.reply([], TA_SW.WRONG_LENGTH);
    const nonce = command.data.subarray(0, TA.nonceLength);
    const digest = command.data.subarray(TA.nonceLength, TA.nonceLength + TA.hashLength);
    const signature = command.data.subarray(TA.nonceLength + TA.hashLength);
    // The card binds its own certificate: a signature made for another card's certificate fails here.
    const certificateSha256 = new Uint8Array(createHash('sha256').update(context.profile.authCert).digest());
    const message = taSignedMessage(state.holder.chr, challenge, nonce, { certificateSha256, digest });
    if (!verifyP256(state.holder.publicPoint, message, signature)) {
      state.holder = null;
      return context.reply([], TA_SW.VERIFICATION_FAILED);
    }
    // Exactly this DigestInfo, once (the signing command consumes it).
    context.security.terminalUnlock = Uint8Array.from([...SHA256_DIGEST_INFO_PREFIX, ...digest]);
    return context.reply([], TA_SW.OK);
  }
}

/** Gives a virtual card the terminal-authentication protocol with these trusted CAs. */
export function enableTerminalAuth(
  card: VirtualJpkiCard,
  options: TerminalAuthCardOptions,
): TerminalAuthCardExtension {
  const extension = new TerminalAuthCardExtension(options);
  card.registerExtension(extension);
  return extension;
}
