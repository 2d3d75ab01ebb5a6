// Demo provisioning from the demo profile into a temp data folder: unattended, idempotent, secrets
// 0600, and a status report that says plainly when the token is gone. Also the request → issue →
// install path an operator follows with a real 特定機関 CA.
import { mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { run as hsmCli } from '../../main/cli/hsm-command.js';
import { main as cliMain } from '../../main/cli/index.js';
import { loadConfig } from '../../config/load.js';
import { hsmFromConfig, TERMINAL_KEY_LABEL } from '../../hsm/config.js';
import { parseCvc } from '../../hsm/cvc.js';
import { listTokens } from '../../hsm/client.js';
import {
  createCertificateRequest,
  hsmStatus,
  installCertificate,
  verifyCertificateRequest,
} from '../../hsm/provision.js';
import { demoTrustedInstitutionCa, ensureDemoHsm } from '../../main/demo/hsm.js';
import { createMockCa, issueInstitutionCvc, loadMockCa } from '../../sim/institution-ca/ca.js';
import { institutionAuthenticatorFromConfig } from '../../main/core/card/institution-auth.js';

const dataDir = mkdtempSync(join(tmpdir(), 'jpki-hsm-provision-'));
const configFile = join(dataDir, 'kiosk.json');
writeFileSync(configFile, JSON.stringify({ version: 1, profile: 'demo', data: { dir: dataDir } }));
const config = loadConfig({ file: configFile });
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Runs the `hsm` CLI group in process and captures what it prints. */
async function cli(
  args: string[],
  run: (args: string[]) => Promise<number> = hsmCli,
): Promise<{ code: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    return { code: await run(args), out };
  } finally {
    spy.mockRestore();
  }
}

describe('demo HSM provisioning', () => {
  it('provisions everything unattended, then finds nothing to do', async () => {
    expect(config.hsm.softhsmConf).toBe(join(dataDir, 'demo/hsm/softhsm2.conf'));
    // two provisioners at once (kiosk start + a CLI command): one does the work, the other finds it done
    const [first, second] = await Promise.all([ensureDemoHsm(config), ensureDemoHsm(config)]);
    expect(second.actions).toEqual([]);
    const tokens = await listTokens(config.hsm.module, config.hsm.softhsmConf);
    expect(tokens.filter((t) => t.label === 'jpki-kiosk-demo')).toHaveLength(1);
    expect(first.actions.join('\n')).toMatch(/created SoftHSM2 token jpki-kiosk-demo/);
    expect(first.actions.join('\n')).toMatch(/issued the institution certificate for DEMO0001/);
    for (const secret of [join(dataDir, 'demo/hsm/user-pin'), join(dataDir, 'demo/hsm/so-pin')])
      expect(statSync(secret).mode & 0o777).toBe(0o600);
    const again = await ensureDemoHsm(config);
    expect(again.actions).toEqual([]);
    // `jpki-kiosk hsm demo` is the demo build's command, routed by the CLI through the demo extension
    const viaCli = await cli(['--json', '--config', configFile], (a) => cliMain(['hsm', 'demo', ...a]));
    expect(viaCli.code).toBe(0);
    expect(JSON.parse(viaCli.out).actions).toEqual([]);
    // the virtual cards trust the same CA that signed the certificate
    const cvc = parseCvc(readFileSync(config.hsm.certificatePath!));
    expect(cvc.car).toBe(demoTrustedInstitutionCa(config).car);
  });

  it('the CLI refuses a second token with the same label and answers usage errors with 2', async () => {
    const soPin = join(dataDir, 'so-pin-cli');
    await expect(
      hsmCli(['init-token', '--so-pin-file', soPin, '--config', configFile]),
    ).rejects.toMatchObject({
      code: 'HSM_FAILED',
      message: expect.stringMatching(/already exists/),
    });
    expect(statSync(soPin).mode & 0o777).toBe(0o600);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await hsmCli([])).toBe(2);
      expect(await hsmCli(['nonsense', '--config', configFile])).toBe(2);
      expect(await hsmCli(['install-cert', '--config', configFile])).toBe(2);
    } finally {
      stderr.mockRestore();
    }
  });

  it('status reports token, keys and certificate validity', async () => {
    const report = await hsmStatus(config);
    expect(report).toMatchObject({
      ok: true,
      state: 'ready',
      token: { label: 'jpki-kiosk-demo', present: true },
      institutionCode: 'DEMO0001',
      certificate: {
        present: true,
        valid: true,
        holder: 'DEMO0001',
        matchesKey: true,
        matchesInstitutionCode: true,
      },
    });
    expect(report.keys.map((k) => [k.label, k.present, k.sensitive, k.extractable])).toEqual([
      ['institution-key', true, true, false],
      [TERMINAL_KEY_LABEL, true, true, false],
    ]);
    // a year from now the certificate has expired
    const later = await hsmStatus(config, new Date(Date.now() + 400 * 24 * 3600 * 1000));
    expect(later.ok).toBe(false);
    expect(later.certificate.valid).toBe(false);
  });

  it('reissues a certificate that no longer matches (wrong holder), leaving keys alone', async () => {
    const ca = loadMockCa(join(dataDir, 'demo/institution-ca'));
    const hsm = hsmFromConfig(config);
    await hsm.start();
    const point = (await hsm.keyInfo('institution-key')).publicPoint!;
    await hsm.close();
    writeFileSync(
      config.hsm.certificatePath!,
      issueInstitutionCvc(ca, { chr: 'OTHER001', publicPoint: point }),
    );
    expect((await hsmStatus(config)).problems.map((p) => p.message).join()).toMatch(/is for OTHER001/);
    const fixed = await ensureDemoHsm(config);
    expect(fixed.actions).toEqual([expect.stringMatching(/issued the institution certificate/)]);
    expect((await hsmStatus(config)).ok).toBe(true);
  });

  it('request → issue → install, and refusals for a foreign key, another holder or another CA', async () => {
    const hsm = hsmFromConfig(config);
    await hsm.start();
    try {
      const request = await createCertificateRequest(hsm, config.hsm);
      const req = verifyCertificateRequest(request);
      expect(req.chr).toBe('DEMO0001');
      const tampered = Uint8Array.from(request);
      tampered[tampered.length - 1]! ^= 1;
      expect(() => verifyCertificateRequest(tampered)).toThrow(/self-signature/);

      const ca = loadMockCa(join(dataDir, 'demo/institution-ca'));
      const dir = join(dataDir, 'incoming');
      mkdirSync(dir);
      const write = (name: string, bytes: Uint8Array) => {
        writeFileSync(join(dir, name), bytes);
        return join(dir, name);
      };
      const issued = write('ok.cvc', issueInstitutionCvc(ca, { chr: req.chr, publicPoint: req.publicPoint }));
      const installed = await installCertificate(hsm, config.hsm, issued, { ca });
      expect(installed.chr).toBe('DEMO0001');

      const foreignKey = createMockCa('X').publicPoint;
      const cases: [string, Uint8Array, RegExp][] = [
        ['foreign.cvc', issueInstitutionCvc(ca, { chr: 'DEMO0001', publicPoint: foreignKey }), /another key/],
        [
          'holder.cvc',
          issueInstitutionCvc(ca, { chr: 'DEMO0002', publicPoint: req.publicPoint }),
          /is for DEMO0002/,
        ],
        [
          'ca.cvc',
          issueInstitutionCvc(createMockCa(ca.car), { chr: 'DEMO0001', publicPoint: req.publicPoint }),
          /not signed by CA/,
        ],
        ['junk.cvc', Uint8Array.from([0x7f, 0x21, 0x01, 0x00]), /not an institution CV certificate/],
      ];
      for (const [name, bytes, message] of cases) {
        await expect(installCertificate(hsm, config.hsm, write(name, bytes), { ca })).rejects.toMatchObject({
          code: 'HSM_CERT_INVALID',
          message: expect.stringMatching(message),
        });
      }
      // the good certificate is still the installed one
      expect(Buffer.from(parseCvc(readFileSync(config.hsm.certificatePath!)).publicPoint)).toEqual(
        Buffer.from(req.publicPoint),
      );
      await expect(institutionAuthenticatorFromConfig(config, hsm)).resolves.toMatchObject({
        method: 'institution-cvc/2',
      });
      // the terminal refuses to start PIN-less with a certificate that cannot work
      const otherCode = { hsm: { ...config.hsm, institutionCode: 'DEMO0002' } };
      await expect(institutionAuthenticatorFromConfig(otherCode, hsm)).rejects.toMatchObject({
        code: 'HSM_CERT_INVALID',
        message: expect.stringMatching(/is for DEMO0001/),
      });
      const later = new Date(Date.now() + 400 * 24 * 3600 * 1000);
      await expect(institutionAuthenticatorFromConfig(config, hsm, later)).rejects.toMatchObject({
        code: 'HSM_CERT_INVALID',
      });
      const otherKey = { hsm: { ...config.hsm, keyLabel: TERMINAL_KEY_LABEL } };
      await expect(institutionAuthenticatorFromConfig(otherKey, hsm)).rejects.toMatchObject({
        code: 'HSM_CERT_INVALID',
        message: expect.stringMatching(/another key/),
      });
      const noKey = { hsm: { ...config.hsm, keyLabel: 'missing-key' } };
      await expect(institutionAuthenticatorFromConfig(noKey, hsm)).rejects.toMatchObject({
        code: 'HSM_KEY_NOT_FOUND',
      });
    } finally {
      await hsm.close();
    }
  });

  it('with the token removed, status says so and is not ok (library and CLI)', async () => {
    const tokens = join(dataDir, 'demo/hsm/tokens');
    const ok = await cli(['status', '--json', '--config', configFile]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.out)).toMatchObject({
      ok: true,
      token: { present: true },
      certificate: { valid: true },
    });
    renameSync(tokens, tokens + '.aside');
    mkdirSync(tokens);
    try {
      const report = await hsmStatus(config);
      expect(report.ok).toBe(false);
      expect(report.token.present).toBe(false);
      expect(report.problems[0]!.code).toMatch(/HSM_TOKEN_NOT_FOUND|HSM_UNAVAILABLE/);
      const gone = await cli(['status', '--json', '--config', configFile]);
      expect(gone.code).toBe(1);
      expect(JSON.parse(gone.out)).toMatchObject({ ok: false, token: { present: false } });
      const text = await cli(['status', '--config', configFile]);
      expect(text.out).toMatch(/token\s+NOT PRESENT \(jpki-kiosk-demo\)/);
      expect(text.out).toMatch(/status\s+NOT READY/);
    } finally {
      rmSync(tokens, { recursive: true });
      renameSync(tokens + '.aside', tokens);
    }
  });
});
