// The PIN-less protocol end to end in process: the terminal authenticator signing in a real SoftHSM2
// token, the virtual card's extension verifying. The same properties are proved through pcscd + vpcd in
// pinless-pcscd.test.ts; this file adds the negative cases that need no reader, and a fuzz of the
// certificate parser on the card.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeCommand, parseCommand } from '../../main/core/card/apdu.js';
import {
  InstitutionTerminalAuthenticator,
  TA_SW,
  taSignedMessage,
} from '../../main/core/card/terminal-auth.js';
import { parseCvc, verifyP256 } from '../../hsm/cvc.js';
import type { Hsm } from '../../hsm/client.js';
import { createMockCa, issueInstitutionCvc, type MockInstitutionCa } from '../../sim/institution-ca/ca.js';
import {
  APDU,
  appletChannel,
  bindingFor,
  institutionHsm,
  send,
  signWithAuthKey,
  testCard,
} from './pinless-helpers.js';
import { tempSoftHsm } from '../support/softhsm.js';

const soft = tempSoftHsm();
let hsm: Hsm;
let point: Uint8Array;
let otherPoint: Uint8Array;
const ca: MockInstitutionCa = createMockCa();
const day = 24 * 3600 * 1000;

beforeAll(async () => {
  ({ hsm, point, otherPoint } = await institutionHsm(soft));
});
afterAll(async () => {
  await hsm.close();
  soft.cleanup();
});

function authenticator(certificate: Uint8Array, institutionCode = 'DEMO0001', keyLabel = 'institution-key') {
  return new InstitutionTerminalAuthenticator({ signer: hsm, keyLabel, certificate, institutionCode });
}

function cardWithCa(trusted = [ca]) {
  const card = testCard({ trusted });
  const channel = appletChannel(card);
  return { card, channel };
}

const goodCert = () => issueInstitutionCvc(ca, { chr: 'DEMO0001', publicPoint: point });

describe('PIN-less terminal authentication (in process, SoftHSM2)', () => {
  it('unlocks the authentication key without a PIN, in four commands, for the bound digest', async () => {
    const { card, channel } = cardWithCa();
    await send(channel, APDU.selectJpki);
    expect((await signWithAuthKey(channel, Buffer.from('x'))).sw).toBe(0x6982);
    await send(channel, APDU.selectJpki);
    const result = await authenticator(goodCert()).authenticate(channel, bindingFor(card, 'tap'));
    expect(result).toMatchObject({ method: 'institution-cvc/2', institutionCode: 'DEMO0001', commands: 4 });
    const signed = await signWithAuthKey(channel, Buffer.from('tap'));
    expect(signed.sw).toBe(0x9000);
    expect(signed.data.length).toBe(256);
  });

  it('a relayed unlock used for a second digest fails (one signature, of the bound digest only)', async () => {
    const { card, channel } = cardWithCa();
    await send(channel, APDU.selectJpki);
    await authenticator(goodCert()).authenticate(channel, bindingFor(card, 'kiosk nonce'));
    expect((await signWithAuthKey(channel, Buffer.from('kiosk nonce'))).sw).toBe(0x9000);
    // the relay's own digest (e.g. an online login challenge) after the kiosk's signature
    expect((await signWithAuthKey(channel, Buffer.from('attacker login challenge'))).sw).toBe(0x6982);
    // the same digest twice is refused as well: the unlock is spent
    expect((await signWithAuthKey(channel, Buffer.from('kiosk nonce'))).sw).toBe(0x6982);

    // the relay asks first, with another digest: refused, and the unlock is gone for the kiosk's too
    await send(channel, APDU.selectJpki);
    await authenticator(goodCert()).authenticate(channel, bindingFor(card, 'kiosk nonce 2'));
    expect((await signWithAuthKey(channel, Buffer.from('attacker login challenge'))).sw).toBe(0x6982);
    expect((await signWithAuthKey(channel, Buffer.from('kiosk nonce 2'))).sw).toBe(0x6982);
  });

  it("an unlock made for another card's certificate does not unlock this card", async () => {
    const { channel } = cardWithCa();
    const other = testCard({ trusted: [ca] });
    other.applet.profile.authCert[10] = 0x42; // another card: another certificate
    await send(channel, APDU.selectJpki);
    await expect(
      authenticator(goodCert()).authenticate(channel, bindingFor(other, 'tap')),
    ).rejects.toMatchObject({
      code: 'TERMINAL_AUTH_FAILED',
      detail: { step: 'external authenticate', sw: TA_SW.VERIFICATION_FAILED },
    });
    expect((await signWithAuthKey(channel, Buffer.from('tap'))).sw).toBe(0x6982);
  });

  it('limits unlocks per terminal (TERMINAL_AUTH_RATE_LIMITED, no HSM signature, no unlock)', async () => {
    let now = 0;
    const limited = new InstitutionTerminalAuthenticator({
      signer: hsm,
      keyLabel: 'institution-key',
      certificate: goodCert(),
      institutionCode: 'DEMO0001',
      rateLimit: { perMinute: 6, burst: 2 },
      now: () => now,
    });
    const { card, channel } = cardWithCa();
    for (let i = 0; i < 2; i++) {
      await send(channel, APDU.selectJpki);
      await limited.authenticate(channel, bindingFor(card, `tap ${i}`));
    }
    await send(channel, APDU.selectJpki);
    const sent = channel.sent.length;
    await expect(limited.authenticate(channel, bindingFor(card, 'tap 2'))).rejects.toMatchObject({
      code: 'TERMINAL_AUTH_RATE_LIMITED',
    });
    // refused before EXTERNAL AUTHENTICATE: the card never saw a signature
    expect(channel.sent.slice(sent).some((a) => a[1] === 0x82)).toBe(false);
    expect((await signWithAuthKey(channel, Buffer.from('tap 2'))).sw).toBe(0x6982);
    now += 10_000; // one more unlock every 10 s at 6 per minute
    await send(channel, APDU.selectJpki);
    await limited.authenticate(channel, bindingFor(card, 'tap 3'));
    expect((await signWithAuthKey(channel, Buffer.from('tap 3'))).sw).toBe(0x9000);
  });

  it('refuses a replayed EXTERNAL AUTHENTICATE', async () => {
    const { card, channel } = cardWithCa();
    await send(channel, APDU.selectJpki);
    await authenticator(goodCert()).authenticate(channel, bindingFor(card, 'x'));
    const recorded = channel.sent.at(-1)!;
    expect(recorded[1]).toBe(0x82);
    // new selection: the unlock is gone; replay the recorded answer after a fresh certificate + challenge
    await send(channel, APDU.selectJpki);
    await send(channel, encodeCommand({ cla: 0, ins: 0xa4, p1: 2, p2: 0x0c, data: Uint8Array.of(0, 0x16) }));
    expect(
      (
        await send(
          channel,
          channel.sent.find((a) => a[1] === 0xa2)!,
        )
      ).sw,
    ).toBe(0x9000);
    expect((await send(channel, encodeCommand({ cla: 0, ins: 0x84, p1: 0, p2: 0, le: 8 }))).sw).toBe(0x9000);
    expect((await send(channel, recorded)).sw).toBe(TA_SW.VERIFICATION_FAILED);
    expect((await signWithAuthKey(channel, Buffer.from('x'))).sw).toBe(0x6982);
    // and the same answer twice against one challenge: the challenge is single-use
    expect((await send(channel, recorded)).sw).toBe(TA_SW.CONDITIONS);
  });

  it('refuses an expired, a not-yet-valid, a wrong-CA and a right-less certificate', async () => {
    const now = Date.now();
    const cases: [string, Uint8Array, number][] = [
      [
        'expired',
        issueInstitutionCvc(ca, {
          chr: 'DEMO0001',
          publicPoint: point,
          effective: new Date(now - 400 * day),
          expiry: new Date(now - 2 * day),
        }),
        TA_SW.VERIFICATION_FAILED,
      ],
      [
        'not yet valid',
        issueInstitutionCvc(ca, { chr: 'DEMO0001', publicPoint: point, effective: new Date(now + 3 * day) }),
        TA_SW.VERIFICATION_FAILED,
      ],
      [
        'unknown CA',
        issueInstitutionCvc(createMockCa('JPTEST-ICA-99'), { chr: 'DEMO0001', publicPoint: point }),
        TA_SW.UNKNOWN_CA,
      ],
      // same CA reference, different key: the signature does not verify
      [
        'impostor CA',
        issueInstitutionCvc(createMockCa(ca.car), { chr: 'DEMO0001', publicPoint: point }),
        TA_SW.VERIFICATION_FAILED,
      ],
      [
        'no unlock right',
        issueInstitutionCvc(ca, { chr: 'DEMO0001', publicPoint: point, rights: 0 }),
        TA_SW.NOT_ENTITLED,
      ],
    ];
    for (const [name, cert, sw] of cases) {
      const { card, channel } = cardWithCa();
      await send(channel, APDU.selectJpki);
      const error = await authenticator(cert)
        .authenticate(channel, bindingFor(card, 'x'))
        .catch((e: unknown) => e);
      expect(error, name).toMatchObject({
        code: 'TERMINAL_AUTH_FAILED',
        detail: { step: 'verify certificate', sw },
      });
      expect((await signWithAuthKey(channel, Buffer.from('x'))).sw, name).toBe(0x6982);
    }
  });

  it('refuses when the signature does not match the certificate holder', async () => {
    // (a) the terminal binds another institution code than the certificate's CHR
    // (b) the certificate names DEMO0001 but the terminal signs with another institution's key
    const attempts = [
      authenticator(goodCert(), 'DEMO0002'),
      authenticator(goodCert(), 'DEMO0001', 'other-institution-key'),
      authenticator(
        issueInstitutionCvc(ca, { chr: 'DEMO0002', publicPoint: otherPoint }),
        'DEMO0001',
        'other-institution-key',
      ),
    ];
    for (const auth of attempts) {
      const { card, channel } = cardWithCa();
      await send(channel, APDU.selectJpki);
      await expect(auth.authenticate(channel, bindingFor(card, 'x'))).rejects.toMatchObject({
        code: 'TERMINAL_AUTH_FAILED',
        detail: { step: 'external authenticate', sw: TA_SW.VERIFICATION_FAILED },
      });
      expect((await signWithAuthKey(channel, Buffer.from('x'))).sw).toBe(0x6982);
    }
  });

  it('forgets the unlock on re-select and on reset', async () => {
    const { card, channel } = cardWithCa();
    await send(channel, APDU.selectJpki);
    await authenticator(goodCert()).authenticate(channel, bindingFor(card, '2'));
    await send(channel, APDU.selectJpki);
    expect((await signWithAuthKey(channel, Buffer.from('2'))).sw).toBe(0x6982);

    await authenticator(goodCert()).authenticate(channel, bindingFor(card, '4'));
    card.applet.reset();
    await send(channel, APDU.selectJpki);
    expect((await signWithAuthKey(channel, Buffer.from('4'))).sw).toBe(0x6982);
  });

  it('enforces the order of the steps', async () => {
    const { channel } = cardWithCa();
    await send(channel, APDU.selectJpki);
    // certificate without EF 0016 selected
    expect(
      (await send(channel, encodeCommand({ cla: 0x80, ins: 0xa2, p1: 0, p2: 0, data: goodCert() }))).sw,
    ).toBe(TA_SW.CONDITIONS);
    // challenge before a verified certificate
    expect((await send(channel, encodeCommand({ cla: 0, ins: 0x84, p1: 0, p2: 0, le: 8 }))).sw).toBe(
      TA_SW.CONDITIONS,
    );
    // external authenticate with no challenge
    expect(
      (await send(channel, encodeCommand({ cla: 0, ins: 0x82, p1: 0, p2: 0, data: new Uint8Array(112) }))).sw,
    ).toBe(TA_SW.CONDITIONS);
    expect((await signWithAuthKey(channel, Buffer.from('x'))).sw).toBe(0x6982);
  });

  it('a card without the protocol answers 6D00 and the terminal says to use PIN mode', async () => {
    const card = testCard(null);
    const channel = appletChannel(card);
    await send(channel, APDU.selectJpki);
    await expect(
      authenticator(goodCert()).authenticate(channel, bindingFor(card, 'x')),
    ).rejects.toMatchObject({
      code: 'TERMINAL_AUTH_FAILED',
      message: expect.stringContaining('PIN mode'),
    });
  });

  it('survives 10,000 mutated certificates: never unlocks, always a clean status word', () => {
    const card = testCard({ trusted: [ca] });
    const good = goodCert();
    expect(parseCvc(good).chr).toBe('DEMO0001');
    const selectEf = encodeCommand({ cla: 0, ins: 0xa4, p1: 2, p2: 0x0c, data: Uint8Array.of(0, 0x16) });
    const seen = new Set<number>();
    for (let i = 0; i < 10_000; i++) {
      const cert = Uint8Array.from(good);
      const flips = 1 + (i % 4);
      const rnd = randomBytes(flips * 2);
      // Distinct positions: two flips of one byte could cancel out and hand the card the genuine certificate.
      const positions = new Set<number>();
      for (let f = 0; f < flips; f++) {
        let at = rnd[2 * f]! % cert.length;
        while (positions.has(at)) at = (at + 1) % cert.length;
        positions.add(at);
        cert[at] = cert[at]! ^ (rnd[2 * f + 1]! | 1);
      }
      const mutated = i % 7 === 0 ? cert.subarray(0, rnd[0]! % cert.length) : cert;
      expect(Buffer.compare(mutated, good)).not.toBe(0);
      card.applet.transmit(APDU.selectJpki);
      card.applet.transmit(selectEf);
      const r = card.applet.transmit(
        encodeCommand({
          cla: 0x80,
          ins: 0xa2,
          p1: 0,
          p2: 0,
          data: mutated.length ? mutated : Uint8Array.of(0),
        }),
      );
      const sw = (r[r.length - 2]! << 8) | r[r.length - 1]!;
      seen.add(sw);
      expect(r.length).toBe(2);
      expect([TA_SW.WRONG_DATA, TA_SW.VERIFICATION_FAILED, TA_SW.UNKNOWN_CA, TA_SW.NOT_ENTITLED]).toContain(
        sw,
      );
    }
    expect(seen.has(TA_SW.WRONG_DATA)).toBe(true);
    expect(seen.has(TA_SW.VERIFICATION_FAILED)).toBe(true);
  });

  it('a hostile card answering anything gets typed failures only, and every HSM signature is bound', async () => {
    const auth = authenticator(goodCert());
    const binding = bindingFor(testCard(null), 'hostile');
    const outcomes = new Map<string, number>();
    let signaturesChecked = 0;
    for (let i = 0; i < 2000; i++) {
      const rnd = randomBytes(8);
      let step = 0;
      let challenge = new Uint8Array(0);
      const link = {
        transmit: async (apdu: Uint8Array) => {
          step++;
          if (step === 4) {
            // what the terminal sends must be a signature over context || CHR || challenge || nonce ||
            // certificate hash || digest, and carry the digest it bound
            const data = parseCommand(apdu).data;
            expect(Buffer.from(data.subarray(16, 48))).toEqual(Buffer.from(binding.digest));
            const message = taSignedMessage('DEMO0001', challenge, data.subarray(0, 16), binding);
            expect(verifyP256(point, message, data.subarray(48))).toBe(true);
            signaturesChecked++;
          }
          // mostly 9000 so that later steps are reached; sometimes any status word or length
          const sw = rnd[step]! < 200 ? 0x9000 : (rnd[step]! << 8) | rnd[(step + 4) % 8]!;
          const len = step === 3 && rnd[0]! < 160 ? 8 : rnd[step + 1]! % 300;
          const answer = new Uint8Array(randomBytes(len));
          if (step === 3) challenge = answer;
          return { data: answer, sw };
        },
      };
      const result = await auth.authenticate(link, binding).then(
        () => 'ok',
        (e: unknown) => (e as { code?: string }).code ?? 'untyped',
      );
      outcomes.set(result, (outcomes.get(result) ?? 0) + 1);
    }
    expect([...outcomes.keys()].sort()).toEqual(['TERMINAL_AUTH_FAILED', 'ok']);
    expect(signaturesChecked).toBeGreaterThan(100);
    // 'ok' only means the card said 9000 four times; the terminal then checks the card's possession proof
  });
});
