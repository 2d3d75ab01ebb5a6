// HSM and PIN-less terminal authentication.
//  - signature latency through the project's own layer (worker thread + supervised session) against
//    the same token driven directly and synchronously with pkcs11js (the floor: module + token cost);
//  - throughput with many signatures in flight;
//  - a tap's commands and milliseconds with terminal authentication versus the PIN path, on the
//    in-process virtual card, instant and with the contactless-424 timing model (air time and on-card
//    RSA only: on-card ECDSA verification of a real chip is not modelled), and through a private
//    pcscd + vpcd in a child process (libpcsclite binds one pcscd socket per process).
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as Pkcs11Types from 'pkcs11js';
import { projectRoot } from '../config/paths.js';
import { Hsm, initToken } from '../hsm/client.js';
import { InProcessTransport } from '../main/core/card/in-process-transport.js';
import { JpkiClient } from '../main/core/card/jpki-client.js';
import { ReaderWatcher } from '../main/core/card/reader-watcher.js';
import { SHA256_DIGEST_INFO_PREFIX } from '../main/core/card/jpki.js';
import { taBinding, InstitutionTerminalAuthenticator } from '../main/core/card/terminal-auth.js';
import { startPcscd } from '../sim/card/private-pcscd.js';
import { loadCardProfile } from '../sim/card/profile.js';
import { SimulatedCard } from '../sim/card/simulated-card.js';
import { enableTerminalAuth } from '../sim/card/terminal-auth.js';
import { timingModel, type TimingPreset } from '../sim/card/timing.js';
import { VpcdCardClient } from '../sim/card/vpcd-client.js';
import { createMockCa, issueInstitutionCvc, type MockInstitutionCa } from '../sim/institution-ca/ca.js';
import { DEMO_PIN, demoCard, ensureDemoPki } from '../sim/pki/demo-pki.js';
import { measure, type BenchContext, type Metrics, type Stats, runBenchChild } from './harness.js';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const PIN = '8642086420';
const PCSCD_PORT = 36150;

/** The floor: the same token, signing synchronously on this thread with pkcs11js, no layer. */
function rawSigner(label: string, ec: boolean): () => void {
  const pk = createRequire(import.meta.url)('pkcs11js') as typeof Pkcs11Types;
  const p = new pk.PKCS11();
  p.load(MODULE);
  try {
    p.C_Initialize();
  } catch (error) {
    if ((error as { code?: number }).code !== pk.CKR_CRYPTOKI_ALREADY_INITIALIZED) throw error;
  }
  const slot = p.C_GetSlotList(true).find((s) => p.C_GetTokenInfo(s).label.startsWith('bench-token'))!;
  const session = p.C_OpenSession(slot, pk.CKF_SERIAL_SESSION);
  try {
    p.C_Login(session, pk.CKU_USER, PIN);
  } catch (error) {
    if ((error as { code?: number }).code !== pk.CKR_USER_ALREADY_LOGGED_IN) throw error;
  }
  p.C_FindObjectsInit(session, [
    { type: pk.CKA_CLASS, value: pk.CKO_PRIVATE_KEY },
    { type: pk.CKA_LABEL, value: label },
  ]);
  const key = p.C_FindObjects(session, 1)[0]!;
  p.C_FindObjectsFinal(session);
  const digest = createHash('sha256').update('bench').digest();
  const data = ec ? digest : Buffer.concat([SHA256_DIGEST_INFO_PREFIX, digest]);
  const out = Buffer.alloc(512);
  return () => {
    p.C_SignInit(session, { mechanism: ec ? pk.CKM_ECDSA : pk.CKM_RSA_PKCS }, key);
    p.C_Sign(session, data, out);
  };
}

interface BenchHsm {
  hsm: Hsm;
  ecPoint: Uint8Array;
}

/** A SoftHSM2 token in `dir` with an ECDSA P-256 and an RSA-2048 key. */
async function benchHsm(dir: string): Promise<BenchHsm> {
  const tokenDir = join(dir, 'tokens');
  mkdirSync(tokenDir);
  const conf = join(dir, 'softhsm2.conf');
  writeFileSync(conf, `directories.tokendir = ${tokenDir}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  await initToken(MODULE, conf, 'bench-token', '1122334455', PIN);
  const hsm = new Hsm({
    module: MODULE,
    softhsmConf: conf,
    tokenLabel: 'bench-token',
    tokenSerial: null,
    pin: () => PIN,
  });
  await hsm.start();
  const ec = await hsm.generateKey('bench-ec', 'ec-p256');
  await hsm.generateKey('bench-rsa', 'rsa-2048');
  return { hsm, ecPoint: ec.publicPoint! };
}

async function validProfilePath(): Promise<string> {
  return demoCard(await ensureDemoPki(join(projectRoot(), 'var')), 'valid').profilePath;
}

interface TapSetup {
  ca: MockInstitutionCa;
  authenticator: InstitutionTerminalAuthenticator;
}

function tapSetup(b: BenchHsm): TapSetup {
  const ca = createMockCa();
  const certificate = issueInstitutionCvc(ca, { chr: 'DEMO0001', publicPoint: b.ecPoint });
  const authenticator = new InstitutionTerminalAuthenticator({
    signer: b.hsm,
    keyLabel: 'bench-ec',
    certificate,
    institutionCode: 'DEMO0001',
  });
  return { ca, authenticator };
}

const HASH = createHash('sha256').update('challenge').digest();

/** One tap: select, (terminal authentication), read the certificate, (PIN), sign. Returns the APDU count. */
async function tap(client: JpkiClient, mode: 'pin' | 'ta', setup: TapSetup): Promise<number> {
  await client.selectApplet();
  const der = await client.readAuthCertificate();
  if (mode === 'ta') await setup.authenticator.authenticate(client, taBinding(der, HASH));
  if (mode === 'pin') await client.verifyAuthPin(DEMO_PIN);
  await client.signSha256(HASH);
  return client.exchanges;
}

interface TapResult {
  pin: Stats;
  ta: Stats;
  commands: { pin: number; ta: number };
}

/** Child process: the same taps through a private pcscd + vpcd (instant card, quickack route). */
async function childPcscd(iterations: number): Promise<TapResult> {
  const dir = mkdtempSync(join(tmpdir(), 'jpki-bench-hsm-pcscd-'));
  const b = await benchHsm(dir);
  const setup = tapSetup(b);
  const pcscd = await startPcscd({ vpcdPorts: [PCSCD_PORT], label: 'jpki-bench-hsm' });
  try {
    pcscd.applyEnv();
    const card = SimulatedCard.fromFile(await validProfilePath());
    enableTerminalAuth(card.applet, { trusted: [setup.ca] });
    const vpcd = new VpcdCardClient({ endpoint: pcscd.endpoint(PCSCD_PORT), card });
    await vpcd.insert();
    const watcher = new ReaderWatcher({ settleMs: 20 });
    watcher.start();
    try {
      const reader = await watcher.waitForCard(pcscd.readerNames(PCSCD_PORT)[0], 10_000);
      const commands = { pin: 0, ta: 0 };
      const session = async (mode: 'pin' | 'ta') => {
        const client = new JpkiClient(await watcher.connect(reader));
        commands[mode] = await tap(client, mode, setup);
        await client.close();
      };
      const pin = await measure(() => session('pin'), { warmup: 2, iterations });
      const ta = await measure(() => session('ta'), { warmup: 2, iterations });
      return { pin, ta, commands };
    } finally {
      watcher.stop();
      await vpcd.remove();
    }
  } finally {
    await pcscd.stop();
    await b.hsm.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function runChild(iterations: number): Promise<TapResult> {
  return runBenchChild<TapResult>(import.meta.url, [String(iterations)], 'hsm bench');
}

export async function run(ctx: BenchContext): Promise<Metrics> {
  const dir = mkdtempSync(join(tmpdir(), 'jpki-bench-hsm-'));
  const metrics: Metrics = {};
  const iterations = ctx.quick ? 100 : 1000;
  try {
    const b = await benchHsm(dir);
    const hsm = b.hsm;
    const message = Buffer.from('journal entry');

    ctx.log('hsm: signature latency through the layer and raw');
    for (const [name, label, isEc] of [
      ['ecdsa_p256', 'bench-ec', true],
      ['rsa2048', 'bench-rsa', false],
    ] as const) {
      const ours = await measure(() => hsm.sign(label, message), { warmup: 20, iterations });
      const raw = await measure(rawSigner(label, isEc), { warmup: 20, iterations });
      metrics[`hsm.sign_${name}_p50_ms`] = ours.p50;
      metrics[`hsm.sign_${name}_p99_ms`] = ours.p99;
      metrics[`hsm.raw_sign_${name}_p50_ms`] = raw.p50;
      metrics[`hsm.raw_sign_${name}_p99_ms`] = raw.p99;
      metrics[`hsm.layer_overhead_${name}_p50_ms`] = ours.p50 - raw.p50;
    }

    ctx.log('hsm: throughput with many signatures in flight');
    const burst = ctx.quick ? 100 : 400;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: burst }, (_, i) => hsm.sign('bench-ec', Buffer.from(`m${i}`))));
    metrics['hsm.sign_ecdsa_p256_concurrent_per_s'] = burst / ((performance.now() - t0) / 1000);

    ctx.log('hsm: terminal authentication versus PIN on the virtual card');
    const profilePath = await validProfilePath();
    const setup = tapSetup(b);
    const tapIterations = ctx.quick ? 10 : 40;
    for (const preset of ['instant', 'contactless-424'] as TimingPreset[]) {
      const card = new SimulatedCard(loadCardProfile(profilePath), { timing: timingModel(preset) });
      enableTerminalAuth(card.applet, { trusted: [setup.ca] });
      const commands = { pin: 0, ta: 0 };
      const once = async (mode: 'pin' | 'ta') => {
        const client = new JpkiClient(new InProcessTransport(card), { timeoutMs: 5000 });
        commands[mode] = await tap(client, mode, setup);
        await client.close();
      };
      const pin = await measure(() => once('pin'), { warmup: 2, iterations: tapIterations });
      const ta = await measure(() => once('ta'), { warmup: 2, iterations: tapIterations });
      const key = preset === 'instant' ? 'instant' : 'contactless424';
      metrics[`hsm.tap_pin_${key}_p50_ms`] = pin.p50;
      metrics[`hsm.tap_terminal_auth_${key}_p50_ms`] = ta.p50;
      metrics[`hsm.tap_terminal_auth_added_${key}_p50_ms`] = ta.p50 - pin.p50;
      metrics['hsm.tap_pin_commands'] = commands.pin;
      metrics['hsm.tap_terminal_auth_commands'] = commands.ta;
    }

    ctx.log('hsm: the same taps through a private pcscd + vpcd (child process)');
    const viaPcscd = await runChild(ctx.quick ? 8 : 30);
    metrics['hsm.tap_pin_pcscd_p50_ms'] = viaPcscd.pin.p50;
    metrics['hsm.tap_terminal_auth_pcscd_p50_ms'] = viaPcscd.ta.p50;
    metrics['hsm.tap_terminal_auth_added_pcscd_p50_ms'] = viaPcscd.ta.p50 - viaPcscd.pin.p50;
    await hsm.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return metrics;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--child') {
  childPcscd(Number(process.argv[3] ?? 10)).then(
    (result) => {
      process.stdout.write(JSON.stringify(result) + '\n');
      process.exit(0);
    },
    (error: unknown) => {
      process.stderr.write(String(error instanceof Error ? error.stack : error) + '\n');
      process.exit(1);
    },
  );
}
