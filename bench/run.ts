// `npm run bench -- [--json] [--only a,b] [--quick]`
import { parseArgs } from 'node:util';
import type { Metrics } from './harness.js';
import { suites } from './suites.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      json: { type: 'boolean', default: false },
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
    },
  });
  const selected = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(suites);
  const unknown = selected.filter((name) => !(name in suites));
  if (unknown.length) {
    process.stderr.write(
      `unknown suite(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}\n`,
    );
    return 2;
  }
  const metrics: Metrics = {};
  const log = (line: string) => process.stderr.write(line + '\n');
  for (const name of selected) {
    log(`bench: ${name} …`);
    const suite = await suites[name]!();
    Object.assign(metrics, await suite.run({ quick: values.quick, log }));
  }
  const rounded = Object.fromEntries(
    Object.entries(metrics).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 1000) / 1000 : v]),
  );
  if (values.json) process.stdout.write(JSON.stringify(rounded) + '\n');
  else for (const [k, v] of Object.entries(rounded)) process.stdout.write(`${k.padEnd(48)} ${v}\n`);
  return 0;
}

process.exitCode = await main();
