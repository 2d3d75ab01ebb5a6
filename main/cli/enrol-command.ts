// `jpki-kiosk enrol --hub URL --code C`: enrols this terminal at a hub with a one-time code from the hub
// operator (`hub enrol-code create`). The terminal's HSM key (label TERMINAL_KEY_LABEL) signs the proof of
// possession; the hub's answer (id, site, gate, zone, kind, root of trust) is kept in the data folder and
// used by every later start (config/enrolment.ts). No key is copied by hand.
import { parseArgs } from 'node:util';
import { KioskError } from '../../base/errors.js';
import { loadConfig, readSyncCa } from '../../config/load.js';
import { hsmFromConfig, TERMINAL_KEY_LABEL } from '../../hsm/config.js';
import { enrolTerminal, hsmMessageSigner } from '../core/sync/enrol.js';
import { parseEnrolmentInput } from '../../protocol/enrolment.js';

const USAGE = `usage: jpki-kiosk enrol --hub URL --code CODE [--id TERMINAL_ID] [--config F] [--json]

  Enrols this terminal at the hub with a one-time code from the hub operator (hub enrol-code create).
  CODE is the 12-character code (dashes optional) or the jpki-enrol: text of its QR code (which may
  carry the hub's URL, making --hub optional). The terminal key in the HSM (label ${TERMINAL_KEY_LABEL})
  proves itself; the hub registers it once and answers the terminal's id, site, gate, zone and kind and
  its root of trust, which are kept in <data.dir>/enrolment.json and <data.dir>/hub-root.json.

  Refusals: ENROL_CODE_UNKNOWN (mistyped), ENROL_CODE_USED (used before), ENROL_CODE_EXPIRED,
  ENROL_KEY_REGISTERED (this key belongs to another terminal), HUB_TERMINAL_EXISTS (the id is taken).`;

export interface EnrolDeps {
  /** Tests: a software key instead of the configured HSM. */
  key?: { publicKeyPem: string; sign(message: Uint8Array): Promise<Uint8Array> };
}

export async function run(args: string[], deps: EnrolDeps = {}): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      hub: { type: 'string' },
      code: { type: 'string' },
      id: { type: 'string' },
      config: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (!values.code) {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  const config = loadConfig({ file: values.config ?? null });
  const hubUrl = values.hub ?? parseEnrolmentInput(values.code)?.hubUrl ?? config.sync.hubUrl;
  if (!hubUrl)
    throw new KioskError('INVALID_REQUEST', 'enrol needs --hub URL (or a QR code that carries it)');
  let key = deps.key;
  let close = async () => undefined as void;
  if (!key) {
    const hsm = hsmFromConfig(config);
    await hsm.start();
    if (hsm.state !== 'ready') {
      const e = hsm.status().error;
      await hsm.close();
      throw new KioskError(e?.code ?? 'HSM_UNAVAILABLE', e?.message ?? 'HSM unavailable');
    }
    close = () => hsm.close();
    key = {
      publicKeyPem: (await hsm.publicKey(TERMINAL_KEY_LABEL)).pem,
      sign: hsmMessageSigner(hsm, TERMINAL_KEY_LABEL),
    };
  }
  try {
    const record = await enrolTerminal({
      config,
      hubUrl,
      code: values.code,
      key,
      terminalId: values.id ?? null,
      ...(config.sync.caFile ? { ca: readSyncCa(config.sync.caFile) } : {}),
    });
    process.stdout.write(
      values.json
        ? JSON.stringify({ enrolled: record }, null, 2) + '\n'
        : `enrolled as ${record.terminalId} at ${record.siteId}/${record.gateId} (zone ${record.zone}, ${record.kind}); hub ${record.hubUrl}\n`,
    );
    return 0;
  } finally {
    await close();
  }
}

/** What `jpki-kiosk enrol --help` prints (main/cli/index.ts answers --help for every command). */
export const usage = USAGE;
