// `jpki-kiosk check --once --json [--config F] [--card NAME] [--timeout S]`: waits for one card on the
// first (or configured) reader, runs the whole pipeline and prints the decision. Exit 0 for any decision
// (admitted or not), 1 only for a fault (no reader, HSM, stores, timeout). In the demo profile it
// provisions itself; `--card NAME` inserts that demo card through pcscd + vpcd.
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/load.js';
import type { Decision } from '../../base/decision.js';
import { KioskError } from '../../base/errors.js';
import { composeTerminal } from '../compose.js';

function describe(decision: Decision): string {
  const ms = decision.timings.find((t) => t.stage === 'total')?.ms ?? 0;
  return `${decision.outcome.toUpperCase()} (${decision.reasons.join(', ')}) at ${decision.site}/${decision.gateId} in ${ms.toFixed(1)} ms`;
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      once: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      config: { type: 'string' },
      card: { type: 'string' },
      timeout: { type: 'string', default: '60' },
    },
  });
  if (!values.once) {
    process.stderr.write(
      'usage: jpki-kiosk check --once [--json] [--config FILE] [--card DEMO_CARD] [--timeout SECONDS]\n',
    );
    return 2;
  }
  const timeoutMs = Number(values.timeout) * 1000;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new KioskError('INVALID_REQUEST', '--timeout must be a positive number of seconds');
  const config = loadConfig({ file: values.config ?? null });
  if (values.card && !config.demo.enabled)
    throw new KioskError('INVALID_REQUEST', '--card inserts a demo card; it needs the demo profile');

  const composed = await composeTerminal(config, { autoCheck: false });
  const { terminal } = composed;
  // PIN mode from a shell: the PIN comes from JPKI_CARD_PIN, never from an argument (process lists are public).
  terminal.subscribe((event) => {
    if (event.name !== 'pinRequest') return;
    const pin = process.env.JPKI_CARD_PIN;
    if (pin && !event.payload.retry) void terminal.answerPin({ requestId: event.payload.requestId, pin });
    else void terminal.cancelPin({ requestId: event.payload.requestId });
  });
  try {
    const outOfService = terminal.status().outOfService;
    if (
      outOfService &&
      outOfService.code !== 'READER_NOT_FOUND' &&
      outOfService.code !== 'PCSC_UNAVAILABLE'
    ) {
      throw new KioskError(outOfService.code, outOfService.message);
    }
    if (values.card) await terminal.demoInsertCard({ name: values.card });
    else {
      const where = composed.demoReader ? ` in "${composed.demoReader}"` : '';
      process.stderr.write(`waiting up to ${values.timeout} s for a card${where} …\n`);
      if (composed.demoVpcdAddress) {
        process.stderr.write(
          `  insert a virtual one: npx jpki-kiosk sim card --card valid --vpcd ${composed.demoVpcdAddress}\n`,
        );
      }
    }
    const reader = await terminal.waitForCard(timeoutMs);
    const decision = await terminal.checkCard(reader);
    process.stdout.write(values.json ? JSON.stringify(decision) + '\n' : describe(decision) + '\n');
    return 0;
  } finally {
    await composed.close();
  }
}
