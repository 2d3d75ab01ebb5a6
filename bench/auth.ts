// Bench suite `auth`: tap to decision, the whole pipeline with PIN-less terminal authentication
// through SoftHSM2, certificate verification, revocation/whitelist lookups and a durable journal append.
//  - in process: the virtual card answers instantly (pure software overhead) against a whitelist of
//    JPKI_BENCH_AUTH_ROWS rows (default 10 M; --quick 100 k) → auth.tap_to_decision_p50_ms / _p99_ms;
//  - modelled: through a private pcscd + vpcd (quickack: the vpcd latency artefact removed) with the
//    contactless-424 chip model → auth.tap_to_decision_modelled_ms. libpcsclite binds one pcscd per
//    process, so this part runs in a child process (`node dist/bench/auth.js --child modelled DIR`).
import 'reflect-metadata';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import type { KioskConfig } from '../config/load.js';
import { projectRoot } from '../config/paths.js';
import { Stages, type Decision, type StageTiming } from '../base/decision.js';
import { InProcessTransport } from '../main/core/card/in-process-transport.js';
import { EntryLedger } from '../main/core/terminal/entry-ledger.js';
import { systemClock } from '../base/clock.js';
import { runCheck, type CheckContext } from '../main/core/check/pipeline.js';
import { buildTime } from '../main/core/clock.js';
import { loadTrustAnchors, verifyUserCertificate } from '../main/core/verify/certificate.js';
import { createTerminal } from '../main/core/terminal/index.js';
import { DEMO_RECORDS } from '../main/demo/data.js';
import { ensureDemoAssets, spkiSha256OfCertificate } from '../main/demo/provision.js';
import { VpcdDemoWallet, tapDemoCard } from '../main/demo/wallet.js';
import { writeDemoConfig } from '../main/demo/config.js';
import { hsmFromConfig } from '../hsm/config.js';

import { demoTrustedInstitutionCa } from '../main/demo/hsm.js';
import { startPcscd } from '../sim/card/private-pcscd.js';
import { SimulatedCard } from '../sim/card/simulated-card.js';
import { enableTerminalAuth } from '../sim/card/terminal-auth.js';
import { demoCard, ensureDemoPki } from '../sim/pki/demo-pki.js';
import { whitelistRow } from '../whitelist/feed-ops.js';
import { KioskData } from '../whitelist/kiosk-data.js';
import { loadIndexKey } from '../whitelist/privacy.js';
import { summarize, type BenchContext, type Metrics, runBenchChild } from './harness.js';
import { BENCH_ISSUER, benchRecord, benchSerial, benchSpki } from './whitelist-data.js';
import { buildSnapshot } from './whitelist.js';
import { institutionAuthenticatorFromConfig } from '../main/core/card/institution-auth.js';
import { taBinding, UnlockRateLimiter } from '../main/core/card/terminal-auth.js';
import { requireSha256WithRsa } from '../base/signature-algorithm.js';
import { createHash } from 'node:crypto';
import { X509Certificate as PeculiarCertificate, BasicConstraintsExtension } from '@peculiar/x509';

const STAGES: readonly StageTiming['stage'][] = Stages;
const MODELLED_PORT = 36330;

function benchConfig(dataDir: string): KioskConfig {
  return writeDemoConfig(dataDir, 'bench-config', {
    actuators: { gate: null, signal: null },
    demo: { enabled: true, vpcdPort: MODELLED_PORT },
    // Every tap of the same card is a fresh admission: anti-passback and double touch would turn
    // repeats into a different (shorter) path.
    policy: { stadium: { doubleTouchSeconds: 0, reentry: 'allow', antiPassback: { mode: 'off' } } },
    // A benchmark taps far faster than a queue of people: lift the per-terminal unlock budget.
    card: { unlockRate: { perMinute: 600, burst: 100 } },
  });
}

function stageMedians(decisions: Decision[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const stage of STAGES) {
    const values = decisions.map((d) => d.timings.find((t) => t.stage === stage)?.ms ?? 0);
    out[stage] = summarize(values).p50;
  }
  return out;
}

function describeStages(label: string, medians: Record<string, number>): string {
  return `  ${label}: ` + STAGES.map((s) => `${s} ${medians[s]!.toFixed(2)}`).join(' · ') + ' (median ms)';
}

/** A data folder with the demo PKI, HSM token and a whitelist of `rows` rows that includes the demo cards. */
async function prepare(
  rows: number,
  log: (l: string) => void,
): Promise<{ dir: string; config: KioskConfig }> {
  const dir = mkdtempSync(join(tmpdir(), 'jpki-bench-auth-'));
  await ensureDemoPki(join(projectRoot(), 'var'));
  cpSync(join(projectRoot(), 'var', 'demo', 'pki'), join(dir, 'demo', 'pki'), { recursive: true });
  const config = benchConfig(dir);
  const assets = await ensureDemoAssets(config);
  const indexKey = loadIndexKey({ ref: config.data.indexKey, dataDir: config.data.dir, demo: true, env: {} });
  const demoRows = Object.entries(DEMO_RECORDS).map(([name, record]) => {
    const card = demoCard(assets.cards, name);
    return whitelistRow(indexKey, {
      issuerKeyId: card.issuerKeyIdHex,
      serial: card.serialHex,
      spkiSha256: spkiSha256OfCertificate(card.certPath),
      record,
    });
  });
  const started = performance.now();
  const total = Math.max(rows, demoRows.length);
  const snapshot = buildSnapshot(
    dir,
    'whitelist',
    total,
    (i) =>
      demoRows[i] ??
      whitelistRow(indexKey, {
        issuerKeyId: BENCH_ISSUER,
        serial: benchSerial(i),
        spkiSha256: benchSpki(i),
        record: benchRecord(i),
      }),
    log,
    assets.publisherKey,
  );
  const data = KioskData.fromConfig(config, {});
  try {
    data.importSnapshot(snapshot.manifest, snapshot.rowsFile);
    data.markSynced('revocations', new Date(), new Date().toISOString());
  } finally {
    data.close();
  }
  rmSync(snapshot.rowsFile, { force: true });
  log(`  whitelist of ${total} rows ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { dir, config };
}

async function inProcess(config: KioskConfig, iterations: number): Promise<Decision[]> {
  const hsm = hsmFromConfig(config);
  await hsm.start();
  const data = KioskData.fromConfig(config, {});
  try {
    // No unlock budget here: hundreds of taps a second (the limiter's cost is in addedChecks).
    const authenticator = await institutionAuthenticatorFromConfig({ hsm: config.hsm }, hsm);
    const card = SimulatedCard.fromFile(demoCard(await ensureDemoPki(config.data.dir), 'valid').profilePath);
    enableTerminalAuth(card.applet, { trusted: [demoTrustedInstitutionCa(config)] });
    const site = { ...config.site };
    const ledger = new EntryLedger({ config, clock: systemClock, stores: () => data, site: () => site });
    const ctx: CheckContext = {
      config,
      site,
      anchors: loadTrustAnchors(config.trust.anchors, config.trust.allowTestCa),
      data,
      auth: { mode: 'terminal', authenticator },
      buildTime: buildTime(),
      lastHub: () => null,
      recentAdmits: ledger.recentAdmits,
    };
    const decisions: Decision[] = [];
    for (let i = 0; i < iterations + 10; i++) {
      const result = await runCheck(ctx, new InProcessTransport(card));
      const { decision } = ledger.commit(result, false);
      if (decision.outcome !== 'admitted')
        throw new Error(`bench tap not admitted: ${decision.reasons.join(',')}`);
      if (i >= 10) decisions.push(decision); // the first ten warm up JIT, SQLite pages and the HSM session
    }
    return decisions;
  } finally {
    data.close();
    await hsm.close();
  }
}

/**
 * What the card-binding and certificate checks add to a tap, against a same-run baseline (the whole
 * offline certificate verification they are part of): the signature-algorithm read, the leaf's
 * basicConstraints, the unlock's binding (SHA-256 of the certificate and of the nonce) and the
 * per-terminal rate limiter. Each sample is one tap's worth.
 */
async function addedChecks(
  config: KioskConfig,
  iterations: number,
): Promise<{ added: ReturnType<typeof summarize>; baseline: ReturnType<typeof summarize> }> {
  const cards = await ensureDemoPki(config.data.dir);
  const der = certDer(demoCard(cards, 'valid').certPath);
  const anchors = loadTrustAnchors(config.trust.anchors, config.trust.allowTestCa);
  const limiter = new UnlockRateLimiter({ perMinute: 1e9, burst: 1e9 });
  const parsed = new PeculiarCertificate(der);
  const added: number[] = [];
  const baseline: number[] = [];
  let sink = 0;
  for (let i = 0; i < iterations + 50; i++) {
    const nonce = createHash('sha256').update(String(i)).digest();
    const t0 = performance.now();
    const algorithm = requireSha256WithRsa(der);
    const ca = parsed.getExtension(BasicConstraintsExtension)?.ca ?? false;
    const binding = taBinding(der, createHash('sha256').update(nonce).digest());
    const allowed = limiter.take();
    const t1 = performance.now();
    const verdict = await verifyUserCertificate(der, {
      anchors,
      now: new Date(),
      requiredPolicy: config.trust.requiredPolicy,
    });
    const t2 = performance.now();
    if (!algorithm.ok || ca || !allowed || !verdict.ok) throw new Error('bench certificate refused');
    sink += binding.digest[0]!;
    if (i >= 50) {
      added.push(t1 - t0);
      baseline.push(t2 - t1);
    }
  }
  if (sink < 0) throw new Error('unreachable');
  return { added: summarize(added), baseline: summarize(baseline) };
}

function certDer(pemPath: string): Uint8Array<ArrayBuffer> {
  const pem = readFileSync(pemPath, 'utf8');
  return Uint8Array.from(Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64'));
}

/** Child process: taps through a private pcscd + vpcd with the contactless-424 chip model. */
async function modelledChild(dataDir: string, taps: number): Promise<void> {
  const config = benchConfig(dataDir);
  const pcscd = await startPcscd({ vpcdPorts: [MODELLED_PORT], label: 'jpki-bench-auth' });
  pcscd.applyEnv();
  const cards = await ensureDemoPki(config.data.dir);
  const wallet = new VpcdDemoWallet({
    config,
    cards,
    endpoint: pcscd.endpoint(MODELLED_PORT),
    timing: 'contactless-424',
  });
  const terminal = await createTerminal({ config, wallet, autoCheck: false });
  const decisions: Decision[] = [];
  try {
    for (let i = 0; i < taps + 2; i++) {
      const decision = await tapDemoCard(terminal, wallet, 'valid');
      if (decision.outcome !== 'admitted')
        throw new Error(`modelled tap not admitted: ${decision.reasons.join(',')}`);
      if (i >= 2) decisions.push(decision);
    }
  } finally {
    await terminal.close();
    await wallet.close();
    await pcscd.stop();
  }
  process.stdout.write(JSON.stringify(decisions.map((d) => d.timings)) + '\n');
}

function runChild(dataDir: string, taps: number): Promise<StageTiming[][]> {
  return runBenchChild<StageTiming[][]>(
    import.meta.url,
    ['modelled', dataDir, String(taps)],
    'auth bench modelled',
  );
}

export async function run(ctx: BenchContext): Promise<Metrics> {
  const envRows = process.env.JPKI_BENCH_AUTH_ROWS;
  const rows = envRows && /^\d+$/.test(envRows) ? Number(envRows) : ctx.quick ? 100_000 : 10_000_000;
  const iterations = ctx.quick ? 100 : 300;
  const { dir, config } = await prepare(rows, ctx.log);
  try {
    const checks = await addedChecks(config, ctx.quick ? 2000 : 10_000);
    ctx.log(
      `  added checks per tap: p50 ${checks.added.p50.toFixed(4)} ms, p99 ${checks.added.p99.toFixed(4)} ms` +
        ` (baseline, certificate verification: p50 ${checks.baseline.p50.toFixed(3)} ms)`,
    );
    const decisions = await inProcess(config, iterations);
    const totals = summarize(decisions.map((d) => d.timings.find((t) => t.stage === 'total')!.ms));
    const stages = stageMedians(decisions);
    ctx.log(describeStages(`in process, ${rows} rows`, stages));

    const modelled = (await runChild(dir, ctx.quick ? 5 : 15)).map((timings) => ({ timings }) as Decision);
    const modelledStages = stageMedians(modelled);
    ctx.log(describeStages('through pcscd + vpcd, contactless-424 model', modelledStages));

    const metrics: Metrics = {
      'auth.whitelist_rows': rows,
      'auth.tap_to_decision_p50_ms': totals.p50,
      'auth.tap_to_decision_p99_ms': totals.p99,
      'auth.tap_to_decision_modelled_ms': modelledStages.total!,
      'auth.added_checks_p50_ms': checks.added.p50,
      'auth.added_checks_p99_ms': checks.added.p99,
      'auth.added_checks_baseline_verify_p50_ms': checks.baseline.p50,
      'auth.added_checks_vs_verify_ratio': checks.added.p50 / checks.baseline.p50,
      'auth.added_checks_vs_tap_ratio': checks.added.p50 / totals.p50,
    };
    for (const stage of STAGES.filter((s) => s !== 'total')) {
      metrics[`auth.stage_${stage}_p50_ms`] = stages[stage]!;
      metrics[`auth.modelled_stage_${stage}_p50_ms`] = modelledStages[stage]!;
    }
    return metrics;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child' && process.argv[3] === 'modelled') {
  await modelledChild(process.argv[4]!, Number(process.argv[5] ?? 15));
  process.exit(0);
}
