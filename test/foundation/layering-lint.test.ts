// The layering rules must bite: a core file importing electron, browser code importing Node, or an import
// against the direction of dependency (product → demo/simulator, stores/HSM/hub → terminal, base → any
// other folder, protocol → anything but base) fails lint. Lints source text at virtual paths in each zone
// with the project's own eslint.config.js, and the real tree, which must be clean.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function restrictedImportErrors(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? [])
    .filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax')
    .map((m) => m.message);
}

describe('runtime layering lint rule', () => {
  it('rejects electron in the terminal core and in every other non-shell folder', async () => {
    for (const file of [
      'main/core/pipeline.ts',
      'hsm/session.ts',
      'whitelist/store.ts',
      'main/browser/server.ts',
      'sim/card/applet.ts',
    ]) {
      const errors = await restrictedImportErrors(
        "import { app } from 'electron';\nexport const a = app;\n",
        file,
      );
      expect(errors, file).toHaveLength(1);
      expect(errors[0]).toContain('Only main/electron/ may import electron');
    }
  });

  it('rejects import() of electron outside the shell too', async () => {
    await expectDynamicRejected(
      'main/core/terminal.ts',
      'electron',
      'Only main/electron/ may import electron',
    );
  });

  it('allows electron in the Electron shell', async () => {
    expect(
      await restrictedImportErrors(
        "import { app } from 'electron';\nexport const a = app;\n",
        'main/electron/main.ts',
      ),
    ).toEqual([]);
  });

  it('rejects Node built-ins, native modules and core imports in the renderer and the API contract', async () => {
    const cases = [
      ["import { readFileSync } from 'node:fs';\nexport const r = readFileSync;\n", 'renderer/src/app.tsx'],
      ["import path from 'path';\nexport const p = path;\n", 'renderer/src/util.ts'],
      ["import Database from 'better-sqlite3';\nexport const d = Database;\n", 'renderer/src/db.ts'],
      ["import { x } from '../../main/core/pipeline.js';\nexport const y = x;\n", 'renderer/src/x.ts'],
      ["import { createHash } from 'node:crypto';\nexport const h = createHash;\n", 'main/api/contract.ts'],
    ] as const;
    for (const [code, file] of cases) {
      expect(await restrictedImportErrors(code, file), file).toHaveLength(1);
    }
  });

  it('lets the renderer import the API contract', async () => {
    expect(
      await restrictedImportErrors(
        "import type { Decision } from '../../base/decision.js';\nexport type D = Decision;\n",
        'renderer/src/x.ts',
      ),
    ).toEqual([]);
  });
});

const use = (specifier: string) => `import { x } from '${specifier}';\nexport const y = x;\n`;
const DEMO = 'never imports the simulator (sim/) or the demo (main/demo/)';
const TERMINAL = 'never import the terminal (main/)';
const BASE = 'base/ is the bottom layer';
const PROTOCOL = 'protocol/ imports only base/';

async function expectRejected(file: string, specifier: string, message: string): Promise<void> {
  const errors = await restrictedImportErrors(use(specifier), file);
  expect(
    errors.some((e) => e.includes(message)),
    `${file} importing ${specifier}: ${errors.join(' | ')}`,
  ).toBe(true);
}

/** The same check for an import() call. */
async function expectDynamicRejected(file: string, specifier: string, message: string): Promise<void> {
  const errors = await restrictedImportErrors(`export const load = () => import('${specifier}');\n`, file);
  expect(
    errors.some((e) => e.includes(message)),
    `${file} calling import('${specifier}'): ${errors.join(' | ')}`,
  ).toBe(true);
}

async function expectAllowed(file: string, specifier: string): Promise<void> {
  expect(await restrictedImportErrors(use(specifier), file), `${file} importing ${specifier}`).toEqual([]);
}

describe('direction-of-dependency lint zones', () => {
  it('the product never imports the simulator or the demo, from any of its folders', async () => {
    const cases = [
      ['main/core/actuators/actuators.ts', '../../../sim/hid/index.js'],
      ['main/compose.ts', './demo/entry.js'],
      ['main/launch.ts', './demo/provision.js'],
      ['main/cli/hsm-command.ts', '../../sim/institution-ca/ca.js'],
      ['main/cli/index.ts', '../demo/sim-command.js'],
      ['main/electron/main.ts', '../demo/entry.js'],
      ['main/browser/server.ts', '../../sim/card/private-pcscd.js'],
      ['main/api/contract.ts', '../demo/wallet.js'],
      ['hsm/provision.ts', '../sim/institution-ca/ca.js'],
      ['whitelist/store.ts', '../main/demo/data.js'],
      ['config/load.ts', '../sim/pki/demo-pki.js'],
      ['hub/server.ts', '../sim/pki/crl.js'],
      ['base/log.ts', '../sim/hid/index.js'],
      ['protocol/frames.ts', '../main/demo/hid.js'],
      ['renderer/src/app.tsx', '../../sim/hid/index.js'],
    ] as const;
    for (const [file, specifier] of cases) await expectRejected(file, specifier, DEMO);
    // import() too, e.g. a composition root loading the demo
    await expectDynamicRejected('main/compose.ts', './demo/index.js', DEMO);
    await expectDynamicRejected('main/core/actuators/actuators.ts', '../../../sim/hid/index.js', DEMO);
  });

  it('the demo, the simulator and the benchmarks may import both the product and the simulator', async () => {
    await expectAllowed('main/demo/hid.ts', '../../sim/hid/index.js');
    await expectAllowed('main/demo/compose.ts', '../core/terminal/index.js');
    await expectAllowed('sim/institution-ca/ca.ts', '../../hsm/cvc.js');
    await expectAllowed('bench/auth.ts', '../main/demo/provision.js');
    // a file merely named demo in the product (the renderer's demo screen) is not the demo folder
    await expectAllowed('renderer/src/app.tsx', './screens/demo.js');
  });

  it('the stores and the HSM never import the terminal', async () => {
    await expectRejected('whitelist/kiosk-data.ts', '../main/core/terminal/index.js', TERMINAL);
    await expectRejected('hsm/provision.ts', '../main/core/card/terminal-auth.js', TERMINAL);
    await expectRejected('config/load.ts', '../main/api/messages.js', TERMINAL);
    await expectDynamicRejected('hsm/provision.ts', '../main/core/terminal/index.js', TERMINAL);
    await expectAllowed('hsm/provision.ts', '../config/load.js');
    await expectAllowed('whitelist/privacy.ts', '../protocol/feed-format.js');
  });

  it('the hub never imports the terminal', async () => {
    await expectRejected('hub/server.ts', '../main/core/sync/client.js', TERMINAL);
    await expectDynamicRejected('hub/server.ts', '../main/core/terminal/index.js', TERMINAL);
    await expectAllowed('hub/publisher.ts', '../whitelist/feed-ops.js');
  });

  it('base/ imports nothing else of the project', async () => {
    await expectRejected('base/supervisor.ts', '../config/load.js', BASE);
    await expectRejected('base/errors.ts', '../protocol/frames.js', BASE);
    await expectRejected('base/log.ts', '../main/core/clock.js', BASE);
    await expectDynamicRejected('base/log.ts', '../config/load.js', BASE);
    await expectAllowed('base/supervisor.ts', './clock.js');
    await expectAllowed('base/log.ts', 'pino');
  });

  it('protocol/ imports only base/', async () => {
    await expectRejected('protocol/feed-format.ts', '../whitelist/privacy.js', PROTOCOL);
    await expectRejected('protocol/sync.ts', '../hsm/client.js', PROTOCOL);
    await expectRejected('protocol/frames.ts', '../main/api/contract.js', PROTOCOL);
    await expectDynamicRejected('protocol/sync.ts', '../whitelist/store.js', PROTOCOL);
    await expectAllowed('protocol/frames.ts', '../base/errors.js');
    await expectAllowed('protocol/sync.ts', './feed-format.js');
  });

  it('the renderer never imports the Node-only logger or the wire protocol', async () => {
    for (const specifier of ['../../base/log.js', '../../protocol/frames.js'])
      expect(await restrictedImportErrors(use(specifier), 'renderer/src/x.ts'), specifier).toHaveLength(1);
  });

  it('the real tree keeps every zone', async () => {
    const results = await eslint.lintFiles([
      'base',
      'protocol',
      'config',
      'hsm',
      'whitelist',
      'hub',
      'main',
      'renderer/src',
      'sim',
    ]);
    const violations = results.flatMap((r) =>
      r.messages
        .filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax')
        .map((m) => `${r.filePath}:${m.line} ${m.message}`),
    );
    expect(violations).toEqual([]);
    expect(results.length).toBeGreaterThan(100);
  });
});
