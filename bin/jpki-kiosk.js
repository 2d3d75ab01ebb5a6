#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run setup` (or `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/main/cli/index.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('jpki-kiosk: not built yet; run `npm run setup` in the repository first\n');
  process.exit(2);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
