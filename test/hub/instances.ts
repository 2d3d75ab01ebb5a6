// Hub instances as child processes (pg-instance-child.ts, bundled once per file): what a test kills with
// SIGKILL or puts behind a load balancer. Packages stay external and resolve from the project.
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { buildSync } from 'esbuild';

export function bundleInstanceChild(root: string, entry = 'pg-instance-child.ts'): string {
  const bundle = join(root, entry.replace(/\.ts$/, '.cjs'));
  buildSync({
    entryPoints: [resolve(import.meta.dirname, entry)],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    packages: 'external',
    outfile: bundle,
    logLevel: 'error',
    // Modules that resolve packages through import.meta.url (the HSM binding) get the bundle's own URL.
    define: { 'import.meta.url': '__bundleUrl' },
    banner: { js: "const __bundleUrl = require('node:url').pathToFileURL(__filename).href;" },
  });
  return bundle;
}

/** A child's environment: packages resolve from the project, logs stay quiet. */
function childEnv(): NodeJS.ProcessEnv {
  return {
    ...process.env,
    NODE_PATH: resolve(import.meta.dirname, '../../node_modules'),
    JPKI_LOG_LEVEL: 'silent',
  };
}

/** Runs a one-shot child (bundled by bundleInstanceChild) with `args`; resolves with the JSON it prints. */
export function runInstanceChild<T>(bundle: string, args: string[], what: string): Promise<T> {
  const child = spawn(process.execPath, [bundle, ...args], {
    env: childEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  return new Promise((ok, fail) =>
    child.once('exit', (status) => {
      if (status !== 0) fail(new Error(`${what} child exited (${status}): ${err}`));
      else ok(JSON.parse(out.trim()) as T);
    }),
  );
}

/** Starts an instance serving `dir` (store null: its SQLite file); resolves once it listens. */
export async function spawnInstance(
  bundle: string,
  o: { dir: string; store: string | null; port: number; authority: string; indexKeyFile: string },
): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [bundle, o.dir, o.store ?? '-', String(o.port), o.authority, o.indexKeyFile],
    {
      env: childEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  await new Promise<void>((ok, fail) => {
    child.stdout!.on('data', (c: Buffer) => {
      if (c.toString().includes('READY')) ok();
    });
    child.once('exit', (code) => fail(new Error(`hub instance exited (${code}): ${err}`)));
  });
  return child;
}

export async function stopInstance(child: ChildProcess | null): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}
