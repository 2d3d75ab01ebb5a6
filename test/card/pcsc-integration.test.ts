// Through the real stack: private pcscd + vpcd + the virtual card (sim/card) + ReaderWatcher + JpkiClient.
import 'reflect-metadata';
import { createHash, createPublicKey, verify } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isKioskError, type ErrorCode } from '../../base/errors.js';
import { JpkiClient } from '../../main/core/card/jpki-client.js';
import { ReaderWatcher, type WatcherState } from '../../main/core/card/reader-watcher.js';
import { SimulatedCard } from '../../sim/card/simulated-card.js';
import { demoCards, demoProfile } from '../support/demo-cards.js';
import { insertCard, startPcscd, type InsertedCard, type PrivatePcscd } from '../support/pcscd.js';

const PORT = 36000; // readers 'Virtual PCD 36000 00 00' (36000) and '… 00 01' (36001)
const EXTRA = 36002;

let pcscd: PrivatePcscd;
let watcher: ReaderWatcher;
let reader0: string;
const events: string[] = [];

beforeAll(async () => {
  await demoCards();
  pcscd = await startPcscd({ vpcdPorts: [PORT] });
  reader0 = pcscd.readerNames(PORT)[0];
  watcher = new ReaderWatcher({ settleMs: 30, retryMs: 100, maxRetryMs: 400 });
  watcher.on('state', (s) => events.push(`state:${s}`));
  watcher.on('reader-added', (n) => events.push(`added:${n}`));
  watcher.on('reader-removed', (n) => events.push(`removed:${n}`));
  watcher.on('card-inserted', (e) => events.push(`card-in:${e.reader}`));
  watcher.on('card-removed', (e) => events.push(`card-out:${e.reader}`));
  watcher.start();
  await watcher.waitReady();
}, 60_000);

afterAll(() => watcher?.stop());

async function until(what: string, check: () => boolean, timeoutMs = 8000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}; events: ${events.join(' ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function expectCode(promise: Promise<unknown>, codes: ErrorCode[]) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isKioskError(error), `expected KioskError, got ${String(error)}`).toBe(true);
  expect(codes).toContain((error as { code: ErrorCode }).code);
  return error as { code: ErrorCode; detail?: Record<string, unknown> };
}

async function session(timeoutMs = 1500) {
  const name = await watcher.waitForCard(reader0, 5000);
  return new JpkiClient(await watcher.connect(name), { timeoutMs });
}

async function insert(name: string, options?: ConstructorParameters<typeof SimulatedCard>[1]) {
  const inserted = await insertCard(pcscd, PORT, new SimulatedCard(await demoProfile(name), options));
  const remove = inserted.remove;
  // removal is seen at pcscd's next presence poll (up to 400 ms): wait for it so tests do not overlap
  inserted.remove = async () => {
    await remove();
    await until('card removed', () => !watcher.list().find((r) => r.name === reader0)?.cardPresent);
  };
  return inserted;
}

describe('card layer through pcscd + vpcd + the virtual card', () => {
  it('sees both vpcd readers and a card arriving after the settle delay', async () => {
    await until('readers', () => watcher.list().length === 2);
    expect(
      watcher
        .list()
        .map((r) => r.name)
        .sort(),
    ).toEqual(pcscd.readerNames(PORT));
    const card = await insert('valid');
    await watcher.waitForCard(reader0);
    expect(watcher.list().find((r) => r.name === reader0)?.atrHex).toBe('3b888001000005e0b381a1007f');
    await card.remove();
    await until('card removed', () => events.includes(`card-out:${reader0}`));
  });

  it('reads the certificate, shows PIN tries, verifies the PIN, and the signature verifies', async () => {
    const card = await insert('valid');
    const client = await session();
    expect((await client.readTokenInfo()).cardType).toBe('my-number-card');
    const before = client.exchanges;
    const cert = await client.readAuthCertificate();
    expect(client.exchanges - before).toBe(3); // select EF, DER header, one extended-length READ via vpcd
    expect(Buffer.from(cert).equals(Buffer.from(card.card.applet.profile.authCert))).toBe(true);
    expect(await client.authPinTriesLeft()).toBe(3);
    const wrong = await expectCode(client.verifyAuthPin('9999'), ['PIN_WRONG']);
    expect(wrong.detail?.triesLeft).toBe(2);
    expect(await client.authPinTriesLeft()).toBe(2);
    await client.verifyAuthPin('1234');
    const message = Buffer.from('fresh challenge');
    const signature = await client.signSha256(createHash('sha256').update(message).digest());
    const key = createPublicKey({
      key: Buffer.from(new x509.X509Certificate(new Uint8Array(cert)).publicKey.rawData),
      format: 'der',
      type: 'spki',
    });
    expect(verify('sha256', message, key, signature)).toBe(true);
    await client.close();
    expect(card.card.applet.audit.forbiddenSelects).toBe(0);
    await card.remove();
  });

  it('handles a T=0 style card (61xx GET RESPONSE, 6Cxx) through pcscd', async () => {
    const card = await insert('valid', { t0Style: true });
    const client = await session();
    const cert = await client.readAuthCertificate();
    expect(Buffer.from(cert).equals(Buffer.from(card.card.applet.profile.authCert))).toBe(true);
    await client.verifyAuthPin('1234');
    expect((await client.signSha256(new Uint8Array(32))).length).toBe(256);
    await client.close();
    await card.remove();
  });

  it('blocks the PIN after three wrong tries', async () => {
    const card = await insert('valid');
    const client = await session();
    await expectCode(client.verifyAuthPin('0001'), ['PIN_WRONG']);
    await expectCode(client.verifyAuthPin('0002'), ['PIN_WRONG']);
    await expectCode(client.verifyAuthPin('0003'), ['PIN_BLOCKED']);
    await expectCode(client.verifyAuthPin('1234'), ['PIN_BLOCKED']);
    expect(await client.authPinTriesLeft()).toBe(0);
    await client.close();
    await card.remove();
  });

  it('a card removed mid-read ends in a typed error and the watcher recovers', async () => {
    const card = await insert('valid', { faults: { removeAtCommand: 4 } });
    const client = await session();
    await expectCode(client.readAuthCertificate(), ['CARD_REMOVED', 'CARD_ABSENT', 'CARD_PROTOCOL']);
    await until('card removed', () => !watcher.list().find((r) => r.name === reader0)?.cardPresent);
    await client.close();
    expect(watcher.state).toBe('ready');
    await card.remove();
    const again = await insert('valid');
    const client2 = await session();
    expect((await client2.readAuthCertificate()).length).toBeGreaterThan(1000);
    await client2.close();
    await again.remove();
  });

  it('a stalled card times out instead of hanging', async () => {
    const card = await insert('valid', { faults: { stallAtCommand: 3 } });
    const client = await session(400);
    const started = Date.now();
    await expectCode(client.readAuthCertificate(), ['CARD_TIMEOUT']);
    expect(Date.now() - started).toBeLessThan(3000);
    await client.close();
    await card.remove();
    await until('card removed', () => !watcher.list().find((r) => r.name === reader0)?.cardPresent);
  });

  it('survives pcscd being killed and restarted (also mid-transaction)', async () => {
    // a slow card (300 ms per command) so that the daemon dies while a command is in flight
    const card: InsertedCard = await insert('valid', {
      timing: { perByteUs: 0, perCommandMs: 300, signMs: 0 },
    });
    const client = await session(3000);
    await client.selectApplet();
    const states: WatcherState[] = [];
    watcher.on('state', (s) => states.push(s));
    const lost: ErrorCode[] = [
      'PCSC_UNAVAILABLE',
      'CARD_REMOVED',
      'CARD_ABSENT',
      'READER_GONE',
      'CARD_PROTOCOL',
    ];
    // Observe the in-flight command's failure from the start: it fails while the test is still awaiting
    // the kill, and an unobserved rejection in between counts as unhandled.
    const inFlight = expectCode(client.readAuthCertificate(), lost);
    await new Promise((r) => setTimeout(r, 150));
    const killedAt = Date.now();
    await pcscd.kill();
    await inFlight;
    expect(Date.now() - killedAt).toBeLessThan(2000);
    await expectCode(client.readAuthCertificate(), lost);
    await until('unavailable', () => watcher.state === 'unavailable');
    expect(watcher.list()).toEqual([]);
    expect(watcher.error?.code).toBe('PCSC_UNAVAILABLE');
    await pcscd.start();
    await until('ready again', () => watcher.state === 'ready' && watcher.list().length === 2);
    // the virtual card reconnects to the restarted vpcd by itself: card inserted again
    const client2 = await session();
    expect((await client2.readAuthCertificate()).length).toBeGreaterThan(1000);
    expect(states).toContain('unavailable');
    await client2.close();
    await card.remove();
  });

  it('sees a second reader appear and leave', async () => {
    await pcscd.addReader(EXTRA);
    const extra = pcscd.readerNames(EXTRA);
    await until('extra readers', () => extra.every((n) => watcher.list().some((r) => r.name === n)));
    // a slow card, so that the reader goes away while a command is in flight
    const slow = { timing: { perByteUs: 0, perCommandMs: 300, signMs: 0 } };
    const card = await insertCard(pcscd, EXTRA, new SimulatedCard(await demoProfile('valid'), slow));
    const name = await watcher.waitForCard(extra[0]);
    const client = new JpkiClient(await watcher.connect(name), { timeoutMs: 3000 });
    expect((await client.readTokenInfo()).label).toBe('JPKIAPICCTOKEN2');
    // Observe the in-flight command's failure from the start: it fails while the test is still awaiting
    // the kill, and an unobserved rejection in between counts as unhandled.
    const inFlight = expectCode(client.readAuthCertificate(), [
      'READER_GONE',
      'PCSC_UNAVAILABLE',
      'CARD_REMOVED',
      'CARD_PROTOCOL',
    ]);
    await new Promise((r) => setTimeout(r, 150));
    // pcscd 1.9.9 cannot drop a reader.conf reader live: removal restarts it (see docs/card.md)
    await pcscd.removeReader(EXTRA);
    await inFlight;
    await client.close();
    await card.remove();
    await until('extra readers gone', () => watcher.state === 'ready' && watcher.list().length === 2);
    expect(events).toContain(`removed:${extra[0]}`);
    await expectCode(watcher.connect(extra[0]), ['READER_NOT_FOUND']);
  });
});
