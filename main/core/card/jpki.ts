// Public facts about the JPKI applet of the My Number Card (see docs/card.md and the brief).

/** 公的個人認証AP: the only application this product selects. */
export const JPKI_AID = Uint8Array.from([0xd3, 0x92, 0xf0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]);
/** 券面事項入力補助AP: holds the individual number. Never selected: the transport refuses it. */
export const FORBIDDEN_AID = Uint8Array.from([0xd3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x08]);
/** 券面事項確認AP (card face image): not used. */
export const CARD_FACE_AID = Uint8Array.from([0xd3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x02]);

export const EF = {
  signCert: 0x0001,
  signCaCert: 0x0002,
  tokenInfo: 0x0006,
  authCert: 0x000a,
  authCaCert: 0x000b,
  terminalAuthKeyRef: 0x0016,
  authKey: 0x0017,
  authPin: 0x0018,
  signKey: 0x001a,
  signPin: 0x001b,
} as const;

export const TOKEN_INFO_LENGTH = 160;

/** Token labels (first 32 bytes of EF 0006, space padded) and what they mean. */
export const TOKEN_LABELS = {
  JPKIAPICCTOKEN2: 'my-number-card',
  JPKIAPGPSETOKEN: 'smartphone',
  JPKIAPICCTOKEN: 'juki-card',
} as const;
export type CardType = (typeof TOKEN_LABELS)[keyof typeof TOKEN_LABELS] | 'unknown';

/** DER prefix of a SHA-256 DigestInfo; the card pads `prefix || hash` with PKCS#1 v1.5 type 1. */
export const SHA256_DIGEST_INFO_PREFIX = Uint8Array.from([
  0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04,
  0x20,
]);

export const AUTH_PIN_MAX_TRIES = 3;
/** Largest input the card pads for an RSA-2048 signature (256 - 11). */
export const MAX_SIGN_INPUT = 245;
