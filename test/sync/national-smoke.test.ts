// The national benchmark (bench/national.ts) at a smoke size, through the same path as the full run:
// the hub imports cards with publishWhitelist and builds the snapshot in one process, `hub serve` serves it
// over HTTP from another, a terminal process pulls, verifies and installs it, then looks cards up. The
// steps run from a bundle of bench/national-steps.ts (the bench runs them from dist/). No timing target
// here: the figures belong to `npm run bench -- --json --only national`. Both ways of filling the hub run:
// the operator's import and the direct load the full-size run uses.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { endToEnd } from '../../bench/national.js';

describe('national benchmark, smoke size', () => {
  const root = mkdtempSync(join(tmpdir(), 'jpki-national-smoke-'));
  // The bundle lives inside the project (var/ is generated at run time): it finds the project's packages
  // and root from there, as dist/ does.
  const var_ = resolve(import.meta.dirname, '../../var');
  mkdirSync(var_, { recursive: true });
  const bundleDir = mkdtempSync(join(var_, 'national-smoke-'));
  afterAll(() => {
    rmSync(root, { recursive: true, force: true });
    rmSync(bundleDir, { recursive: true, force: true });
  });

  const bundle = () => {
    // The steps and the direct load's worker, each one file beside the other (as in dist/).
    buildSync({
      entryPoints: ['national-steps', 'national-rows-worker'].map((f) =>
        resolve(import.meta.dirname, `../../bench/${f}.ts`),
      ),
      bundle: true,
      platform: 'node',
      format: 'cjs',
      packages: 'external',
      outdir: bundleDir,
      outExtension: { '.js': '.cjs' },
      logLevel: 'error',
      define: { 'import.meta.url': '__bundleUrl' },
      banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
    });
    return join(bundleDir, 'national-steps.cjs');
  };

  it.each([
    ['imported through publishWhitelist', false],
    ['written directly by the sealing workers', true],
  ])(
    'hub state %s: built, served, installed whole on the terminal, which finds a card that is there and not one that is not',
    async (_how, direct) => {
      const script = bundle();
      const rows = 3_000;
      const samples = 200;
      const r = await endToEnd(
        { script },
        join(root, `run-${direct}`),
        rows,
        samples,
        () => undefined,
        direct,
      );
      expect(r.terminal.rows).toBe(rows);
      expect(r.terminal.hit.found).toBe(samples);
      expect(r.terminal.miss.found).toBe(0);
      expect(r.terminal.rawHit.found).toBe(samples);
      expect(r.terminal.rawMiss.found).toBe(0);
      expect(r.hub.wireBytes).toBeGreaterThan(0);
      expect(r.terminal.fileBytes).toBeGreaterThan(0);
      expect(r.terminal.installMaxRssMb).toBeGreaterThan(0);
    },
    180_000,
  );
});
