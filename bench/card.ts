// Bench suite `card`: "select, read certificate, verify PIN, sign" (one card session) —
//  - instant:   the virtual card in process (pure software overhead, incl. the simulator's own RSA),
//  - pcscd:     through a private pcscd + vpcd, instant card, quickack route (vpcd artefact removed),
//  - modelled:  same, with the contactless-424 timing model (what a real chip would add),
//  - artefact:  same as pcscd but on the host loopback without quickack (the ~45 ms/APDU vpcd artefact).
// libpcsclite binds one pcscd socket per process, so each pcscd variant runs in a child process
// (this file run directly: `node dist/bench/card.js --child <variant>`).
import 'reflect-metadata';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { projectRoot } from '../config/paths.js';
import { InProcessTransport } from '../main/core/card/in-process-transport.js';
import { JpkiClient } from '../main/core/card/jpki-client.js';
import { ReaderWatcher } from '../main/core/card/reader-watcher.js';
import { startPcscd } from '../sim/card/private-pcscd.js';
import { loadCardProfile } from '../sim/card/profile.js';
import { SimulatedCard } from '../sim/card/simulated-card.js';
import { timingModel, type TimingPreset } from '../sim/card/timing.js';
import { VpcdCardClient } from '../sim/card/vpcd-client.js';
import { demoCard, ensureDemoPki } from '../sim/pki/demo-pki.js';
import { measure, type BenchContext, type Metrics, type Stats, runBenchChild } from './harness.js';

const HASH = new Uint8Array(32).fill(7);

async function flow(client: JpkiClient): Promise<void> {
  await client.selectApplet();
  await client.readAuthCertificate();
  await client.verifyAuthPin('1234');
  await client.signSha256(HASH);
}

async function validProfilePath(): Promise<string> {
  const set = await ensureDemoPki(join(projectRoot(), 'var'));
  return demoCard(set, 'valid').profilePath;
}

interface ChildResult {
  stats: Stats;
  commands: number;
}

type Variant = 'pcscd' | 'modelled' | 'artefact';
const VARIANTS: Record<Variant, { port: number; network: 'private' | 'host'; timing: TimingPreset }> = {
  pcscd: { port: 36050, network: 'private', timing: 'instant' },
  modelled: { port: 36052, network: 'private', timing: 'contactless-424' },
  artefact: { port: 36054, network: 'host', timing: 'instant' },
};

async function childRun(variant: Variant, iterations: number): Promise<ChildResult> {
  const spec = VARIANTS[variant];
  const pcscd = await startPcscd({
    vpcdPorts: [spec.port],
    network: spec.network,
    label: `jpki-bench-${variant}`,
  });
  try {
    pcscd.applyEnv();
    const card = SimulatedCard.fromFile(await validProfilePath(), { timing: timingModel(spec.timing) });
    const vpcd = new VpcdCardClient({ endpoint: pcscd.endpoint(spec.port), card });
    await vpcd.insert();
    const watcher = new ReaderWatcher({ settleMs: 20 });
    watcher.start();
    try {
      const reader = await watcher.waitForCard(pcscd.readerNames(spec.port)[0], 10_000);
      let commands = 0;
      const stats = await measure(
        async () => {
          const client = new JpkiClient(await watcher.connect(reader));
          await flow(client);
          commands = client.exchanges;
          await client.close();
        },
        { warmup: 2, iterations },
      );
      return { stats, commands };
    } finally {
      watcher.stop();
      await vpcd.remove();
    }
  } finally {
    await pcscd.stop();
  }
}

function runChild(variant: Variant, iterations: number, ctx: BenchContext): Promise<ChildResult> {
  ctx.log(`card: ${variant} (${iterations} sessions)`);
  return runBenchChild<ChildResult>(import.meta.url, [variant, String(iterations)], `card bench ${variant}`);
}

export async function run(ctx: BenchContext): Promise<Metrics> {
  const metrics: Metrics = {};
  const profile = loadCardProfile(await validProfilePath());

  // instant, in process
  let commands = 0;
  const instant = await measure(
    async () => {
      const card = new SimulatedCard({ ...profile, pins: { auth: { ...profile.pins.auth }, sign: null } });
      const client = new JpkiClient(new InProcessTransport(card));
      await flow(client);
      commands = client.exchanges;
    },
    { warmup: 5, iterations: ctx.quick ? 30 : 200 },
  );
  metrics['card.instant_flow_p50_ms'] = instant.p50;
  metrics['card.instant_flow_p99_ms'] = instant.p99;
  metrics['card.flow_commands'] = commands;
  // the simulator's own RSA signature, for reading the figure above
  const card = new SimulatedCard(profile);
  card.applet.transmit(Uint8Array.from(Buffer.from('00a4040c0ad392f000260100000001', 'hex')));
  card.applet.transmit(Uint8Array.from(Buffer.from('00a4020c020018', 'hex')));
  card.applet.transmit(Uint8Array.from(Buffer.from('002000800431323334', 'hex')));
  card.applet.transmit(Uint8Array.from(Buffer.from('00a4020c020017', 'hex')));
  const signApdu = Uint8Array.from(Buffer.from(`802a008033${'00'.repeat(51)}00`, 'hex'));
  const signed = card.applet.transmit(signApdu);
  if (signed.length !== 258 || signed[256] !== 0x90)
    throw new Error('card bench: the simulator did not sign');
  const rsa = await measure(() => card.applet.transmit(signApdu), {
    warmup: 5,
    iterations: ctx.quick ? 20 : 100,
  });
  metrics['card.sim_rsa_sign_p50_ms'] = rsa.p50;

  const n = ctx.quick ? 8 : 30;
  for (const variant of ['pcscd', 'modelled', 'artefact'] as const) {
    const result = await runChild(variant, variant === 'artefact' ? Math.min(n, 10) : n, ctx);
    metrics[`card.${variant}_flow_p50_ms`] = result.stats.p50;
    metrics[`card.${variant}_flow_p99_ms`] = result.stats.p99;
    metrics[`card.${variant}_per_command_ms`] = result.stats.p50 / result.commands;
  }
  return metrics;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--child') {
  const variant = process.argv[3] as Variant;
  const iterations = Number(process.argv[4] ?? 10);
  childRun(variant, iterations).then(
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
