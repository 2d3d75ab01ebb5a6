// The JPKI client against the virtual card in process (no pcscd): every operation, every status word.
import { SHA256_DIGEST_INFO_PREFIX } from '../../main/core/card/jpki.js';
import 'reflect-metadata';
import { createHash, createPublicKey, verify } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { beforeAll, describe, expect, it } from 'vitest';
import { isKioskError, type ErrorCode } from '../../base/errors.js';
import { InProcessTransport } from '../../main/core/card/in-process-transport.js';
import { FORBIDDEN_AID, CARD_FACE_AID, EF } from '../../main/core/card/jpki.js';
import { JpkiClient } from '../../main/core/card/jpki-client.js';
import { createLoggerTo } from '../../base/log.js';
import { SimulatedCard, type SimulatedCardOptions } from '../../sim/card/simulated-card.js';
import type { CardProfile } from '../../sim/card/profile.js';
import { demoCards, demoProfile } from '../support/demo-cards.js';

let valid: CardProfile;
beforeAll(async () => {
  await demoCards();
  valid = await demoProfile('valid');
}, 60_000);

async function fresh(name = 'valid', options: SimulatedCardOptions = {}, extendedLength = true) {
  const profile = await demoProfile(name);
  const card = new SimulatedCard(profile, options);
  const client = new JpkiClient(new InProcessTransport(card, { extendedLength }), { timeoutMs: 200 });
  return { card, client, profile };
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isKioskError(error), `expected KioskError ${code}, got ${String(error)}`).toBe(true);
  expect((error as { code: string }).code).toBe(code);
  return error as { code: string; detail?: Record<string, unknown> };
}

function publicKeyOf(certDer: Uint8Array) {
  const cert = new x509.X509Certificate(new Uint8Array(certDer));
  return createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' });
}

describe('JpkiClient over the in-process virtual card', () => {
  it('reads token info and both certificates; the certificate in 4 commands with extended length', async () => {
    const { client, profile } = await fresh();
    expect(await client.readTokenInfo()).toEqual({ label: 'JPKIAPICCTOKEN2', cardType: 'my-number-card' });
    const before = client.exchanges;
    const cert = await client.readAuthCertificate();
    expect(Buffer.from(cert).equals(Buffer.from(profile.authCert))).toBe(true);
    expect(client.exchanges - before).toBe(3); // select EF, header, one extended read (applet already selected)
    const ca = await client.readAuthCaCertificate();
    expect(Buffer.from(ca).equals(Buffer.from(profile.authCaCert))).toBe(true);
  });

  it('falls back to 256-byte chunks without extended length, and works with T=0 style 61xx/6Cxx', async () => {
    const { client, profile } = await fresh('valid', {}, false);
    const cert = await client.readAuthCertificate();
    expect(Buffer.from(cert).equals(Buffer.from(profile.authCert))).toBe(true);
    expect(client.exchanges).toBe(3 + Math.ceil((profile.authCert.length - 4) / 256));

    const t0 = await fresh('valid', { t0Style: true }, false);
    const cert0 = await t0.client.readAuthCertificate();
    expect(Buffer.from(cert0).equals(Buffer.from(t0.profile.authCert))).toBe(true);
    await t0.client.verifyAuthPin('1234');
    const hash = createHash('sha256').update('t0').digest();
    const sig = await t0.client.signSha256(hash);
    expect(verify('sha256', Buffer.from('t0'), publicKeyOf(cert0), sig)).toBe(true);
  });

  it('tells phone tokens and the old 住基カード apart from the plastic card', async () => {
    for (const [label, type] of [
      ['JPKIAPGPSETOKEN', 'smartphone'],
      ['JPKIAPICCTOKEN', 'juki-card'],
      ['SOMETHINGELSE', 'unknown'],
    ] as const) {
      const card = new SimulatedCard({ ...valid, tokenLabel: label, pins: { ...valid.pins } });
      const client = new JpkiClient(new InProcessTransport(card));
      expect(await client.readTokenInfo()).toEqual({ label, cardType: type });
    }
  });

  it('reports PIN tries without consuming one, counts wrong PINs down and blocks at zero', async () => {
    const { client } = await fresh();
    expect(await client.authPinTriesLeft()).toBe(3);
    expect(await client.authPinTriesLeft()).toBe(3);
    const e1 = await expectCode(client.verifyAuthPin('0000'), 'PIN_WRONG');
    expect(e1.detail?.triesLeft).toBe(2);
    expect(await client.authPinTriesLeft()).toBe(2);
    await client.verifyAuthPin('1234'); // right PIN resets the counter
    await client.selectApplet(); // and re-selecting drops the verified state
    expect(await client.authPinTriesLeft()).toBe(3);
    expect((await expectCode(client.verifyAuthPin('1111'), 'PIN_WRONG')).detail?.triesLeft).toBe(2);
    expect((await expectCode(client.verifyAuthPin('2222'), 'PIN_WRONG')).detail?.triesLeft).toBe(1);
    await expectCode(client.verifyAuthPin('3333'), 'PIN_BLOCKED');
    await expectCode(client.verifyAuthPin('1234'), 'PIN_BLOCKED');
    expect(await client.authPinTriesLeft()).toBe(0);
    await expectCode(client.verifyAuthPin('12a4'), 'PIN_FORMAT');
    await expectCode(client.verifyAuthPin('12345'), 'PIN_FORMAT');
  });

  it('signs a SHA-256 DigestInfo that verifies with the certificate key, only after the PIN', async () => {
    const { client } = await fresh();
    const cert = await client.readAuthCertificate();
    const message = Buffer.from('challenge from the terminal');
    const hash = createHash('sha256').update(message).digest();
    await expectCode(client.signSha256(hash), 'CARD_SECURITY_STATUS');
    await client.verifyAuthPin('1234');
    const signature = await client.signSha256(hash);
    expect(signature.length).toBe(256);
    expect(verify('sha256', message, publicKeyOf(cert), signature)).toBe(true);
    await client.selectApplet();
    await expectCode(client.signSha256(hash), 'CARD_SECURITY_STATUS');
  });

  it('the clone card signs with a key that does not match its certificate', async () => {
    const { client } = await fresh('clone');
    const cert = await client.readAuthCertificate();
    await client.verifyAuthPin('1234');
    const message = Buffer.from('x');
    const signature = await client.signSha256(createHash('sha256').update(message).digest());
    expect(verify('sha256', message, publicKeyOf(cert), signature)).toBe(false);
  });

  it('lets a terminal-authentication extension unlock the key for one selection only', async () => {
    const { card, client } = await fresh();
    const hash = createHash('sha256').update('m').digest();
    card.applet.registerExtension({
      name: 'test-unlock',
      handle(command, ctx) {
        if (command.cla !== 0x80 || command.ins !== 0xa2) return null;
        ctx.security.terminalUnlock = Uint8Array.from([...SHA256_DIGEST_INFO_PREFIX, ...hash]);
        return ctx.reply([], 0x9000);
      },
    });
    await client.selectApplet();
    expect(
      (await client.transmit({ cla: 0x80, ins: 0xa2, p1: 0, p2: 0x80, data: Uint8Array.of(1) })).sw,
    ).toBe(0x9000);
    expect((await client.signSha256(hash)).length).toBe(256);
    await client.selectApplet();
    await expectCode(client.signSha256(hash), 'CARD_SECURITY_STATUS');
    // unknown proprietary commands still answer 6D00
    expect((await client.transmit({ cla: 0x80, ins: 0xee, p1: 0, p2: 0 })).sw).toBe(0x6d00);
  });

  it('refuses the 券面事項入力補助AP and any other SELECT before anything reaches the card', async () => {
    const { card, client } = await fresh();
    await client.selectApplet();
    const seen = card.applet.audit.commands;
    const attempts: Array<Uint8Array | Parameters<JpkiClient['transmit']>[0]> = [
      { cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x0c, data: FORBIDDEN_AID },
      { cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x00, data: FORBIDDEN_AID, le: 256 },
      { cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x0c, data: FORBIDDEN_AID.subarray(0, 5) }, // partial AID
      { cla: 0x00, ins: 0xa4, p1: 0x04, p2: 0x0c, data: CARD_FACE_AID },
      { cla: 0x00, ins: 0xa4, p1: 0x00, p2: 0x0c, data: Uint8Array.of(0x3f, 0x00) }, // MF
      { cla: 0x00, ins: 0xa4, p1: 0x08, p2: 0x0c, data: Uint8Array.of(0x00, 0x11) }, // path
      { cla: 0x80, ins: 0xa2, p1: 0, p2: 0, data: FORBIDDEN_AID }, // the AID smuggled in another command
      Uint8Array.from([0x00, 0xa4, 0x04, 0x0c, 0x0a, ...FORBIDDEN_AID]),
      Uint8Array.from([0x00, 0xa4, 0x04]), // malformed SELECT
    ];
    for (const attempt of attempts) await expectCode(client.transmit(attempt), 'CARD_FORBIDDEN_AID');
    expect(card.applet.audit.commands).toBe(seen);
    expect(card.applet.audit.forbiddenSelects).toBe(0);
  });

  it('maps status words and transport faults to typed errors', async () => {
    // file not found
    const a = await fresh();
    await expectCode(a.client.selectEf(0x1234), 'CARD_FILE_NOT_FOUND');
    // a card without the applet
    const b = await fresh('valid', { faults: { wrongStatus: { atCommand: 1, sw: 0x6a82 } } });
    await expectCode(b.client.selectApplet(), 'CARD_NOT_JPKI');
    // random status in the middle of a read
    const c = await fresh('valid', { faults: { wrongStatus: { atCommand: 3, sw: 0x6f00 } } });
    await expectCode(c.client.readAuthCertificate(), 'CARD_STATUS');
    // stalled answer → timeout
    const d = await fresh('valid', { faults: { stallAtCommand: 2 } });
    const started = Date.now();
    await expectCode(d.client.readAuthCertificate(), 'CARD_TIMEOUT');
    // No hang: the client's 200 ms timeout ended it, not the 3 s default (room for a loaded CI machine).
    expect(Date.now() - started).toBeLessThan(2500);
    // removed mid-read
    const e = await fresh('valid', { faults: { removeAtCommand: 4 } }, false);
    await expectCode(e.client.readAuthCertificate(), 'CARD_REMOVED');
    // endless 61xx chain
    const f = await fresh('valid', { faults: { endlessGetResponseAt: 2 } });
    await expectCode(f.client.readAuthCertificate(), 'CARD_PROTOCOL');
    // corrupted certificate length byte
    const g = await fresh('valid', { faults: { corruptCertificate: { offset: 1, xor: 0x03 } } });
    await expectCode(g.client.readAuthCertificate(), 'CARD_MALFORMED');
    // corrupted certificate body: read succeeds, bytes differ (the verifier rejects it later)
    const h = await fresh('valid', { faults: { corruptCertificate: { offset: 500 } } });
    const cert = await h.client.readAuthCertificate();
    expect(Buffer.from(cert).equals(Buffer.from(h.profile.authCert))).toBe(false);
  });

  it('traces APDUs when asked, without payloads: no PIN, no certificate bytes', async () => {
    const lines: string[] = [];
    const logger = createLoggerTo(
      new (await import('node:stream')).Writable({
        write(chunk: Buffer, _enc, done) {
          lines.push(chunk.toString());
          done();
        },
      }),
      'debug',
    );
    const profile = await demoProfile('valid');
    const client = new JpkiClient(new InProcessTransport(new SimulatedCard(profile)), {
      trace: true,
      logger,
    });
    await client.readAuthCertificate();
    await client.verifyAuthPin('1234');
    const text = lines.join('');
    expect(lines.length).toBe(client.exchanges);
    expect(text).toContain('"hdr":"00a4040c"');
    expect(text).not.toContain('31323334'); // the PIN, hex
    expect(text).not.toContain('1234');
    expect(text).not.toContain(Buffer.from(profile.authCert.subarray(4, 20)).toString('hex'));
  });

  it('reads EF 0017 never and the signing certificate not without the signing password', async () => {
    const { client } = await fresh();
    await client.selectEf(EF.authKey);
    const r = await client.transmit({ cla: 0x00, ins: 0xb0, p1: 0, p2: 0, le: 4 });
    expect(r.sw).toBe(0x6981);
    await client.selectEf(EF.signCert);
    expect((await client.transmit({ cla: 0x00, ins: 0xb0, p1: 0, p2: 0, le: 4 })).sw).toBe(0x6982);
  });
});
