// Packaging invariants of electron-builder.yml, checked against electron-builder's own JSON schema, and
// the demo's absence from the package: no simulator, no demo composition, yet every module the Electron
// entries import ships (so the packaged app starts), and a demo profile there is a typed error.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isKioskError } from '../../base/errors.js';
import { projectRoot } from '../../config/paths.js';
import { loadConfig } from '../../config/load.js';
import { requireDemoExtension } from '../../main/extension.js';

const require = createRequire(import.meta.url);
const yaml = require('js-yaml') as { load(text: string): unknown };
// electron-builder matches `files` with minimatch; so does this test.
const { minimatch } = require('minimatch') as {
  minimatch(path: string, pattern: string, options?: { dot?: boolean }): boolean;
};
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
    for (const native of ['better-sqlite3', 'pcsclite', 'node-hid', 'pkcs11js']) {
      expect(pkg.dependencies[native], `${native} is a runtime dependency`).toBeDefined();
      expect(
        config.asarUnpack.some((p) => p.includes(`/${native}/`)),
        `${native} unpacked`,
      ).toBe(true);
    }
    expect(config.asarUnpack).toContain('**/*.node');
    // and nothing is unpacked for a module the app does not depend on
    for (const entry of config.asarUnpack) {
      const module = /node_modules\/([^/]+)\//.exec(entry)?.[1];
      if (module) expect(pkg.dependencies[module], `${module} unpacked but not a dependency`).toBeDefined();
    }
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

/** Whether electron-builder's `files` ships `path` (relative to the project): some pattern includes it, no '!' pattern excludes it. */
function ships(path: string): boolean {
  const included = config.files
    .filter((p) => !p.startsWith('!'))
    .some((p) => minimatch(path, p, { dot: true }));
  const excluded = config.files
    .filter((p) => p.startsWith('!'))
    .some((p) => minimatch(path, p.slice(1), { dot: true }));
  return included && !excluded;
}

/** Relative module specifiers a source file loads at run time (type-only imports are erased). */
function runtimeImports(source: string): string[] {
  const specifiers: string[] = [];
  const statement = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"](\.[^'"]+)['"]/gm;
  const dynamic = /\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g;
  for (const m of source.matchAll(statement)) specifiers.push(m[1]!);
  for (const m of source.matchAll(dynamic)) specifiers.push(m[1]!);
  return specifiers;
}

/** The source (.ts/.cts) behind a compiled specifier, and the dist path it compiles to. */
function sourceOf(fromFile: string, specifier: string): string {
  const target = resolve(dirname(fromFile), specifier);
  for (const candidate of [target.replace(/\.js$/, '.ts'), target.replace(/\.cjs$/, '.cts'), target])
    if (existsSync(candidate)) return candidate;
  throw new Error(`${relative(root, fromFile)} imports ${specifier}, which does not exist`);
}

const root = projectRoot();
const distPath = (source: string) =>
  join('dist', relative(root, source))
    .replace(/\.ts$/, '.js')
    .replace(/\.cts$/, '.cjs');

/** Every project module the Electron entries load, followed through static and literal dynamic imports. */
function electronClosure(): Set<string> {
  const entries = ['main/electron/main.ts', 'main/electron/core-host.ts', 'main/electron/preload.cts'];
  const seen = new Set<string>();
  const queue = entries.map((e) => join(root, e));
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    for (const specifier of runtimeImports(readFileSync(file, 'utf8'))) queue.push(sourceOf(file, specifier));
  }
  return seen;
}

describe('the package has no demo', () => {
  it('ships neither the simulator nor the demo composition', () => {
    expect(config.files).not.toContain('dist/sim/**/*');
    for (const demoFile of [
      'dist/sim/card/simulated-card.js',
      'dist/sim/hid/index.js',
      'dist/sim/institution-ca/ca.js',
      'dist/main/demo/entry.js',
      'dist/main/demo/compose.js',
      'dist/main/demo/hid.js',
    ])
      expect(ships(demoFile), demoFile).toBe(false);
    // nor the demo profile (demo wallet, test CA, software gate); the site profiles ship
    expect(ships('config/profiles/demo.json')).toBe(false);
    for (const profile of ['stadium-gate', 'hospital-reception', 'shelter', 'convenience-kiosk'])
      expect(ships(`config/profiles/${profile}.json`), profile).toBe(true);
    // while the product around them does ship
    for (const productFile of ['dist/main/compose.js', 'dist/main/extension.js', 'dist/hsm/provision.js'])
      expect(ships(productFile), productFile).toBe(true);
  });

  it('ships every module the Electron entries load, and none of them is demo or simulator code', () => {
    const closure = [...electronClosure()];
    expect(closure.length).toBeGreaterThan(20);
    for (const source of closure) {
      const shipped = distPath(source);
      expect(ships(shipped), `${shipped} is loaded by the Electron app but not packaged`).toBe(true);
      expect(shipped).not.toMatch(/^dist\/(sim|main\/demo)\//);
    }
  });

  it('a packaged build refuses the demo profile before it looks for the demo build', () => {
    expect(() => loadConfig({ profile: 'demo', env: {}, packaged: true })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', message: expect.stringContaining('key profile') }),
    );
  });

  it('a demo profile in a build without the demo is a typed configuration error that names it', async () => {
    const missing = new URL('./no-demo-here/entry.js', import.meta.url);
    await expect(requireDemoExtension(missing)).rejects.toSatisfy(
      (e: Error) => isKioskError(e, 'CONFIG_INVALID') && /demo build/.test(e.message),
    );
  });
});
