// An independent JPKI client against the virtual card: OpenSC (its `jpki` card driver and PKCS#15
// emulation, and opensc-pkcs11.so) through a private pcscd + vpcd, as it would talk to a real My Number
// Card. It lists the certificates, reads the authentication certificate and signs with the demo PIN;
// the signature verifies with the certificate the terminal reads.
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, verify, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedCard } from '../../sim/card/simulated-card.js';
import { DEMO_PIN } from '../../sim/pki/demo-pki.js';
import { demoProfile } from '../support/demo-cards.js';
import { insertCard, startPcscd, type InsertedCard, type PrivatePcscd } from '../support/pcscd.js';

const run = promisify(execFile);
const PORT = 36290;
const PKCS11 = '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so';
const dir = mkdtempSync(join(tmpdir(), 'jpki-opensc-'));
let pcscd: PrivatePcscd;
let inserted: InsertedCard;

async function tool(cmd: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(cmd, args, {
    env: { ...process.env, PCSCLITE_CSOCK_NAME: pcscd.socketPath, OPENSC_CONF: join(dir, 'opensc.conf') },
    timeout: 60_000,
  });
}

beforeAll(async () => {
  pcscd = await startPcscd({ vpcdPorts: [PORT] });
  inserted = await insertCard(pcscd, PORT, new SimulatedCard(await demoProfile('valid')));
  writeFileSync(join(dir, 'opensc.conf'), 'app default {\n  debug = 0;\n}\n');
}, 60_000);

afterAll(async () => {
  await inserted?.remove().catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
});

/** pcscd sees a vpcd card on its next presence poll: wait until OpenSC lists the reader with a card. */
async function waitForCard(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (/^0\s+Yes/m.test((await tool('opensc-tool', ['--list-readers'])).stdout)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('OpenSC never saw the card');
}

describe('OpenSC (jpki driver) against the virtual card through pcscd + vpcd', () => {
  beforeAll(waitForCard, 30_000);

  it('lists the four certificates and both PINs with their own try counters', async () => {
    const { stdout } = await tool('pkcs15-tool', ['--list-certificates', '--list-pins']);
    expect(stdout.match(/X\.509 Certificate \[/g)).toHaveLength(4);
    for (const label of [
      'User Authentication Certificate]',
      'Digital Signature Certificate]',
      'User Authentication Certificate CA]',
      'Digital Signature Certificate CA]',
    ])
      expect(stdout).toContain(label);
    const serial = new X509Certificate(inserted.card.applet.profile.authCert).serialNumber;
    expect(stdout.replace(/\s+/g, ' ')).toMatch(
      new RegExp(`Path : 000a ID : 01 Encoded serial : 02 0\\d ${serial}`, 'i'),
    );
    expect(stdout).toMatch(/User Authentication PIN\][\s\S]*?Tries left\s+: 3/);
    expect(stdout).toMatch(/Digital Signature PIN\][\s\S]*?Tries left\s+: 5/);
  }, 60_000);

  it('reads the authentication certificate exactly as the card holds it', async () => {
    const { stdout } = await tool('pkcs15-tool', ['--read-certificate', '01']);
    const read = new X509Certificate(stdout);
    expect(Buffer.from(read.raw)).toEqual(Buffer.from(inserted.card.applet.profile.authCert));
  }, 60_000);

  it('signs with the authentication key after the demo PIN, and the signature verifies', async () => {
    const input = join(dir, 'message');
    const output = join(dir, 'signature');
    const message = Buffer.from(`signed by OpenSC at ${createHash('sha256').update(dir).digest('hex')}`);
    writeFileSync(input, message);
    await tool('pkcs11-tool', [
      '--module',
      PKCS11,
      '--login',
      '--pin',
      DEMO_PIN,
      '--sign',
      '--id',
      '01',
      '--mechanism',
      'SHA256-RSA-PKCS',
      '--input-file',
      input,
      '--output-file',
      output,
    ]);
    const signature = readFileSync(output);
    expect(signature.length).toBe(256);
    const publicKey = createPublicKey(
      new X509Certificate(inserted.card.applet.profile.authCert).publicKey.export({
        type: 'spki',
        format: 'pem',
      }),
    );
    expect(verify('sha256', message, publicKey, signature)).toBe(true);
    expect(inserted.card.applet.profile.pins.auth.triesLeft).toBe(3);
  }, 60_000);
});
