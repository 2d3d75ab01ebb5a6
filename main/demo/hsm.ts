// The demo's terminal HSM, unattended and idempotent: the SoftHSM2 token with the institution and
// terminal keys (hsm/provision.ts does each step), the mock 特定機関 CA (TEST) and the institution
// certificate it issues. Running it again changes nothing that is still good.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KioskConfig } from '../../config/load.js';
import { KioskError, toKioskError } from '../../base/errors.js';
import { getLogger } from '../../base/log.js';
import { hsmFromConfig, readInstalledCvc, TERMINAL_KEY_LABEL } from '../../hsm/config.js';
import { cvcValidAt, verifyCvcSignature, type Cvc } from '../../hsm/cvc.js';
import { ensureKey, ensureSoftHsmToken, samePoint, withProvisioningLock } from '../../hsm/provision.js';
import { loadTrustedCa, type TrustedInstitutionCa } from '../../hsm/trusted-ca.js';
import { DEFAULT_MOCK_CAR, ensureMockCa, issueInstitutionCvc } from '../../sim/institution-ca/ca.js';

const log = getLogger('hsm-provision');
const DAY = 24 * 3600 * 1000;

export function demoInstitutionCaDir(config: Pick<KioskConfig, 'data'>): string {
  return join(config.data.dir, 'demo', 'institution-ca');
}

/** The CA public key the demo's virtual cards trust behind EF 0016. */
export function demoTrustedInstitutionCa(config: Pick<KioskConfig, 'data'>): TrustedInstitutionCa {
  return loadTrustedCa(demoInstitutionCaDir(config));
}

export interface DemoHsmResult {
  actions: string[];
  tokenLabel: string;
  institutionCode: string;
  certificatePath: string;
  caDir: string;
}

/**
 * Creates, unattended and idempotently: the SoftHSM2 config and token folder, a random user PIN in the
 * PIN file (0600), the token, the institution key and the terminal key, the mock 特定機関 CA and the
 * institution certificate. Only for a profile whose HSM is a SoftHSM2 store under the data folder.
 */
export async function ensureDemoHsm(
  config: Pick<KioskConfig, 'hsm' | 'data'>,
  now = new Date(),
): Promise<DemoHsmResult> {
  const conf = config.hsm.softhsmConf;
  if (!conf) throw new KioskError('CONFIG_INVALID', 'demo provisioning needs hsm.softhsmConf');
  return withProvisioningLock(`${conf}.lock`, () => provisionDemoHsm(config, now));
}

async function provisionDemoHsm(
  config: Pick<KioskConfig, 'hsm' | 'data'>,
  now: Date,
): Promise<DemoHsmResult> {
  const h = config.hsm;
  if (!h.softhsmConf || !h.tokenLabel || !h.certificatePath || !('file' in h.userPin))
    throw new KioskError(
      'CONFIG_INVALID',
      'demo provisioning needs hsm.softhsmConf, hsm.tokenLabel, hsm.certificatePath and a file for hsm.userPin',
    );
  const actions = await ensureSoftHsmToken(h);

  const hsm = hsmFromConfig(config, { retry: { baseMs: 60_000, capMs: 60_000 } });
  try {
    await hsm.start();
    if (hsm.state !== 'ready') throw toKioskError(hsm.status().error ?? 'HSM unavailable', 'HSM_UNAVAILABLE');
    const institution = await ensureKey(hsm, h.keyLabel, actions);
    await ensureKey(hsm, TERMINAL_KEY_LABEL, actions);

    const caDir = demoInstitutionCaDir(config);
    const hadCa = existsSync(join(caDir, 'ca.json'));
    const ca = ensureMockCa(caDir, DEFAULT_MOCK_CAR);
    if (!hadCa) actions.push(`created the mock 特定機関 CA (TEST) in ${caDir}`);

    let current: Cvc | null = null;
    try {
      current = readInstalledCvc(h);
    } catch {
      current = null;
    }
    const good =
      current !== null &&
      current.car === ca.car &&
      current.chr === h.institutionCode &&
      samePoint(institution.publicPoint, current.publicPoint) &&
      verifyCvcSignature(current, ca.publicPoint) &&
      cvcValidAt(current, new Date(now.getTime() + 30 * DAY));
    if (!good) {
      const cvc = issueInstitutionCvc(ca, {
        chr: h.institutionCode,
        publicPoint: institution.publicPoint!,
        effective: now,
        expiry: new Date(now.getTime() + 365 * DAY),
      });
      mkdirSync(dirname(h.certificatePath), { recursive: true });
      writeFileSync(h.certificatePath, cvc);
      actions.push(`issued the institution certificate for ${h.institutionCode} to ${h.certificatePath}`);
    }
    for (const a of actions) log.info({ action: a }, 'demo hsm');
    return {
      actions,
      tokenLabel: h.tokenLabel,
      institutionCode: h.institutionCode,
      certificatePath: h.certificatePath,
      caDir,
    };
  } finally {
    await hsm.close();
  }
}
