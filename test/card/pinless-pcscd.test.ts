// The PIN-less protocol's security properties through the real stack: private pcscd + vpcd + the
// virtual card (with the terminal-auth extension trusting the mock 特定機関 CA) + ReaderWatcher +
// JpkiClient on the terminal side + SoftHSM2 holding the institution key, provisioned by ensureDemoHsm.
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.js';
import { isKioskError } from '../../base/errors.js';
import { encodeCommand } from '../../main/core/card/apdu.js';
import { JpkiClient } from '../../main/core/card/jpki-client.js';
import { ReaderWatcher } from '../../main/core/card/reader-watcher.js';
import {
  InstitutionTerminalAuthenticator,
  TA_SW,
  taBinding,
  type CardCommandLink,
  type TerminalAuthenticator,
} from '../../main/core/card/terminal-auth.js';
import { sha256DigestInfo, verifyCardSignature } from '../../main/core/verify/certificate.js';
import type { Hsm } from '../../hsm/client.js';
import { hsmFromConfig, readInstalledCvc } from '../../hsm/config.js';
import { demoTrustedInstitutionCa, ensureDemoHsm } from '../../main/demo/hsm.js';
import { SimulatedCard } from '../../sim/card/simulated-card.js';
import { enableTerminalAuth } from '../../sim/card/terminal-auth.js';
import {
  createMockCa,
  issueInstitutionCvc,
  loadMockCa,
  type TrustedInstitutionCa,
} from '../../sim/institution-ca/ca.js';
import { demoCards, demoProfile } from '../support/demo-cards.js';
import { insertCard, startPcscd, type InsertedCard, type PrivatePcscd } from '../support/pcscd.js';
import { institutionAuthenticatorFromConfig } from '../../main/core/card/institution-auth.js';

const PORT = 36110;
const dataDir = mkdtempSync(join(tmpdir(), 'jpki-pinless-'));
const configFile = join(dataDir, 'kiosk.json');
writeFileSync(configFile, JSON.stringify({ version: 1, profile: 'demo', data: { dir: dataDir } }));
const config = loadConfig({ file: configFile });
const DAY = 24 * 3600 * 1000;

let pcscd: PrivatePcscd;
let watcher: ReaderWatcher;
let reader0: string;
let hsm: Hsm;
let trusted: TrustedInstitutionCa;
let auth: InstitutionTerminalAuthenticator;
let inserted: InsertedCard | null = null;

beforeAll(async () => {
  await demoCards();
  await ensureDemoHsm(config);
  trusted = demoTrustedInstitutionCa(config);
  hsm = hsmFromConfig(config);
  await hsm.start();
  auth = await institutionAuthenticatorFromConfig(config, hsm);
  pcscd = await startPcscd({ vpcdPorts: [PORT] });
  reader0 = pcscd.readerNames(PORT)[0];
  watcher = new ReaderWatcher({ settleMs: 20, retryMs: 100, maxRetryMs: 400 });
  watcher.start();
  await watcher.waitReady();
}, 60_000);

afterAll(async () => {
  watcher?.stop();
  await inserted?.remove().catch(() => undefined);
  await hsm?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** Puts a demo card (with the protocol, trusting the mock CA) in the reader; one card at a time. */
async function insert(name: string): Promise<InsertedCard> {
  if (inserted) {
    await inserted.remove();
    inserted = null;
    // wait until the watcher saw it leave, so the next session is with the new card
    const deadline = Date.now() + 5000;
    while (watcher.list().find((r) => r.name === reader0)?.cardPresent) {
      if (Date.now() > deadline) throw new Error('card removal not seen');
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  const card = new SimulatedCard(await demoProfile(name));
  enableTerminalAuth(card.applet, { trusted: [trusted] });
  inserted = await insertCard(pcscd, PORT, card);
  return inserted;
}

async function session(): Promise<JpkiClient> {
  const name = await watcher.waitForCard(reader0, 5000);
  const client = new JpkiClient(await watcher.connect(name), { timeoutMs: 2000 });
  await client.selectApplet();
  return client;
}

interface Unlocked {
  der: Uint8Array;
  challenge: Uint8Array;
  digest: Uint8Array;
}

/** PIN-less authentication as the pipeline runs it: bound to the certificate read and a fresh challenge. */
async function unlock(
  client: JpkiClient,
  authenticator: TerminalAuthenticator = auth,
  link: CardCommandLink = client,
): Promise<Unlocked> {
  const der = await client.readAuthCertificate();
  const challenge = randomBytes(32);
  const digest = new Uint8Array(createHash('sha256').update(challenge).digest());
  await authenticator.authenticate(link, taBinding(der, digest));
  return { der, challenge, digest };
}

/** The terminal's proof of possession: the card signs the bound challenge, checked against its certificate. */
async function possessionProof(client: JpkiClient, unlocked: Unlocked): Promise<boolean> {
  const cert = new X509Certificate(unlocked.der);
  const signature = await client.signSha256(unlocked.digest);
  return verifyCardSignature(cert.publicKey, unlocked.challenge, signature);
}

function recording(client: JpkiClient): CardCommandLink & { sent: Uint8Array[] } {
  const sent: Uint8Array[] = [];
  return {
    sent,
    transmit: (apdu) => {
      sent.push(Uint8Array.from(apdu));
      return client.transmit(apdu);
    },
  };
}

async function failureOf(
  promise: Promise<unknown>,
): Promise<{ code: string; detail?: Record<string, unknown> }> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isKioskError(error), `expected a KioskError, got ${String(error)}`).toBe(true);
  return error as { code: string; detail?: Record<string, unknown> };
}

function withCert(
  certificate: Uint8Array,
  institutionCode = config.hsm.institutionCode,
  keyLabel = config.hsm.keyLabel,
) {
  return new InstitutionTerminalAuthenticator({ signer: hsm, keyLabel, certificate, institutionCode });
}

describe('PIN-less terminal authentication through pcscd + vpcd + SoftHSM2', () => {
  it('the demo valid card proves possession with no PIN entered', async () => {
    await insert('valid');
    const client = await session();
    expect(await possessionProof(client, await unlock(client))).toBe(true);
    expect(inserted!.card.applet.profile.pins.auth.triesLeft).toBe(3);
    await client.close();
  });

  it('signing without the PIN and without terminal authentication answers 6982', async () => {
    await insert('valid');
    const client = await session();
    const failure = await failureOf(client.signSha256(new Uint8Array(32)));
    expect(failure.code).toBe('CARD_SECURITY_STATUS');
    const raw = await client.transmit(
      encodeCommand({
        cla: 0x80,
        ins: 0x2a,
        p1: 0,
        p2: 0x80,
        data: sha256DigestInfo(Buffer.from('x')),
        le: 256,
      }),
    );
    expect(raw.sw).toBe(0x6982);
    await client.close();
  });

  it('a replayed terminal authentication fails', async () => {
    await insert('valid');
    const client = await session();
    const link = recording(client);
    await unlock(client, auth, link);
    const [, verifyCert, , externalAuth] = link.sent;
    // a new selection (a later tap, or an attacker replaying a recorded exchange)
    await client.selectApplet();
    await client.transmit(
      encodeCommand({ cla: 0, ins: 0xa4, p1: 2, p2: 0x0c, data: Uint8Array.of(0, 0x16) }),
    );
    expect((await client.transmit(verifyCert!)).sw).toBe(0x9000);
    expect((await client.transmit(encodeCommand({ cla: 0, ins: 0x84, p1: 0, p2: 0, le: 8 }))).sw).toBe(
      0x9000,
    );
    expect((await client.transmit(externalAuth!)).sw).toBe(TA_SW.VERIFICATION_FAILED);
    expect((await failureOf(client.signSha256(new Uint8Array(32)))).code).toBe('CARD_SECURITY_STATUS');
    await client.close();
  });

  it('an expired or wrong-CA institution certificate fails', async () => {
    const ca = loadMockCa(join(dataDir, 'demo/institution-ca'));
    const point = (await hsm.keyInfo(config.hsm.keyLabel)).publicPoint!;
    const now = Date.now();
    const expired = issueInstitutionCvc(ca, {
      chr: 'DEMO0001',
      publicPoint: point,
      effective: new Date(now - 400 * DAY),
      expiry: new Date(now - DAY),
    });
    const otherCa = issueInstitutionCvc(createMockCa('JPTEST-ICA-02'), {
      chr: 'DEMO0001',
      publicPoint: point,
    });
    const sameNameOtherKey = issueInstitutionCvc(createMockCa(ca.car), {
      chr: 'DEMO0001',
      publicPoint: point,
    });
    await insert('valid');
    for (const [cert, sw] of [
      [expired, TA_SW.VERIFICATION_FAILED],
      [otherCa, TA_SW.UNKNOWN_CA],
      [sameNameOtherKey, TA_SW.VERIFICATION_FAILED],
    ] as const) {
      const client = await session();
      const failure = await failureOf(unlock(client, withCert(cert)));
      expect(failure).toMatchObject({
        code: 'TERMINAL_AUTH_FAILED',
        detail: { step: 'verify certificate', sw },
      });
      expect((await failureOf(client.signSha256(new Uint8Array(32)))).code).toBe('CARD_SECURITY_STATUS');
      await client.close();
    }
  });

  it('a certificate whose holder does not match the signature fails', async () => {
    await insert('valid');
    const cert = readInstalledCvc(config.hsm).raw;
    for (const authenticator of [
      withCert(cert, 'DEMO0009'), // binds another institution code than the certificate's holder
      withCert(cert, 'DEMO0001', 'terminal-key'), // signs with a key the certificate is not for
    ]) {
      const client = await session();
      const failure = await failureOf(unlock(client, authenticator));
      expect(failure).toMatchObject({
        code: 'TERMINAL_AUTH_FAILED',
        detail: { step: 'external authenticate', sw: TA_SW.VERIFICATION_FAILED },
      });
      expect((await failureOf(client.signSha256(new Uint8Array(32)))).code).toBe('CARD_SECURITY_STATUS');
      await client.close();
    }
  });

  it('re-select and reset drop the unlocked state', async () => {
    await insert('valid');
    let client = await session();
    let unlocked = await unlock(client);
    await client.selectApplet();
    expect((await failureOf(client.signSha256(unlocked.digest))).code).toBe('CARD_SECURITY_STATUS');

    unlocked = await unlock(client);
    await client.close(); // ends the PC/SC session with a card reset
    client = await session();
    expect((await failureOf(client.signSha256(unlocked.digest))).code).toBe('CARD_SECURITY_STATUS');
    await client.close();
  });

  it('a relayed unlock used for a second digest fails', async () => {
    await insert('valid');
    const client = await session();
    const unlocked = await unlock(client);
    // what a relay wants: the victim card's signature over its own digest (an online login)
    const attacker = new Uint8Array(createHash('sha256').update('login challenge').digest());
    expect((await failureOf(client.signSha256(attacker))).code).toBe('CARD_SECURITY_STATUS');
    // and the unlock is spent: not even the bound digest is signed after that
    expect((await failureOf(client.signSha256(unlocked.digest))).code).toBe('CARD_SECURITY_STATUS');
    // bound digest first: one signature, then nothing more
    const again = await unlock(client);
    expect(await possessionProof(client, again)).toBe(true);
    expect((await failureOf(client.signSha256(again.digest))).code).toBe('CARD_SECURITY_STATUS');
    expect((await failureOf(client.signSha256(attacker))).code).toBe('CARD_SECURITY_STATUS');
    await client.close();
  });

  it("a clone (the valid card's certificate on another key) fails the terminal's signature check", async () => {
    await insert('clone');
    const client = await session();
    // the clone runs the protocol, but its key is not the certificate's
    expect(await possessionProof(client, await unlock(client))).toBe(false);
    await client.close();
  });
});
