// `jpki-kiosk hid …`: installer and operator checks of the gate relay and the signal tower, through the
// same drivers and supervision as the kiosk (node-hid async API; driver "software" runs the demo's
// simulated devices, from the demo build through main/extension.ts).
import { parseArgs } from 'node:util';
import { loadConfig } from '../../config/load.js';
import { ProfileNames, type ProfileName } from '../../config/schema.js';
import { KioskError } from '../../base/errors.js';
import { createActuators, type Actuators } from '../core/actuators/actuators.js';
import { hex16 } from '../core/actuators/hid-backend.js';
import { NodeHidBackend } from '../core/actuators/node-hid-backend.js';
import { SignalPatternNames, type SignalPatternName } from '../core/actuators/signal-controller.js';
import { TOWER_PRODUCT_ID, TOWER_VENDOR_ID } from '../core/actuators/signal-tower.js';
import { channelsFromProduct, USBRELAY_PRODUCT_ID, USBRELAY_VENDOR_ID } from '../core/actuators/usbrelay.js';
import type { PassageRecorder } from '../core/actuators/gate-outcomes.js';
import { loadDemoExtension } from '../extension.js';

const USAGE = `usage: jpki-kiosk hid list [--json]
       jpki-kiosk hid status [--config FILE] [--profile NAME] [--wait-ms N] [--json]
       jpki-kiosk hid pulse  [--config FILE] [--profile NAME] [--json]
       jpki-kiosk hid signal <${SignalPatternNames.join('|')}> [--config FILE] [--profile NAME] [--json]
`;

// The CLI never admits anyone: a grant reaching this recorder is a programming error.
const noJournal: PassageRecorder = {
  recordPassage: () => Promise.reject(new KioskError('INTERNAL', 'the hid command does not journal')),
  recordAnnulment: () => Promise.reject(new KioskError('INTERNAL', 'the hid command does not journal')),
  recordAnnulmentReversal: () =>
    Promise.reject(new KioskError('INTERNAL', 'the hid command does not journal')),
};

function kindOf(vendorId: number, productId: number, product: string | undefined): string | null {
  if (
    vendorId === USBRELAY_VENDOR_ID &&
    productId === USBRELAY_PRODUCT_ID &&
    channelsFromProduct(product) !== null
  )
    return 'usbrelay';
  if (vendorId === TOWER_VENDOR_ID && productId === TOWER_PRODUCT_ID) return 'signal-tower';
  return null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitConnected(a: Actuators, maxMs: number): Promise<void> {
  const deadline = Date.now() + maxMs;
  const ready = () =>
    (a.gate === null || a.gate.status.device.state === 'connected') &&
    (a.signal === null || a.signal.status.device.state === 'connected');
  while (!ready() && Date.now() < deadline) await sleep(25);
}

export async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      profile: { type: 'string' },
      json: { type: 'boolean', default: false },
      'wait-ms': { type: 'string', default: '1500' },
    },
  });
  const [verb, arg] = positionals;
  const out = (human: string, data: unknown) =>
    process.stdout.write(values.json ? JSON.stringify(data, null, 2) + '\n' : human + '\n');

  if (verb === 'list') {
    const devices = await new NodeHidBackend().enumerate();
    const rows = devices.map((d) => ({ ...d, kind: kindOf(d.vendorId, d.productId, d.product) }));
    out(
      rows.length === 0
        ? 'no HID devices visible (check the udev rules in build/udev/ and group membership)'
        : rows
            .map(
              (r) =>
                `${r.kind ?? '-'}\t${hex16(r.vendorId)}:${hex16(r.productId)}\t${r.product ?? ''}\t${r.path}`,
            )
            .join('\n'),
      rows,
    );
    return 0;
  }
  if (!['status', 'pulse', 'signal'].includes(verb ?? '')) {
    process.stderr.write(USAGE);
    return 2;
  }
  const profile = values.profile as ProfileName | undefined;
  if (profile && !ProfileNames.includes(profile)) {
    process.stderr.write(`unknown profile ${profile}; one of ${ProfileNames.join(', ')}\n`);
    return 2;
  }
  if (verb === 'signal' && !SignalPatternNames.includes(arg as SignalPatternName)) {
    process.stderr.write(USAGE);
    return 2;
  }
  const config = loadConfig({ file: values.config ?? null, ...(profile ? { profile } : {}) });
  const { gate, signal } = config.actuators;
  const wantsSoftware = gate?.driver === 'software' || signal?.driver === 'software';
  const softwareBackend = wantsSoftware
    ? await (await loadDemoExtension())?.softwareHid(config.actuators)
    : null;
  const actuators = await createActuators(config.actuators, {
    recorder: noJournal,
    resultHoldMs: config.ui.resultHoldMs,
    ...(softwareBackend ? { softwareBackend } : {}),
  });
  actuators.start();
  try {
    await waitConnected(actuators, Number(values['wait-ms']) || 1500);
    if (verb === 'status') {
      const status = actuators.status();
      const line = (
        name: string,
        s: { device: { state: string; lastError: { code: string } | null } } | null,
      ) =>
        s
          ? `${name}: ${s.device.state}${s.device.lastError ? ` (${s.device.lastError.code})` : ''}`
          : `${name}: not configured`;
      out([line('gate', status.gate), line('signal', status.signal)].join('\n'), status);
      const bad = [status.gate, status.signal].some((s) => s !== null && s.device.state !== 'connected');
      return bad ? 1 : 0;
    }
    if (verb === 'pulse') {
      if (!actuators.gate) throw new KioskError('CONFIG_INVALID', 'actuators.gate is not configured');
      const pulse = await actuators.gate.testPulse();
      await sleep(config.actuators.gate!.pulseMs + 50);
      out(`gate pulsed at ${pulse.closedAt}`, pulse);
      return 0;
    }
    if (!actuators.signal) throw new KioskError('CONFIG_INVALID', 'actuators.signal is not configured');
    const result = await Promise.race([
      actuators.signal.show(arg as SignalPatternName),
      sleep(5000).then(() => 'shown'),
    ]);
    out(`signal ${arg}: ${result}; tower ${actuators.signal.status.device.state}`, {
      pattern: arg,
      result,
      status: actuators.signal.status,
    });
    return actuators.signal.status.device.state === 'connected' ? 0 : 1;
  } finally {
    await actuators.stop();
  }
}

/** What `jpki-kiosk hid --help` prints (main/cli/index.ts answers --help for every command). */
export const usage = USAGE;
