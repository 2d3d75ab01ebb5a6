// Packaging invariants of electron-builder.yml, checked against electron-builder's own JSON schema.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const require = createRequire(import.meta.url);
const yaml = require('js-yaml') as { load(text: string): unknown };
const Ajv = require('ajv') as new (options: object) => {
  compile(schema: object): ((data: unknown) => boolean) & { errors?: unknown };
};

const config = yaml.load(readFileSync(new URL('../../electron-builder.yml', import.meta.url), 'utf8')) as {
  files: string[];
  asar: boolean;
  asarUnpack: string[];
  npmRebuild: boolean;
  electronFuses: Record<string, boolean>;
  linux: { target: string[] };
  win: { target: string[] };
};
const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  main: string;
  dependencies: Record<string, string>;
};

describe('electron-builder.yml', () => {
  it('is valid for electron-builder (its own configuration schema)', () => {
    const schema = JSON.parse(readFileSync(require.resolve('app-builder-lib/scheme.json'), 'utf8')) as object;
    const validate = new Ajv({ allErrors: true, strict: false }).compile(schema);
    const ok = validate(config);
    expect(validate.errors ?? null, JSON.stringify(validate.errors)).toBeNull();
    expect(ok).toBe(true);
  });

  it('builds AppImage and deb for Linux kiosks and NSIS for Windows', () => {
    expect(config.linux.target).toEqual(expect.arrayContaining(['AppImage', 'deb']));
    expect(config.win.target).toEqual(['nsis']);
  });

  it('sets every fuse, each to its locked-down value', () => {
    expect(config.electronFuses).toEqual({
      runAsNode: false,
      enableCookieEncryption: true,
      enableNodeOptionsEnvironmentVariable: false,
      enableNodeCliInspectArguments: false,
      enableEmbeddedAsarIntegrityValidation: true,
      onlyLoadAppFromAsar: true,
      loadBrowserProcessSpecificV8Snapshot: false,
      grantFileProtocolExtraPrivileges: false,
    });
  });

  it('packs into an asar with every native module unpacked, and rebuilds them for Electron', () => {
    expect(config.asar).toBe(true);
    expect(config.npmRebuild).toBe(true);
    for (const native of ['better-sqlite3', 'pcsclite', 'node-hid', 'pkcs11js', 'graphene-pk11']) {
      expect(pkg.dependencies[native], `${native} is a runtime dependency`).toBeDefined();
      expect(
        config.asarUnpack.some((p) => p.includes(`/${native}/`)),
        `${native} unpacked`,
      ).toBe(true);
    }
    expect(config.asarUnpack).toContain('**/*.node');
  });

  it('ships the Electron entry, the preload, the core host, the renderer and the profiles', () => {
    expect(pkg.main).toBe('dist/main/electron/main.js');
    for (const needed of [
      'dist/main/**/*',
      'dist/renderer/**/*',
      'config/profiles/*.json',
      'config/trust/*.pem',
      'package.json',
    ]) {
      expect(config.files).toContain(needed);
    }
    expect(config.files).toContain('!**/*.map');
  });
});
