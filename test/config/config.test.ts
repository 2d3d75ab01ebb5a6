import { chmodSync, chownSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isKioskError, type KioskError } from '../../base/errors.js';
import { loadConfig } from '../../config/load.js';
import { configFolder } from '../../config/paths.js';
import { ProfileNames } from '../../config/schema.js';
import { readSecret, readSecretFile, readStaffPin } from '../../config/secrets.js';

const dir = mkdtempSync(join(tmpdir(), 'jpki-config-'));
function siteFile(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}
function refusal(fn: () => unknown): KioskError {
  try {
    fn();
  } catch (error) {
    if (isKioskError(error)) return error;
    throw error;
  }
  throw new Error('expected the configuration to be refused');
}

describe('configuration profiles', () => {
  it.each(ProfileNames)('loads the embedded %s profile', (profile) => {
    const config = loadConfig({ profile, env: {} });
    expect(config.source.profile).toBe(profile);
    expect(config.trust.anchors.length).toBeGreaterThan(0);
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.site)).toBe(true);
  });

  it('trusts the real J-LIS CAs in site profiles and only the mock CA in the demo', () => {
    const gate = loadConfig({ profile: 'stadium-gate', env: {} });
    expect(gate.trust.anchors).toEqual([
      join(configFolder(), 'trust/jlis-auth-ca-2015.pem'),
      join(configFolder(), 'trust/jlis-auth-ca-2023.pem'),
    ]);
    expect(gate.trust.allowTestCa).toBe(false);
    const demo = loadConfig({ profile: 'demo', env: {} });
    expect(demo.trust.anchors).toHaveLength(1);
    expect(demo.trust.anchors[0]).toMatch(/var\/demo\/pki\/auth-ca\.pem$/);
    expect(demo.trust.allowTestCa).toBe(true);
  });

  it('merges a site file over its profile and resolves relative paths from the file', () => {
    const file = siteFile('gate.json', {
      version: 1,
      profile: 'stadium-gate',
      site: { gateId: 'west-3' },
      data: { dir: './data' },
    });
    const config = loadConfig({ file, env: {} });
    expect(config.site.gateId).toBe('west-3');
    expect(config.site.kind).toBe('stadium-gate');
    expect(config.data.dir).toBe(join(dir, 'data'));
    expect(config.revocation.stalePolicy).toBe('degraded');
  });

  it('lets a site replace a secret reference of its profile (file → environment)', () => {
    const file = siteFile('secret-env.json', {
      version: 1,
      profile: 'demo',
      hsm: { userPin: { env: 'HSM_PIN' } },
    });
    expect(loadConfig({ file, env: {} }).hsm.userPin).toEqual({ env: 'HSM_PIN' });
  });

  it('reads the file named by JPKI_CONFIG, but not in a packaged build', () => {
    const file = siteFile('env.json', { version: 1, profile: 'shelter' });
    expect(loadConfig({ env: { JPKI_CONFIG: file } }).source.profile).toBe('shelter');
    // A packaged kiosk ignores the variable, and with no profile of its own it does not become a demo.
    const packaged = refusal(() => loadConfig({ env: { JPKI_CONFIG: file }, packaged: true }));
    expect(packaged.code).toBe('CONFIG_INVALID');
    expect(packaged.message).toContain('key profile: missing');
  });
});

describe('invalid configuration is refused with the key, the value and what was expected', () => {
  it('a wrong type', () => {
    const error = refusal(() =>
      loadConfig({
        file: siteFile('type.json', { version: 1, profile: 'shelter', card: { settleMs: 'fast' } }),
        env: {},
      }),
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('card.settleMs');
    expect(error.message).toContain('"fast"');
    expect(error.message).toMatch(/expected number/);
  });

  it('an unknown key, nested or at the top', () => {
    const nested = refusal(() =>
      loadConfig({
        file: siteFile('unknown.json', { version: 1, profile: 'shelter', hsm: { modul: 'x' } }),
        env: {},
      }),
    );
    expect(nested.code).toBe('CONFIG_INVALID');
    expect(nested.message).toContain('unknown key hsm.modul');
    const top = refusal(() =>
      loadConfig({
        file: siteFile('unknown2.json', { version: 1, profile: 'shelter', gateway: 1 }),
        env: {},
      }),
    );
    expect(top.message).toContain('unknown key gateway');
  });

  it('a missing required key', () => {
    const error = refusal(() =>
      loadConfig({ file: siteFile('missing.json', { profile: 'shelter', version: null }), env: {} }),
    );
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('key version');
  });

  it('an unknown profile, a file that is not JSON, a file that does not exist', () => {
    expect(
      refusal(() => loadConfig({ file: siteFile('p.json', { version: 1, profile: 'arena' }), env: {} }))
        .message,
    ).toContain('key profile');
    expect(refusal(() => loadConfig({ file: siteFile('bad.json', '{ version: 1'), env: {} })).code).toBe(
      'CONFIG_INVALID',
    );
    expect(refusal(() => loadConfig({ file: join(dir, 'nope.json'), env: {} })).code).toBe(
      'CONFIG_NOT_FOUND',
    );
  });

  it('a site profile that tries to trust a test CA', () => {
    const file = siteFile('testca.json', {
      version: 1,
      profile: 'hospital-reception',
      trust: { allowTestCa: true },
    });
    expect(refusal(() => loadConfig({ file, env: {} })).message).toContain('trust.allowTestCa');
  });

  it('a secret written into the main file instead of a reference', () => {
    const file = siteFile('pin.json', { version: 1, profile: 'shelter', hsm: { userPin: '123456' } });
    const error = refusal(() => loadConfig({ file, env: {} }));
    expect(error.message).toContain('hsm.userPin');
  });
});

describe('sync transport', () => {
  const hub = (profile: string, hubUrl: string, extra: object = {}) =>
    siteFile(`hub-${profile}-${encodeURIComponent(hubUrl)}.json`, {
      version: 1,
      profile,
      sync: { enabled: true, hubUrl, ...extra },
    });

  it('refuses plain http: to a hub on the network outside the demo profile, naming the key', () => {
    for (const url of [
      'http://hub.example:8630',
      'http://10.0.0.5:8630',
      'http://[fe80::1]:8630',
      'ftp://hub.example',
    ]) {
      const error = refusal(() => loadConfig({ file: hub('stadium-gate', url), env: {} }));
      expect(error.code, url).toBe('CONFIG_INVALID');
      expect(error.message, url).toContain('sync.hubUrl');
      expect(error.detail, url).toMatchObject({ key: 'sync.hubUrl' });
    }
  });

  it('allows https: anywhere, http: to loopback, and http: anywhere in the demo', () => {
    for (const url of [
      'https://hub.example',
      'http://127.0.0.1:8630',
      'http://127.8.9.10:8630',
      'http://[::1]:8630',
      'http://localhost:8630',
    ])
      expect(loadConfig({ file: hub('shelter', url), env: {} }).sync.hubUrl).toBe(url);
    expect(loadConfig({ file: hub('demo', 'http://10.0.0.5:8630'), env: {} }).sync.hubUrl).toBe(
      'http://10.0.0.5:8630',
    );
  });

  it('holds every fail-over hub in sync.hubUrls to the same rule, naming the entry', () => {
    const error = refusal(() =>
      loadConfig({
        file: hub('stadium-gate', 'https://venue.example', {
          hubUrls: ['https://hub.example', 'http://10.0.0.5'],
        }),
        env: {},
      }),
    );
    expect(error.detail).toMatchObject({ key: 'sync.hubUrls.1' });
    const ok = loadConfig({
      file: hub('stadium-gate', 'https://venue.example', { hubUrls: ['https://hub.example'] }),
      env: {},
    });
    expect(ok.sync).toMatchObject({ hubUrls: ['https://hub.example'], contentAddressed: true });
  });

  it('resolves sync.caFile from the site file and refuses one that is missing or not a certificate', () => {
    const ca = siteFile('private-ca.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
    const ok = loadConfig({
      file: hub('stadium-gate', 'https://hub.example', { caFile: './private-ca.pem' }),
      env: {},
    });
    expect(ok.sync.caFile).toBe(ca);
    const missing = refusal(() =>
      loadConfig({ file: hub('stadium-gate', 'https://hub.example', { caFile: './nowhere.pem' }), env: {} }),
    );
    expect(missing.code).toBe('CONFIG_INVALID');
    expect(missing.detail).toMatchObject({ key: 'sync.caFile' });
    siteFile('not-a-cert.pem', 'hello');
    const notPem = refusal(() =>
      loadConfig({
        file: hub('stadium-gate', 'https://hub.example', { caFile: './not-a-cert.pem' }),
        env: {},
      }),
    );
    expect(notPem.message).toContain('sync.caFile');
  });
});

describe('secrets', () => {
  it('come from the environment', () => {
    expect(readSecret({ env: 'HSM_PIN' }, 'HSM user PIN', { HSM_PIN: '987654' })).toBe('987654');
    expect(refusal(() => readSecret({ env: 'HSM_PIN' }, 'HSM user PIN', {})).code).toBe('SECRET_MISSING');
  });

  it('come from an owner-only file, without its trailing newline', () => {
    const file = siteFile('pin-ok', '24680\n');
    chmodSync(file, 0o600);
    expect(readSecret({ file }, 'HSM user PIN')).toBe('24680');
  });

  it('refuse a world-readable file without revealing its content', () => {
    const file = siteFile('pin-open', 'topsecret');
    chmodSync(file, 0o644);
    const error = refusal(() => readSecret({ file }, 'HSM user PIN'));
    expect(error.code).toBe('SECRET_INSECURE');
    expect(error.message).toContain('644');
    expect(error.message).not.toContain('topsecret');
  });

  it('refuse a group-writable file and a missing one', () => {
    const file = siteFile('pin-gw', '1');
    chmodSync(file, 0o620);
    expect(refusal(() => readSecret({ file }, 'PIN')).code).toBe('SECRET_INSECURE');
    expect(refusal(() => readSecret({ file: join(dir, 'absent') }, 'PIN')).code).toBe('SECRET_MISSING');
  });
});

describe('production cannot become a demo', () => {
  it('a site file without a profile is refused, naming the key; only a checkout with no file runs the demo', () => {
    const file = siteFile('no-profile.json', { version: 1, site: { siteId: 'x' } });
    const error = refusal(() => loadConfig({ file, env: {} }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toMatch(/key profile: missing/);
    expect(loadConfig({ env: {} }).source.profile).toBe('demo');
    expect(loadConfig({ env: { JPKI_CONFIG: '' } }).source.profile).toBe('demo');
  });

  it('a packaged kiosk refuses the demo profile, from its file or asked for', () => {
    const file = siteFile('packaged-demo.json', { version: 1, profile: 'demo' });
    for (const options of [{ file }, { profile: 'demo' as const }]) {
      const error = refusal(() => loadConfig({ ...options, env: {}, packaged: true }));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toContain('key profile: found "demo"');
    }
    expect(loadConfig({ profile: 'shelter', env: {}, packaged: true }).source.profile).toBe('shelter');
  });
});

describe('staff PIN length', () => {
  const withPin = (profile: string, pin: string) =>
    siteFile(`staff-${profile}-${pin.length}.json`, {
      version: 1,
      profile,
      ui: { staffPin: { env: 'STAFF_PIN' } },
    });

  it('outside the demo a staff PIN shorter than six digits is a configuration error naming ui.staffPin', () => {
    for (const pin of ['2468', '13579']) {
      const error = refusal(() => loadConfig({ file: withPin('shelter', pin), env: { STAFF_PIN: pin } }));
      expect(error.code).toBe('CONFIG_INVALID');
      expect(error.message).toContain('key ui.staffPin');
      expect(error.message).toContain('6 to 12 digits');
      expect(error.message).not.toContain(pin);
    }
    expect(
      loadConfig({ file: withPin('shelter', '246813'), env: { STAFF_PIN: '246813' } }).source.profile,
    ).toBe('shelter');
    expect(loadConfig({ file: withPin('demo', '2468'), env: { STAFF_PIN: '2468' } }).source.profile).toBe(
      'demo',
    );
  });

  it('a short PIN that was not readable at load is refused when staff first use it', () => {
    const config = loadConfig({ file: withPin('stadium-gate', '1357'), env: {} });
    const error = refusal(() => readStaffPin(config, { STAFF_PIN: '1357' }));
    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.message).toContain('key ui.staffPin');
    expect(readStaffPin(config, { STAFF_PIN: '135790' })).toBe('135790');
  });
});

describe('secret and trust files', () => {
  it('a group-readable secret file is refused (0640), naming the file and the fix', () => {
    const file = siteFile('pin-group', '246813');
    chmodSync(file, 0o640);
    const error = refusal(() => readSecret({ file }, 'HSM user PIN'));
    expect(error.code).toBe('SECRET_INSECURE');
    expect(error.message).toContain(file);
    expect(error.message).toContain(`chmod 600 ${file}`);
  });

  it.runIf(process.getuid?.() === 0)('a secret file owned by another user is refused, naming the fix', () => {
    const file = siteFile('pin-other-owner', '246813');
    chmodSync(file, 0o600);
    chownSync(file, 4321, 4321);
    const error = refusal(() => readSecretFile(file, 'hub key'));
    expect(error.code).toBe('SECRET_INSECURE');
    expect(error.message).toContain('uid 4321');
    expect(error.message).toContain(`chown ${process.getuid!()} ${file}`);
  });

  it('a group- or world-writable trust anchor or pinned hub root stops the configuration', () => {
    const anchor = siteFile(
      'anchor.pem',
      readFileSync(join(configFolder(), 'trust/jlis-auth-ca-2015.pem'), 'utf8'),
    );
    const root = siteFile('root.json', '{}');
    chmodSync(root, 0o644);
    for (const [key, target, extra] of [
      ['trust.anchors', anchor, { trust: { anchors: [anchor] } }],
      ['sync.rootPath', root, { sync: { rootPath: root } }],
    ] as const) {
      const file = siteFile(`trust-${key}.json`, { version: 1, profile: 'shelter', ...extra });
      for (const mode of [0o664, 0o646]) {
        chmodSync(target, mode);
        const error = refusal(() => loadConfig({ file, env: {} }));
        expect(error.code).toBe('CONFIG_INVALID');
        expect(error.message).toContain(`key ${key}`);
        expect(error.message).toContain(`chmod go-w ${target}`);
      }
      chmodSync(target, 0o644);
      expect(loadConfig({ file, env: {} }).source.profile).toBe('shelter');
    }
  });
});

describe('kiosk services configuration', () => {
  const service = (provider: string) => ({
    id: 'residence',
    names: { ja: '住民票の写し', en: 'Residence' },
    provider,
  });
  const kiosk = (services: unknown[], url: string) =>
    siteFile(`kiosk-${encodeURIComponent(url)}-${services.length}.json`, {
      version: 1,
      profile: 'convenience-kiosk',
      policy: { kiosk: { services, providers: { city: { url } } } },
    });

  it('the convenience-kiosk profile lists its services with names in Japanese and English, and prints through CUPS', () => {
    const config = loadConfig({ profile: 'convenience-kiosk', env: {} });
    expect(config.policy.kiosk.services.map((s) => s.names.ja)).toContain('住民票の写し');
    expect(config.printing.driver).toBe('cups');
  });

  it('refuses a service naming a provider that is not configured, and plain http: to a provider on the network', () => {
    const unknown = refusal(() =>
      loadConfig({ file: kiosk([service('town')], 'https://city.example/'), env: {} }),
    );
    expect(unknown.code).toBe('CONFIG_INVALID');
    expect(unknown.detail).toMatchObject({ key: 'policy.kiosk.services.0.provider' });
    const plain = refusal(() =>
      loadConfig({ file: kiosk([service('city')], 'http://city.example/'), env: {} }),
    );
    expect(plain.detail).toMatchObject({ key: 'policy.kiosk.providers.city.url' });
    expect(
      loadConfig({ file: kiosk([service('city')], 'http://127.0.0.1:8621/'), env: {} }).policy.kiosk.services,
    ).toHaveLength(1);
  });
});

describe('configuration version upgrades', () => {
  it('a version-1 file still loads (upgraded to the current version); a newer one is refused', async () => {
    const { CONFIG_VERSION } = await import('../../config/upgrade.js');
    const dir = mkdtempSync(join(tmpdir(), 'jpki-config-version-'));
    const v1 = join(dir, 'v1.json');
    writeFileSync(v1, JSON.stringify({ version: 1, profile: 'shelter', site: { siteId: 'hall-3' } }));
    const config = loadConfig({ file: v1, env: {} });
    expect(config.version).toBe(CONFIG_VERSION);
    expect(config.site.siteId).toBe('hall-3');
    const future = join(dir, 'future.json');
    writeFileSync(future, JSON.stringify({ version: CONFIG_VERSION + 1, profile: 'shelter' }));
    expect(() => loadConfig({ file: future, env: {} })).toThrow(/reads configuration up to version/);
  });
});
