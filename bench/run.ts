// `npm run bench -- [--json] [--only a,b] [--quick]`
// Each suite runs in its own child process: a process binds one pcscd and one PKCS#11 configuration
// (SoftHSM2 token directory), and one suite's memory or native state must not colour another's figures.
import { parseArgs } from 'node:util';
import { runBenchChild, type Metrics } from './harness.js';
import { suites } from './suites.js';

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      child: { type: 'boolean', default: false },
    },
  });
  const log = (line: string) => process.stderr.write(line + '\n');
  if (values.child) {
    // In the child: one suite, its metrics as the last stdout line (runBenchChild reads it).
    const suite = await suites[positionals[0]!]!();
    process.stdout.write(JSON.stringify(await suite.run({ quick: values.quick, log })) + '\n');
    return 0;
  }
  const selected = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(suites);
  const unknown = selected.filter((name) => !(name in suites));
  if (unknown.length) {
    log(`unknown suite(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`);
    return 2;
  }
  const metrics: Metrics = {};
  const failed: string[] = [];
  for (const name of selected) {
    log(`bench: ${name} …`);
    try {
      const args = [name, ...(values.quick ? ['--quick'] : [])];
      Object.assign(
        metrics,
        await runBenchChild<Metrics>(import.meta.url, args, `bench suite ${name}`, { forwardStderr: true }),
      );
    } catch (error) {
      // The other suites' figures still count; the exit code says something is missing.
      failed.push(name);
      log(`bench: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  const rounded = Object.fromEntries(
    Object.entries(metrics).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 1000) / 1000 : v]),
  );
  if (values.json) process.stdout.write(JSON.stringify(rounded) + '\n');
  else for (const [k, v] of Object.entries(rounded)) process.stdout.write(`${k.padEnd(48)} ${v}\n`);
  return failed.length ? 1 : 0;
}

process.exitCode = await main();
