// PIN-less terminal authentication, terminal side. The protocol is this project's own design in the
// style of the public hints (docs/pinless-protocol.md): J-LIS's real exchange is not public. It sits
// behind `TerminalAuthenticator` so that a licensed J-LIS implementation can replace it without
// touching the card client.
//
//   SELECT EF 0016                 00 A4 02 0C 02 00 16
//   VERIFY CERTIFICATE             80 A2 00 00 Lc <7F21 institution CVC>
//   GET CHALLENGE                  00 84 00 00 08                      → 8-byte card challenge
//   EXTERNAL AUTHENTICATE          00 82 00 00 70 <nonce 16> <digest 32> <r||s 64>
//
// The signature is made in the HSM over SHA-256(TA_CONTEXT || len(CHR) || CHR || challenge || nonce ||
// SHA-256(card's authentication certificate) || digest). Afterwards the card's user-authentication key
// signs that one digest, once, without the PIN: a relay that obtains an unlock from this terminal can
// neither move it to another card nor use it for a digest of its own.
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { KioskError } from '../../../base/errors.js';
import { encodeCommand } from './apdu.js';
import { EF } from './jpki.js';

export const TA = {
  /** Domain separation for the signed message (ASCII "JPKI-KIOSK-TA/2"). */
  context: Uint8Array.from(Buffer.from('JPKI-KIOSK-TA/2', 'ascii')),
  challengeLength: 8,
  nonceLength: 16,
  /** SHA-256 of the card's authentication certificate, and the digest the card may sign. */
  hashLength: 32,
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

/**
 * What one unlock is for: this card (SHA-256 of the authentication certificate the terminal read) and
 * the one SHA-256 digest the terminal will then ask it to sign (sent as a SHA-256 DigestInfo).
 */
export interface TaBinding {
  certificateSha256: Uint8Array;
  digest: Uint8Array;
}

/** The binding for a certificate as read from the card and the digest the terminal will have signed. */
export function taBinding(certificateDer: Uint8Array, digest: Uint8Array): TaBinding {
  return {
    certificateSha256: new Uint8Array(createHash('sha256').update(certificateDer).digest()),
    digest: Uint8Array.from(digest),
  };
}

/** The exact bytes whose SHA-256 the institution key signs (and the card verifies). */
export function taSignedMessage(
  chr: string,
  challenge: Uint8Array,
  nonce: Uint8Array,
  binding: TaBinding,
): Uint8Array {
  const holder = Buffer.from(chr, 'ascii');
  if (holder.length > 16) throw new RangeError('CHR too long');
  if (binding.certificateSha256.length !== TA.hashLength || binding.digest.length !== TA.hashLength)
    throw new RangeError('certificate hash and digest are 32 bytes each');
  return Uint8Array.from(
    Buffer.concat([
      Buffer.from(TA.context),
      Buffer.from([holder.length]),
      holder,
      challenge,
      nonce,
      binding.certificateSha256,
      binding.digest,
    ]),
  );
}

export function taDigest(
  chr: string,
  challenge: Uint8Array,
  nonce: Uint8Array,
  binding: TaBinding,
): Uint8Array {
  return new Uint8Array(
    createHash('sha256')
      .update(taSignedMessage(chr, challenge, nonce, binding))
      .digest(),
  );
}

/**
 * Unlocks per terminal: a token bucket (`burst` at once, refilled at `perMinute`). A relay that
 * turns a kiosk into an unlock oracle gets no more than a queue of people would.
 */
export class UnlockRateLimiter {
  private tokens: number;
  private last: number;

  constructor(
    private readonly limits: { perMinute: number; burst: number },
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = limits.burst;
    this.last = now();
  }

  /** Takes one unlock; false when the budget is spent (nothing is taken then). */
  take(): boolean {
    const now = this.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.limits.burst, this.tokens + (elapsed * this.limits.perMinute) / 60_000);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
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
 * Precondition: the JPKI applet is selected on `card` and its authentication certificate has been
 * read (its hash is in `binding`). On success the card's authentication key signs `binding.digest`
 * once without the PIN (until then, a re-select or reset drops the unlock). Failure: a KioskError
 * (TERMINAL_AUTH_FAILED, TERMINAL_AUTH_RATE_LIMITED, or the transport's own CARD_* / HSM_* code).
 */
export interface TerminalAuthenticator {
  readonly method: string;
  authenticate(card: CardCommandLink, binding: TaBinding): Promise<TerminalAuthResult>;
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
  /** Unlocks this terminal may obtain; absent: unlimited (tests of the protocol itself). */
  rateLimit?: { perMinute: number; burst: number };
  /** Monotonic milliseconds for the rate limit. */
  now?: () => number;
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

/** This project's institution-CVC protocol (method `institution-cvc/2`). */
export class InstitutionTerminalAuthenticator implements TerminalAuthenticator {
  readonly method = 'institution-cvc/2';
  private readonly limiter: UnlockRateLimiter | null;

  constructor(private readonly options: InstitutionAuthenticatorOptions) {
    if (options.certificate.length < 8 || options.certificate.length > 255)
      throw new KioskError('HSM_CERT_INVALID', 'the institution certificate must fit one short APDU');
    this.limiter = options.rateLimit ? new UnlockRateLimiter(options.rateLimit, options.now) : null;
  }

  async authenticate(card: CardCommandLink, binding: TaBinding): Promise<TerminalAuthResult> {
    if (binding.certificateSha256.length !== TA.hashLength || binding.digest.length !== TA.hashLength)
      throw new KioskError('INTERNAL', 'terminal authentication binds a 32-byte certificate hash and digest');
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
    // Counted where the HSM would sign: a card that refuses the certificate costs no unlock.
    if (this.limiter && !this.limiter.take())
      throw new KioskError(
        'TERMINAL_AUTH_RATE_LIMITED',
        'terminal authentication: this terminal has used its unlocks for now',
        { step: 'rate limit', perMinute: this.options.rateLimit!.perMinute },
      );
    const signature = await this.options.signer.signDigest(
      this.options.keyLabel,
      taDigest(this.options.institutionCode, challenge, nonce, binding),
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
        data: Uint8Array.from([...nonce, ...binding.digest, ...signature]),
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
