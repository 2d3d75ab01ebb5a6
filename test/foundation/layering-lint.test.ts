// The runtime-layering rule must bite: a core file importing electron, or browser code importing Node,
// fails lint. Lints source text at virtual paths with the project's own eslint.config.js.
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';

const eslint = new ESLint({ cwd: process.cwd() });

async function restrictedImportErrors(code: string, filePath: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
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
