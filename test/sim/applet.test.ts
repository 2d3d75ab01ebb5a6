// The virtual JPKI applet, byte for byte, against the public facts (docs/card.md), and the vpcd framing.
import { constants, createPublicKey, publicDecrypt } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../../main/core/card/apdu.js';
import { X509Certificate } from 'node:crypto';
import { DEMO_SIGN_PASSWORD, VirtualJpkiCard } from '../../sim/card/applet.js';
import type { CardProfile } from '../../sim/card/profile.js';
import { SimulatedCard } from '../../sim/card/simulated-card.js';
import { exchangeMs, timingModel } from '../../sim/card/timing.js';
import { VpcdCardClient } from '../../sim/card/vpcd-client.js';
import { demoProfile } from '../support/demo-cards.js';

let profile: CardProfile;
beforeAll(async () => {
  profile = await demoProfile('valid');
}, 60_000);

function card() {
  return new VirtualJpkiCard({ ...profile, pins: { auth: { ...profile.pins.auth }, sign: null } });
}
const tx = (c: VirtualJpkiCard, hex: string) => toHex(c.transmit(fromHex(hex)));
const SELECT_JPKI = '00a4040c0ad392f000260100000001';
const sw = (hex: string) => hex.slice(-4);

describe('VirtualJpkiCard', () => {
  it('selects the JPKI applet both ways real tools do, and refuses unknown AIDs', () => {
    const c = card();
    expect(tx(c, SELECT_JPKI)).toBe('9000');
    expect(tx(c, '00a404000ad392f00026010000000100')).toBe('9000');
    expect(tx(c, '00a4040c0ad3921000310001010408')).toBe('6a82'); // the 入力補助AP is not there
    expect(tx(c, '00a4040c07a0000000031010')).toBe('6a82');
    expect(tx(c, '00a4020c02000a')).toBe('6a82'); // the failed select deselected the applet
    expect(c.audit.forbiddenSelects).toBe(1);
    expect(tx(c, SELECT_JPKI)).toBe('9000');
    expect(tx(c, '00a4020c02000a')).toBe('9000');
    expect(tx(c, '00a4020c021234')).toBe('6a82');
  });

  it('READ BINARY: DER header, 256-byte chunks, extended Le, SFI, end of file, 6B00', () => {
    const c = card();
    tx(c, SELECT_JPKI);
    tx(c, '00a4020c02000a');
    const cert = profile.authCert;
    const head = tx(c, '00b0000004');
    expect(head.slice(0, 4)).toBe('3082');
    expect(parseInt(head.slice(4, 8), 16) + 4).toBe(cert.length);
    const chunk = c.transmit(fromHex('00b0000400'));
    expect(chunk.length).toBe(258); // Le=00: exactly 256 bytes while that many remain
    expect(sw(toHex(chunk))).toBe('9000');
    const whole = c.transmit(fromHex(`00b00000000000`)); // extended Le = 65536
    expect(Buffer.from(whole.subarray(0, -2)).equals(Buffer.from(cert))).toBe(true);
    expect(sw(toHex(whole))).toBe('6282');
    const le = cert.length.toString(16).padStart(4, '0');
    expect(sw(tx(c, `00b0000000${le}`))).toBe('9000');
    const off = cert.length.toString(16).padStart(4, '0');
    expect(tx(c, `00b0${off}01`)).toBe('6b00');
    // short file identifier: P1 = 80 | SFI, offset in P2
    tx(c, '00a4020c020006');
    expect(tx(c, '00b08a0004').slice(0, 4)).toBe('3082');
    // token info
    const token = c.transmit(fromHex('00a4020c020006')) && c.transmit(fromHex('00b00000a0'));
    expect(Buffer.from(token.subarray(0, 32)).toString('latin1')).toBe('JPKIAPICCTOKEN2'.padEnd(32, ' '));
    expect(token.length).toBe(162);
    // keys and PINs are not readable
    tx(c, '00a4020c020017');
    expect(tx(c, '00b0000004')).toBe('6981');
  });

  it('PIN: tries without consuming, 63Cx, 63C0, then 6984', () => {
    const c = card();
    tx(c, SELECT_JPKI);
    tx(c, '00a4020c020018');
    expect(tx(c, '00200080')).toBe('63c3');
    expect(tx(c, '002000800430303030')).toBe('63c2');
    expect(tx(c, '00200080')).toBe('63c2');
    expect(tx(c, '002000800431323334')).toBe('9000');
    expect(tx(c, '00200080')).toBe('9000'); // verified
    tx(c, SELECT_JPKI);
    tx(c, '00a4020c020018');
    expect(tx(c, '00200080')).toBe('63c3'); // re-select dropped the verified state, counter was reset
    expect(tx(c, '002000800430303030')).toBe('63c2');
    expect(tx(c, '002000800430303030')).toBe('63c1');
    expect(tx(c, '002000800430303030')).toBe('63c0');
    expect(tx(c, '002000800431323334')).toBe('6984');
    expect(tx(c, '00200080')).toBe('6984');
  });

  it('the signing password (EF 001B) has its own counter: 63C5 query, wrong tries, apart from the PIN', () => {
    const c = card();
    const password = Buffer.from(DEMO_SIGN_PASSWORD, 'ascii').toString('hex');
    const lc = DEMO_SIGN_PASSWORD.length.toString(16).padStart(2, '0');
    tx(c, SELECT_JPKI);
    expect(tx(c, '00a4020c02001b')).toBe('9000');
    expect(tx(c, '00200080')).toBe('63c5');
    expect(tx(c, '0020008006414243444546')).toBe('63c4');
    tx(c, '00a4020c020018');
    expect(tx(c, '00200080')).toBe('63c3'); // the PIN's counter is untouched
    tx(c, '00a4020c02001b');
    expect(tx(c, `00200080${lc}${password}`)).toBe('9000');
    expect(tx(c, '00200080')).toBe('9000');
  });

  it('the signing certificate and key need the signing password; their CA certificate does not', () => {
    const c = card();
    const password = Buffer.from(DEMO_SIGN_PASSWORD, 'ascii').toString('hex');
    const lc = DEMO_SIGN_PASSWORD.length.toString(16).padStart(2, '0');
    const input = '3031300d060960864801650304020105000420' + 'cd'.repeat(32);
    tx(c, SELECT_JPKI);
    tx(c, '00a4020c020002');
    expect(tx(c, '00b0000004').slice(0, 4)).toBe('3082'); // signing CA: readable
    tx(c, '00a4020c020001');
    expect(tx(c, '00b0000004')).toBe('6982');
    tx(c, '00a4020c02001a');
    expect(tx(c, `802a008033${input}00`)).toBe('6982');
    // the authentication PIN does not open the signing side
    tx(c, '00a4020c020018');
    tx(c, '002000800431323334');
    tx(c, '00a4020c02001a');
    expect(tx(c, `802a008033${input}00`)).toBe('6982');
    tx(c, '00a4020c02001b');
    expect(tx(c, `00200080${lc}${password}`)).toBe('9000');
    tx(c, '00a4020c020001');
    const chunks: Buffer[] = [];
    for (let offset = 0; ; offset += 256) {
      const r = c.transmit(fromHex(`00b0${offset.toString(16).padStart(4, '0')}00`));
      if (r.length <= 2) break;
      chunks.push(Buffer.from(r.subarray(0, -2)));
      if (r.length < 258) break;
    }
    const cert = new X509Certificate(Buffer.concat(chunks));
    tx(c, '00a4020c02001a');
    const answer = c.transmit(fromHex(`802a008033${input}00`));
    expect(answer.length).toBe(258);
    const recovered = publicDecrypt(
      { key: cert.publicKey, padding: constants.RSA_PKCS1_PADDING },
      answer.subarray(0, 256),
    );
    expect(recovered.toString('hex')).toBe(input);
  });

  it('CHANGE REFERENCE DATA with old and new PIN, or new PIN after VERIFY', () => {
    const c = card();
    tx(c, SELECT_JPKI);
    tx(c, '00a4020c020018');
    expect(tx(c, '002401800431313131')).toBe('6982'); // new PIN only after VERIFY
    expect(tx(c, '002400800831323334' + '35363738')).toBe('9000');
    tx(c, SELECT_JPKI);
    tx(c, '00a4020c020018');
    expect(tx(c, '002000800431323334')).toBe('63c2');
    expect(tx(c, '002000800435363738')).toBe('9000');
    expect(tx(c, '00240180043132333a')).toBe('6a80'); // not 4 digits
    expect(tx(c, '002401800439393939')).toBe('9000');
  });

  it('signs with PKCS#1 v1.5 type-1 padding of the given bytes, only when authorised', () => {
    const c = card();
    const pub = createPublicKey(profile.authKey);
    const input = '3031300d060960864801650304020105000420' + 'ab'.repeat(32);
    tx(c, SELECT_JPKI);
    tx(c, '00a4020c020017');
    expect(tx(c, `802a008033${input}00`)).toBe('6982');
    tx(c, '00a4020c020018');
    tx(c, '002000800431323334');
    expect(tx(c, `802a008033${input}00`)).toBe('6986'); // EF 0017 not selected
    tx(c, '00a4020c020017');
    const answer = c.transmit(fromHex(`802a008033${input}00`));
    expect(answer.length).toBe(258);
    const recovered = publicDecrypt(
      { key: pub, padding: constants.RSA_PKCS1_PADDING },
      answer.subarray(0, 256),
    );
    expect(recovered.toString('hex')).toBe(input);
    expect(tx(c, `802a0080f6${'00'.repeat(246)}00`)).toBe('6700'); // more than 245 bytes
    c.reset();
    tx(c, SELECT_JPKI);
    tx(c, '00a4020c020017');
    expect(tx(c, `802a008033${input}00`)).toBe('6982'); // reset cleared the PIN state
  });

  it('answers 6D00/6E00/6881 and malformed lengths with 6700', () => {
    const c = card();
    tx(c, SELECT_JPKI);
    expect(tx(c, '00ee0000')).toBe('6d00');
    expect(tx(c, 'a0a40000')).toBe('6e00');
    expect(tx(c, '01a4040c0ad392f000260100000001')).toBe('6881');
    expect(tx(c, '00a4040c0ad392f0')).toBe('6700');
    expect(tx(c, '00a4')).toBe('6700');
  });

  it('extension hook: proprietary commands reach it; its unlock and state die with the selection', () => {
    const c = card();
    const seen: number[] = [];
    const input = 'cc'.repeat(51);
    c.registerExtension({
      name: 'demo',
      handle(command, ctx) {
        seen.push(command.ins);
        if (command.ins === 0x84) return ctx.reply([1, 2, 3, 4, 5, 6, 7, 8]);
        if (command.ins !== 0xa2) return null;
        ctx.security.ext.demo = 'verified';
        ctx.security.terminalUnlock = ctx.selectedEf === 0x0016 ? Buffer.from(input, 'hex') : null;
        return ctx.reply([]);
      },
    });
    expect(() => c.registerExtension({ name: 'demo', handle: () => null })).toThrow();
    expect(tx(c, '00840000' + '08')).toBe('6d00'); // applet not selected: extensions not asked
    tx(c, SELECT_JPKI);
    expect(tx(c, '0084000008')).toBe('01020304050607089000');
    tx(c, '00a4020c020016');
    expect(tx(c, '80a2000001ff')).toBe('9000');
    tx(c, '00a4020c020017');
    expect(sw(tx(c, `802a008033${input}00`))).toBe('9000'); // no PIN: unlocked by the terminal
    expect(tx(c, `802a008033${input}00`)).toBe('6982'); // once
    tx(c, SELECT_JPKI);
    tx(c, '00a4020c020017');
    expect(tx(c, `802a008033${input}00`)).toBe('6982');
    expect(seen).toEqual([0x84, 0xa2]);
  });
});

describe('SimulatedCard timing and T=0 style', () => {
  it('charges per byte, per command and for the signature', () => {
    const model = timingModel('contactless-106');
    expect(exchangeMs(model, 5, 258, false)).toBeCloseTo(4 + (263 * 85) / 1000, 5);
    expect(exchangeMs(model, 60, 258, true)).toBeGreaterThan(250);
    expect(exchangeMs(timingModel('instant'), 5, 258, true)).toBe(0);
    const sim = new SimulatedCard(profile, { timing: model });
    const reply = sim.respond(fromHex(SELECT_JPKI));
    expect(reply.kind === 'answer' && reply.delayMs).toBeGreaterThan(4);
  });
});

describe('VpcdCardClient framing', () => {
  it('answers control messages and APDUs, also when vpcd splits length and body', async () => {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as { port: number }).port;
    const sim = new SimulatedCard(profile);
    const client = new VpcdCardClient({ endpoint: { host: '127.0.0.1', port }, card: sim, reconnect: false });
    const accepted = once(server, 'connection') as Promise<[Socket]>;
    await client.insert();
    const [socket] = await accepted;
    const frames: Buffer[] = [];
    let buffer = Buffer.alloc(0);
    socket.on('data', (b: Buffer) => {
      buffer = Buffer.concat([buffer, b]);
      while (buffer.length >= 2 && buffer.length >= 2 + buffer.readUInt16BE(0)) {
        frames.push(buffer.subarray(2, 2 + buffer.readUInt16BE(0)));
        buffer = buffer.subarray(2 + buffer.readUInt16BE(0));
      }
    });
    const waitFrames = async (n: number) => {
      while (frames.length < n) await new Promise((r) => setTimeout(r, 5));
    };
    socket.write(Buffer.from([0, 1, 4])); // get ATR
    await waitFrames(1);
    expect(frames[0]!.toString('hex')).toBe(toHex(profile.atr));
    socket.write(Buffer.from([0, 1, 1])); // power on: no answer
    const apdu = fromHex(SELECT_JPKI);
    socket.write(Buffer.from([0, apdu.length]));
    await new Promise((r) => setTimeout(r, 20));
    socket.write(apdu);
    await waitFrames(2);
    expect(frames[1]!.toString('hex')).toBe('9000');
    const removed = once(client, 'removed');
    await client.remove();
    await removed;
    expect(client.connected).toBe(false);
    server.close();
  });
});
