// `npm run bench -- [--json] [--only a,b] [--quick]`
// Each suite runs in its own child process: a process binds one pcscd and one PKCS#11 configuration
// (SoftHSM2 token directory), and one suite's memory or native state must not colour another's figures.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { Metrics } from './harness.js';
import { suites } from './suites.js';

const CHILD_FLAG = '--suite-child';

/** In a child: runs one suite, logs to stderr, prints its metrics as the last stdout line. */
async function runOne(name: string, quick: boolean): Promise<number> {
  const suite = await suites[name]!();
  const metrics = await suite.run({ quick, log: (line) => process.stderr.write(line + '\n') });
  process.stdout.write(JSON.stringify(metrics) + '\n');
  return 0;
}

function runInChild(name: string, quick: boolean): Promise<Metrics> {
  return new Promise((resolve, reject) => {
    const args = [fileURLToPath(import.meta.url), CHILD_FLAG, name, ...(quick ? ['--quick'] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (code !== 0) return reject(new Error(`bench suite ${name} failed (${signal ?? `exit ${code}`})`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()!) as Metrics);
      } catch (error) {
        reject(new Error(`bench suite ${name} printed no metrics`, { cause: error }));
      }
    });
  });
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      [CHILD_FLAG.slice(2)]: { type: 'boolean', default: false },
    },
  });
  if (values[CHILD_FLAG.slice(2)]) return runOne(positionals[0]!, values.quick);
  const selected = values.only ? values.only.split(',').map((s) => s.trim()) : Object.keys(suites);
  const unknown = selected.filter((name) => !(name in suites));
  if (unknown.length) {
    process.stderr.write(
      `unknown suite(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}\n`,
    );
    return 2;
  }
  const metrics: Metrics = {};
  const failed: string[] = [];
  for (const name of selected) {
    process.stderr.write(`bench: ${name} …\n`);
    try {
      Object.assign(metrics, await runInChild(name, values.quick));
    } catch (error) {
      // The other suites' figures still count; the exit code says something is missing.
      failed.push(name);
      process.stderr.write(`bench: ${(error as Error).message}\n`);
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
