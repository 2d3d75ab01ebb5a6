// PIN-less terminal authentication, terminal side. The protocol is this project's own design in the
// style of the public hints (docs/pinless-protocol.md): J-LIS's real exchange is not public. It sits
// behind `TerminalAuthenticator` so that a licensed J-LIS implementation can replace it without
// touching the card client.
//
//   SELECT EF 0016                 00 A4 02 0C 02 00 16
//   VERIFY CERTIFICATE             80 A2 00 00 Lc <7F21 institution CVC>
//   GET CHALLENGE                  00 84 00 00 08                      → 8-byte card challenge
//   EXTERNAL AUTHENTICATE          00 82 00 00 50 <nonce 16> <r||s 64>
//
// The signature is made in the HSM over SHA-256(TA_CONTEXT || len(CHR) || CHR || challenge || nonce).
// Afterwards the card's user-authentication key signs without the PIN, for this selection only.
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { KioskError } from '../../../base/errors.js';
import { encodeCommand } from './apdu.js';
import { EF } from './jpki.js';

export const TA = {
  /** Domain separation for the signed message (ASCII "JPKI-KIOSK-TA/1"). */
  context: Uint8Array.from(Buffer.from('JPKI-KIOSK-TA/1', 'ascii')),
  challengeLength: 8,
  nonceLength: 16,
  signatureLength: 64,
  claProprietary: 0x80,
  insVerifyCertificate: 0xa2,
  insGetChallenge: 0x84,
  insExternalAuthenticate: 0x82,
} as const;

/** Status words of the protocol (card side answers, terminal side interprets). */
export const TA_SW = {
  OK: 0x9000,
  /** Signature or validity check failed. */
  VERIFICATION_FAILED: 0x6300,
  WRONG_LENGTH: 0x6700,
  /** Step out of order (no EF 0016, no verified certificate, no challenge). */
  CONDITIONS: 0x6985,
  /** Certificate malformed. */
  WRONG_DATA: 0x6a80,
  /** CAR names a CA the card does not hold. */
  UNKNOWN_CA: 0x6a88,
  /** The certificate carries no right to unlock the authentication key. */
  NOT_ENTITLED: 0x6982,
} as const;

/** The exact bytes whose SHA-256 the institution key signs (and the card verifies). */
export function taSignedMessage(chr: string, challenge: Uint8Array, nonce: Uint8Array): Uint8Array {
  const holder = Buffer.from(chr, 'ascii');
  if (holder.length > 16) throw new RangeError('CHR too long');
  return Uint8Array.from(
    Buffer.concat([Buffer.from(TA.context), Buffer.from([holder.length]), holder, challenge, nonce]),
  );
}

export function taDigest(chr: string, challenge: Uint8Array, nonce: Uint8Array): Uint8Array {
  return new Uint8Array(
    createHash('sha256')
      .update(taSignedMessage(chr, challenge, nonce))
      .digest(),
  );
}

/**
 * The one thing a terminal authenticator needs from the card layer: send a command, get data and
 * status word. `JpkiClient` satisfies it (its transmit() goes through the guarded channel).
 */
export interface CardCommandLink {
  transmit(command: Uint8Array): Promise<{ data: Uint8Array; sw: number }>;
}

export interface TerminalAuthResult {
  method: string;
  institutionCode: string;
  /** APDUs this step added to the tap. */
  commands: number;
  ms: number;
}

/**
 * Precondition: the JPKI applet is selected on `card`. On success the card's authentication key
 * signs without the PIN until the applet is re-selected or the card reset. Failure: a KioskError
 * (TERMINAL_AUTH_FAILED, or the transport's own CARD_* / HSM_* code).
 */
export interface TerminalAuthenticator {
  readonly method: string;
  authenticate(card: CardCommandLink): Promise<TerminalAuthResult>;
}

/** The HSM operation the authenticator needs: a SHA-256 digest signed with ECDSA P-256, r||s. */
export interface DigestSigner {
  signDigest(keyLabel: string, digest: Uint8Array): Promise<Uint8Array>;
}

export interface InstitutionAuthenticatorOptions {
  signer: DigestSigner;
  keyLabel: string;
  /** The institution's CVC as issued (7F21 …). */
  certificate: Uint8Array;
  /** 特定機関コード: the CHR the card will bind the signature to. */
  institutionCode: string;
  nonce?: () => Uint8Array;
}

function describeSw(sw: number): string {
  switch (sw) {
    case TA_SW.VERIFICATION_FAILED:
      return 'verification failed';
    case TA_SW.UNKNOWN_CA:
      return 'certificate from a CA the card does not trust';
    case TA_SW.WRONG_DATA:
      return 'certificate malformed';
    case TA_SW.NOT_ENTITLED:
      return 'certificate carries no unlock right';
    case TA_SW.CONDITIONS:
      return 'step out of order';
    case 0x6d00:
    case 0x6e00:
      return 'the card does not support this protocol (real cards need J-LIS’s; use PIN mode)';
    default:
      return `status ${sw.toString(16).padStart(4, '0')}`;
  }
}

/** This project's institution-CVC protocol (method `institution-cvc/1`). */
export class InstitutionTerminalAuthenticator implements TerminalAuthenticator {
  readonly method = 'institution-cvc/1';

  constructor(private readonly options: InstitutionAuthenticatorOptions) {
    if (options.certificate.length < 8 || options.certificate.length > 255)
      throw new KioskError('HSM_CERT_INVALID', 'the institution certificate must fit one short APDU');
  }

  async authenticate(card: CardCommandLink): Promise<TerminalAuthResult> {
    const start = performance.now();
    let commands = 0;
    const step = async (name: string, apdu: Uint8Array): Promise<Uint8Array> => {
      commands++;
      const { data, sw } = await card.transmit(apdu);
      if (sw !== TA_SW.OK)
        throw new KioskError('TERMINAL_AUTH_FAILED', `terminal authentication: ${name}: ${describeSw(sw)}`, {
          step: name,
          sw,
        });
      return data;
    };
    const ef = EF.terminalAuthKeyRef;
    await step(
      'select EF 0016',
      encodeCommand({ cla: 0, ins: 0xa4, p1: 2, p2: 0x0c, data: Uint8Array.of(ef >> 8, ef & 0xff) }),
    );
    await step(
      'verify certificate',
      encodeCommand({
        cla: TA.claProprietary,
        ins: TA.insVerifyCertificate,
        p1: 0,
        p2: 0,
        data: this.options.certificate,
      }),
    );
    const challenge = await step(
      'get challenge',
      encodeCommand({ cla: 0, ins: TA.insGetChallenge, p1: 0, p2: 0, le: TA.challengeLength }),
    );
    if (challenge.length !== TA.challengeLength)
      throw new KioskError(
        'TERMINAL_AUTH_FAILED',
        'terminal authentication: the card challenge has the wrong length',
        {
          step: 'get challenge',
        },
      );
    const nonce = this.options.nonce?.() ?? new Uint8Array(randomBytes(TA.nonceLength));
    if (nonce.length !== TA.nonceLength) throw new KioskError('INTERNAL', 'terminal nonce must be 16 bytes');
    const signature = await this.options.signer.signDigest(
      this.options.keyLabel,
      taDigest(this.options.institutionCode, challenge, nonce),
    );
    if (signature.length !== TA.signatureLength)
      throw new KioskError('HSM_FAILED', 'the institution key must be ECDSA P-256 (64-byte r||s signature)');
    await step(
      'external authenticate',
      encodeCommand({
        cla: 0,
        ins: TA.insExternalAuthenticate,
        p1: 0,
        p2: 0,
        data: Uint8Array.from([...nonce, ...signature]),
      }),
    );
    return {
      method: this.method,
      institutionCode: this.options.institutionCode,
      commands,
      ms: performance.now() - start,
    };
  }
}
