// Shared by the protocol tests: a small virtual card with the terminal-authentication extension, and
// APDU helpers. The card's authentication certificate is a real self-signed X.509 certificate so that a
// signature check against it is meaningful (clone test).
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { encodeCommand, responseData, statusWord } from '../../main/core/card/apdu.js';
import { JPKI_AID, SHA256_DIGEST_INFO_PREFIX } from '../../main/core/card/jpki.js';
import { taBinding, type CardCommandLink, type TaBinding } from '../../main/core/card/terminal-auth.js';
import { Hsm, initToken } from '../../hsm/client.js';
import { SOFTHSM_MODULE, type TempSoftHsm } from '../support/softhsm.js';
import { SimulatedCard } from '../../sim/card/simulated-card.js';
import { enableTerminalAuth, type TerminalAuthCardOptions } from '../../sim/card/terminal-auth.js';

export function testCard(
  ta: TerminalAuthCardOptions | null,
  authKey: KeyObject = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
): SimulatedCard {
  const cert = new Uint8Array(600);
  cert.set([0x30, 0x82, 0x02, 0x54]);
  const card = new SimulatedCard({
    name: 'ta-test',
    atr: Buffer.from('3b888001000005e0b381a1007f', 'hex'),
    tokenLabel: 'JPKIAPICCTOKEN2',
    authCert: cert,
    authCaCert: cert,
    signCaCert: null,
    authKey,
    pins: { auth: { value: '1234', triesLeft: 3, maxTries: 3 }, sign: null },
    timing: { preset: 'instant' },
  });
  if (ta) enableTerminalAuth(card.applet, ta);
  return card;
}

/** What the terminal binds an unlock to when it will ask `card` to sign SHA-256(`message`). */
export function bindingFor(card: SimulatedCard, message: Uint8Array | string): TaBinding {
  return taBinding(card.applet.profile.authCert, createHash('sha256').update(message).digest());
}

/** In-process channel straight into the applet (no timing, no pcscd). */
export function appletChannel(card: SimulatedCard): CardCommandLink & { sent: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  return {
    sent,
    transmit: async (apdu) => {
      sent.push(Uint8Array.from(apdu));
      const r = card.applet.transmit(apdu);
      return { data: responseData(r), sw: statusWord(r) };
    },
  };
}

export const APDU = {
  selectJpki: encodeCommand({ cla: 0, ins: 0xa4, p1: 4, p2: 0x0c, data: JPKI_AID }),
  selectAuthKey: encodeCommand({ cla: 0, ins: 0xa4, p1: 2, p2: 0x0c, data: Uint8Array.of(0, 0x17) }),
  sign(digest: Uint8Array): Uint8Array {
    return encodeCommand({
      cla: 0x80,
      ins: 0x2a,
      p1: 0,
      p2: 0x80,
      data: Uint8Array.from([...SHA256_DIGEST_INFO_PREFIX, ...digest]),
      le: 256,
    });
  },
};

export async function send(
  channel: CardCommandLink,
  apdu: Uint8Array,
): Promise<{ sw: number; data: Uint8Array }> {
  return channel.transmit(apdu);
}

/** After authentication: SELECT EF 0017 and sign a digest; answers the status word and signature. */
export async function signWithAuthKey(
  channel: CardCommandLink,
  message: Uint8Array,
): Promise<{ sw: number; data: Uint8Array }> {
  await send(channel, APDU.selectAuthKey);
  return send(channel, APDU.sign(new Uint8Array(createHash('sha256').update(message).digest())));
}

/** A SoftHSM2 token in a temp folder with an institution key (and a second, foreign key). */
export async function institutionHsm(
  soft: TempSoftHsm,
): Promise<{ hsm: Hsm; point: Uint8Array; otherPoint: Uint8Array }> {
  const pin = '4711471147';
  await initToken(SOFTHSM_MODULE, soft.conf, 'ta-token', '1234567890', pin);
  const hsm = new Hsm({
    module: SOFTHSM_MODULE,
    softhsmConf: soft.conf,
    tokenLabel: 'ta-token',
    tokenSerial: null,
    pin: () => pin,
  });
  await hsm.start();
  const a = await hsm.generateKey('institution-key', 'ec-p256');
  const b = await hsm.generateKey('other-institution-key', 'ec-p256');
  return { hsm, point: a.publicPoint!, otherPoint: b.publicPoint! };
}
