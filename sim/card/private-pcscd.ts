// A private pcscd (Debian pcsc-lite 1.9.9) with its own reader configuration, socket and, by default,
// its own network namespace, so that test suites and benchmarks never touch the system daemon or each
// other. Root only (unshare/nsenter/mount).
//
// Layout: one "holder" process (`sleep infinity`) owns a private mount namespace, where a temp folder
// is bound over /run/pcscd (Debian's pcscd always creates /run/pcscd/pcscd.comm), and a private
// network namespace whose loopback route has `quickack 1`. That removes the ~45 ms/APDU vpcd artefact
// (vpcd writes the length and the body separately; Nagle waits for the delayed ACK of the card side).
// pcscd runs inside both namespaces via nsenter and can be killed and restarted while the holder stays.
// Virtual cards outside the namespace reach vpcd through a relay inside it: a Unix socket per vpcd
// port (`<dir>/vpcd-<port>.sock`) spliced to 127.0.0.1:<port>. Every child gets PDEATHSIG=KILL, so a
// crashed test process leaves no daemon behind.
//
// In 'private' mode the vpcd ports live in the private network namespace: they cannot collide with
// the host's or another suite's ports. `mkdir -p /run/pcscd` creates the (empty) mount point on the host
// if it is missing, as the pcscd package itself would.
//
// pcsc-lite's client library reads PCSCLITE_CSOCK_NAME once per process (first context) and caches
// it: one process can use one pcscd socket for its whole life. `applyEnv()` sets it and refuses to
// switch a process to another socket.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { VpcdEndpoint } from './vpcd-client.js';

export type { VpcdEndpoint };

const VPCD_DRIVER = '/usr/lib/pcsc/drivers/serial/libifdvpcd.so';

export interface PcscdOptions {
  /** vpcd TCP ports; each gives two readers `<name> 00 00` (port) and `<name> 00 01` (port + 1). */
  vpcdPorts: number[];
  /** 'private' (default): own network namespace with quickack; 'host': the host's loopback (slow vpcd). */
  network?: 'private' | 'host';
  /** pcscd -d output kept in `<dir>/pcscd.log`. */
  debug?: boolean;
  /** Prefix of the temp folder. */
  label?: string;
}

export interface PrivatePcscd {
  readonly dir: string;
  readonly socketPath: string;
  readonly env: { PCSCLITE_CSOCK_NAME: string };
  readonly network: 'private' | 'host';
  /** Reader names of a configured vpcd port: [slot 0 (port), slot 1 (port + 1)]. */
  readerNames(port: number): [string, string];
  /** Address a virtual card connects to for the given vpcd port (a slot port: base or base + 1). */
  endpoint(port: number): VpcdEndpoint;
  /** Sets PCSCLITE_CSOCK_NAME in this process (before the first PC/SC context). */
  applyEnv(): void;
  /** pcscd pid, or null while it is down. */
  readonly pid: number | null;
  /** SIGKILL pcscd (a daemon crash). The namespace, relay and socket folder stay. */
  kill(): Promise<void>;
  /** Starts pcscd again (after kill/stopDaemon) with the current reader configuration. */
  start(): Promise<void>;
  /** kill + start. */
  restart(): Promise<void>;
  /** Adds a vpcd reader entry. pcscd 1.9.9 does not re-read reader.conf on SIGUSR1, so this restarts it. */
  addReader(port: number): Promise<void>;
  removeReader(port: number): Promise<void>;
  /** Stops everything and removes the folder. Idempotent. */
  stop(): Promise<void>;
}

let processSocket: string | undefined;

/** One process, one pcscd socket (libpcsclite caches the name at the first context). */
export function usePcscdSocket(socketPath: string): void {
  const current = processSocket ?? process.env.PCSCLITE_CSOCK_NAME;
  if (processSocket && current !== socketPath)
    throw new Error(
      `this process already uses pcscd socket ${processSocket}; libpcsclite caches it per process`,
    );
  processSocket = socketPath;
  process.env.PCSCLITE_CSOCK_NAME = socketPath;
}

function readerConf(port: number, driver: string): string {
  const hex = port.toString(16).toUpperCase();
  return [
    `FRIENDLYNAME "Virtual PCD ${port}"`,
    `DEVICENAME   /dev/null:0x${hex}`,
    `LIBPATH      ${driver}`,
    `CHANNELID    0x${hex}`,
    '',
  ].join('\n');
}

// Runs inside the network namespace: one Unix socket per vpcd slot port, spliced to 127.0.0.1:<port>.
const RELAY_SOURCE = `
const net = require('node:net');
const fs = require('node:fs');
const [dir, ...ports] = process.argv.slice(1);
for (const port of ports.map(Number)) {
  const path = dir + '/vpcd-' + port + '.sock';
  try { fs.unlinkSync(path); } catch {}
  net.createServer((client) => {
    const tcp = net.connect({ host: '127.0.0.1', port });
    tcp.setNoDelay(true);
    const end = () => { client.destroy(); tcp.destroy(); };
    client.on('error', end); tcp.on('error', end); client.on('close', end); tcp.on('close', end);
    client.pipe(tcp); tcp.pipe(client);
  }).listen(path);
}
process.stdout.write('ready\\n');
`;

function spawnChild(argv: string[], logFile?: string, env?: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn('setpriv', ['--pdeathsig', 'KILL', ...argv], {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: false,
    ...(env ? { env } : {}),
  });
  const chunks: Buffer[] = [];
  const keep = (b: Buffer) => {
    if (logFile) chunks.push(b);
    if (chunks.length > 2000) chunks.splice(0, 1000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', () => {
    if (logFile && chunks.length) {
      try {
        writeFileSync(logFile, Buffer.concat(chunks), { flag: 'a' });
      } catch {
        /* the folder may be gone already */
      }
    }
  });
  return child;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`private pcscd: timed out waiting for ${what}`);
}

function socketAccepts(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM') {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

const live = new Set<PrivatePcscd>();
let exitHookInstalled = false;

function installExitHook(children: () => ChildProcess[]) {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of children()) {
      try {
        child.kill('SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const p of live) rmSync(p.dir, { recursive: true, force: true });
  });
}

const allChildren = new Set<ChildProcess>();

/** Removes folders of private daemons whose holder process is gone (a test process killed hard). */
function sweepStaleFolders() {
  const base = tmpdir();
  let names: string[];
  try {
    names = readdirSync(base);
  } catch {
    return;
  }
  for (const name of names) {
    const pidFile = join(base, name, 'holder.pid');
    if (!existsSync(pidFile)) continue;
    if (!existsSync(join(base, name, 'reader.conf.d'))) continue; // not ours
    const pid = Number(readFileSync(pidFile, 'utf8'));
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      alive = false;
    }
    if (!alive) rmSync(join(base, name), { recursive: true, force: true });
  }
}

export async function startPcscd(options: PcscdOptions): Promise<PrivatePcscd> {
  if (process.getuid?.() !== 0) throw new Error('private pcscd needs root (unshare, mount)');
  const network = options.network ?? 'private';
  sweepStaleFolders();
  const dir = mkdtempSync(join(tmpdir(), `${options.label ?? 'jpki-pcscd'}-`));
  const runDir = join(dir, 'run');
  const confDir = join(dir, 'reader.conf.d');
  const driverDir = join(dir, 'drivers');
  const socketPath = join(runDir, 'pcscd.comm');
  const logFile = join(dir, 'pcscd.log');
  mkdirSync(runDir, { recursive: true });
  const ports = new Set<number>();
  const writeConf = () => {
    rmSync(confDir, { recursive: true, force: true });
    mkdirSync(confDir, { recursive: true });
    // vpcd keeps its per-slot sockets in driver-global arrays, so two reader entries loaded from the
    // same library share slot 0 (seen here: one card in two readers, power-off from the other). pcscd
    // loads a library once per path: each entry gets its own copy and so its own globals.
    mkdirSync(driverDir, { recursive: true });
    for (const port of ports) {
      const driver = join(driverDir, `libifdvpcd-${port}.so`);
      if (!existsSync(driver)) copyFileSync(VPCD_DRIVER, driver);
      writeFileSync(join(confDir, `vpcd-${port}`), readerConf(port, driver));
    }
  };
  for (const port of options.vpcdPorts) ports.add(port);
  writeConf();

  installExitHook(() => [...allChildren]);
  const track = (c: ChildProcess) => {
    allChildren.add(c);
    c.on('exit', () => allChildren.delete(c));
    return c;
  };

  const setup = [
    'set -e',
    'mkdir -p /run/pcscd',
    `mount --bind ${JSON.stringify(runDir)} /run/pcscd`,
    ...(network === 'private'
      ? [
          'ip link set lo up',
          'ip route change local 127.0.0.1 dev lo table local proto kernel scope host src 127.0.0.1 quickack 1',
        ]
      : []),
    'echo ready',
    'exec sleep infinity',
  ].join('\n');
  const holder = track(
    spawnChild(
      [
        'unshare',
        '-m',
        ...(network === 'private' ? ['-n'] : []),
        '--propagation',
        'private',
        'sh',
        '-c',
        setup,
      ],
      logFile,
    ),
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    holder.stdout?.on('data', (b: Buffer) => {
      out += b.toString();
      if (out.includes('ready')) resolve();
    });
    holder.once('exit', (code) =>
      reject(new Error(`private pcscd: namespace setup failed (exit ${code}); see ${logFile}`)),
    );
  });
  const holderPid = holder.pid!;
  writeFileSync(join(dir, 'holder.pid'), String(holderPid));
  const nsArgs = ['nsenter', '-t', String(holderPid), '-m', ...(network === 'private' ? ['-n'] : []), '--'];

  let relay: ChildProcess | undefined;
  const slotPorts = () => [...ports].flatMap((p) => [p, p + 1]);
  const startRelay = async () => {
    await stopChild(relay);
    relay = undefined;
    if (network !== 'private') return;
    const r = track(
      spawnChild(
        [
          'nsenter',
          '-t',
          String(holderPid),
          '-n',
          '--',
          process.execPath,
          '-e',
          RELAY_SOURCE,
          dir,
          ...slotPorts().map(String),
        ],
        logFile,
      ),
    );
    relay = r;
    await new Promise<void>((resolve, reject) => {
      r.stdout?.on('data', (b: Buffer) => {
        if (b.toString().includes('ready')) resolve();
      });
      r.once('exit', (code) => reject(new Error(`private pcscd: vpcd relay exited (${code})`)));
    });
  };

  let daemon: ChildProcess | undefined;
  const startDaemon = async () => {
    if (daemon && daemon.exitCode === null && daemon.signalCode === null) return;
    rmSync(socketPath, { force: true });
    const d = track(
      spawnChild([...nsArgs, 'pcscd', '-f', ...(options.debug ? ['-d'] : []), '-c', confDir], logFile),
    );
    daemon = d;
    await waitFor('pcscd socket', async () => {
      if (d.exitCode !== null || d.signalCode !== null)
        throw new Error(`private pcscd exited at start (${d.exitCode ?? d.signalCode}); see ${logFile}`);
      return existsSync(socketPath) && (await socketAccepts(socketPath));
    });
  };
  const killDaemon = async (signal: NodeJS.Signals) => {
    await stopChild(daemon, signal);
    daemon = undefined;
  };

  await startRelay();
  await startDaemon();

  let stopped = false;
  const handle: PrivatePcscd = {
    dir,
    socketPath,
    env: { PCSCLITE_CSOCK_NAME: socketPath },
    network,
    readerNames(port: number): [string, string] {
      return [`Virtual PCD ${port} 00 00`, `Virtual PCD ${port} 00 01`];
    },
    endpoint(port: number): VpcdEndpoint {
      return network === 'private' ? { path: join(dir, `vpcd-${port}.sock`) } : { host: '127.0.0.1', port };
    },
    applyEnv() {
      usePcscdSocket(socketPath);
    },
    get pid() {
      return daemon?.pid ?? null;
    },
    async kill() {
      await killDaemon('SIGKILL');
    },
    async start() {
      await startDaemon();
    },
    async restart() {
      await killDaemon('SIGTERM');
      await startDaemon();
    },
    async addReader(port: number) {
      ports.add(port);
      writeConf();
      await killDaemon('SIGTERM');
      await startRelay();
      await startDaemon();
    },
    async removeReader(port: number) {
      ports.delete(port);
      writeConf();
      await killDaemon('SIGTERM');
      await startRelay();
      await startDaemon();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      live.delete(handle);
      await killDaemon('SIGTERM');
      await stopChild(relay);
      await stopChild(holder, 'SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(handle);
  return handle;
}

/** Stops every private pcscd this process started (test teardown). */
export async function stopAllPcscd(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

/** For diagnostics: the tail of a private daemon's log. */
export function pcscdLog(p: PrivatePcscd): string {
  try {
    return readFileSync(join(p.dir, 'pcscd.log'), 'utf8').slice(-4000);
  } catch {
    return '';
  }
}
