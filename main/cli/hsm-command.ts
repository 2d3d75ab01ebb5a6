// `jpki-kiosk hsm …`: provisioning and status of the terminal's PKCS#11 token (docs/hsm.md).
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig, type KioskConfig } from '../../config/load.js';
import { ProfileNames, type ProfileName } from '../../config/schema.js';
import { readSecret } from '../../config/secrets.js';
import { KioskError } from '../../base/errors.js';
import { initToken, type KeyKind } from '../../hsm/client.js';
import { hsmFromConfig, TERMINAL_KEY_LABEL } from '../../hsm/config.js';
import {
  createCertificateRequest,
  ensureSecretFile,
  ensureSoftHsmConf,
  hsmStatus,
  installCertificate,
  type HsmStatusReport,
} from '../../hsm/provision.js';
import { loadTrustedCa } from '../../hsm/trusted-ca.js';

const USAGE = `usage: jpki-kiosk hsm <command> [--config FILE] [--profile NAME] [--json]

  status                       module, token, keys, institution code and certificate validity
                               (exit 1 when anything is missing or invalid)
  init-token --so-pin-file F   create the SoftHSM2 token named by hsm.tokenLabel (development);
                               the SO PIN file is created (random, 0600) if it does not exist
  generate-key [--label L] [--kind ec-p256|rsa-2048]
                               generate a key in the token (default: hsm.keyLabel; also '${TERMINAL_KEY_LABEL}')
  export-public [--label L]    the public key as PEM (SubjectPublicKeyInfo)
  export-request --out F       a self-signed certificate request for the institution key (binary CVC)
  install-cert FILE [--ca DIR] check an issued institution certificate against the token and config,
                               then install it at hsm.certificatePath (--ca: verify its CA signature)
  audit [--label L]            try every PKCS#11 way to export the private key; all must be refused`;

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? JSON.stringify(value, null, 2) + '\n' : text + '\n');
}

function statusText(r: HsmStatusReport): string {
  const lines = [
    `module      ${r.module.path}${r.module.library ? ` (${r.module.library})` : ''}`,
    `token       ${r.token.present ? `${r.token.label} serial ${r.token.serial}` : `NOT PRESENT (${r.token.label ?? r.token.serial})`}`,
    ...r.keys.map(
      (k) =>
        `key         ${k.label}: ${k.present ? `${k.kind}, ${k.sensitive ? 'sensitive' : 'NOT sensitive'}, ${k.extractable ? 'EXTRACTABLE' : 'non-extractable'}` : 'MISSING'}`,
    ),
    `institution ${r.institutionCode}`,
    `certificate ${
      r.certificate.present
        ? `${r.certificate.holder ?? '?'} by ${r.certificate.authority ?? '?'}, ${r.certificate.effective} to ${r.certificate.expiry} (${r.certificate.valid ? `valid, ${r.certificate.daysLeft} days left` : 'NOT VALID'})`
        : 'MISSING'
    }`,
    ...r.problems.map((p) => `problem     ${p.code}: ${p.message}`),
    r.ok ? 'status      ok' : 'status      NOT READY',
  ];
  return lines.join('\n');
}

async function withHsm<T>(
  config: KioskConfig,
  fn: (hsm: ReturnType<typeof hsmFromConfig>) => Promise<T>,
): Promise<T> {
  const hsm = hsmFromConfig(config, { retry: { baseMs: 60_000, capMs: 60_000 } });
  try {
    await hsm.start();
    if (hsm.state !== 'ready') {
      const e = hsm.status().error;
      throw new KioskError(e?.code ?? 'HSM_UNAVAILABLE', e?.message ?? 'HSM unavailable');
    }
    return await fn(hsm);
  } finally {
    await hsm.close();
  }
}

export async function run(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      config: { type: 'string' },
      profile: { type: 'string' },
      json: { type: 'boolean', default: false },
      label: { type: 'string' },
      kind: { type: 'string' },
      out: { type: 'string' },
      ca: { type: 'string' },
      'so-pin-file': { type: 'string' },
    },
  });
  const [command, ...rest] = positionals;
  const profile = values.profile as ProfileName | undefined;
  if (!command || (profile && !ProfileNames.includes(profile))) {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  const config = loadConfig({ file: values.config ?? null, ...(profile ? { profile } : {}) });
  const json = values.json;

  switch (command) {
    case 'status': {
      const report = await hsmStatus(config);
      print(json, report, statusText(report));
      return report.ok ? 0 : 1;
    }
    case 'init-token': {
      const soPinFile = values['so-pin-file'];
      if (!soPinFile || !config.hsm.tokenLabel) {
        process.stderr.write('init-token needs --so-pin-file and hsm.tokenLabel\n');
        return 2;
      }
      if (config.hsm.softhsmConf) ensureSoftHsmConf(config.hsm.softhsmConf);
      if ('file' in config.hsm.userPin) ensureSecretFile(config.hsm.userPin.file);
      ensureSecretFile(soPinFile);
      const token = await initToken(
        config.hsm.module,
        config.hsm.softhsmConf,
        config.hsm.tokenLabel,
        readSecret({ file: soPinFile }, 'HSM SO PIN'),
        readSecret(config.hsm.userPin, 'HSM user PIN'),
      );
      print(json, token, `created token ${token.label} serial ${token.serial}`);
      return 0;
    }
    case 'generate-key': {
      const label = values.label ?? config.hsm.keyLabel;
      const kind = (values.kind ?? 'ec-p256') as KeyKind;
      if (kind !== 'ec-p256' && kind !== 'rsa-2048') {
        process.stderr.write('--kind is ec-p256 or rsa-2048\n');
        return 2;
      }
      const info = await withHsm(config, (hsm) => hsm.generateKey(label, kind));
      print(
        json,
        { label, kind: info.kind, sensitive: info.sensitive, extractable: info.extractable },
        `generated ${kind} key ${label}`,
      );
      return 0;
    }
    case 'export-public': {
      const label = values.label ?? config.hsm.keyLabel;
      const pub = await withHsm(config, (hsm) => hsm.publicKey(label));
      print(json, { label, kind: pub.kind, pem: pub.pem }, pub.pem.trimEnd());
      return 0;
    }
    case 'export-request': {
      if (!values.out) {
        process.stderr.write('export-request needs --out FILE\n');
        return 2;
      }
      const request = await withHsm(config, (hsm) => createCertificateRequest(hsm, config.hsm));
      writeFileSync(values.out, request);
      print(
        json,
        { out: values.out, bytes: request.length },
        `wrote a ${request.length}-byte request to ${values.out}`,
      );
      return 0;
    }
    case 'install-cert': {
      const file = rest[0];
      if (!file) {
        process.stderr.write('install-cert needs the certificate file\n');
        return 2;
      }
      const ca = values.ca ? loadTrustedCa(values.ca) : undefined;
      const cvc = await withHsm(config, (hsm) => installCertificate(hsm, config.hsm, file, ca ? { ca } : {}));
      const summary = {
        installed: config.hsm.certificatePath,
        holder: cvc.chr,
        authority: cvc.car,
        expiry: cvc.expiry.toISOString().slice(0, 10),
      };
      print(
        json,
        summary,
        `installed the certificate of ${cvc.chr} (by ${cvc.car}, until ${summary.expiry})`,
      );
      return 0;
    }
    case 'audit': {
      const label = values.label ?? config.hsm.keyLabel;
      const attempts = await withHsm(config, (hsm) => hsm.auditExtraction(label));
      const leaked = attempts.some((a) => a.leaked);
      print(json, { label, attempts, leaked }, attempts.map((a) => `${a.attempt}: ${a.outcome}`).join('\n'));
      return leaked ? 1 : 0;
    }
    default:
      process.stderr.write(USAGE + '\n');
      return 2;
  }
}

/** What `jpki-kiosk hsm --help` prints (main/cli/index.ts answers --help for every command). */
export const usage = USAGE;
