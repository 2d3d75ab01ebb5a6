// A private PostgreSQL cluster for a test file or a bench run: initdb in a temporary folder, the server
// listening only on a unix socket in that folder and on a free loopback port, stopped (and the folder
// removed) by `stop()`. PostgreSQL refuses to run as root, so when the tests run as root (CI) the cluster
// belongs to the `postgres` system user (Debian's package creates it) or, without one, to `nobody`.
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const BIN_DIRS = ['/usr/lib/postgresql/17/bin', '/usr/lib/postgresql/16/bin', '/usr/lib/postgresql/15/bin'];

export function postgresBinDir(): string | null {
  return BIN_DIRS.find((d) => existsSync(join(d, 'pg_ctl'))) ?? null;
}

export interface PgCluster {
  /** Folder of the cluster (data/ and the socket). */
  dir: string;
  port: number;
  /** A connection string for a database of this cluster (default `postgres`). */
  url(database?: string): string;
  /** A new empty database; returns its connection string. Per-test isolation. */
  createDatabase(name?: string): Promise<string>;
  stop(): void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Who runs the server: the current user, or a system user when that is root. */
function owner(): { user: string | null; uid: number; gid: number } {
  if (userInfo().uid !== 0) return { user: null, uid: -1, gid: -1 };
  for (const user of ['postgres', 'nobody']) {
    const r = spawnSync('id', ['-u', user], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const g = spawnSync('id', ['-g', user], { encoding: 'utf8' });
    return { user, uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
  }
  throw new Error('running as root and neither a postgres nor a nobody user exists to own a cluster');
}

let databases = 0;

export interface PgClusterOptions {
  /** fsync and synchronous commit off: for tests that kill hub processes, never the database server. */
  fast?: boolean;
  /** Extra postgresql.conf lines. */
  settings?: Record<string, string | number>;
}

export async function startPostgres(options: PgClusterOptions = {}): Promise<PgCluster> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL server binaries not found (Debian package postgresql)');
  const dir = mkdtempSync(join(tmpdir(), 'jpki-pg-'));
  const who = owner();
  if (who.user) chownSync(dir, who.uid, who.gid);
  const as = (cmd: string, args: string[]) =>
    who.user ? { cmd: 'runuser', args: ['-u', who.user, '--', cmd, ...args] } : { cmd, args };
  const data = join(dir, 'data');
  const init = as(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--no-locale',
  ]);
  execFileSync(init.cmd, init.args, { stdio: 'pipe' });
  const port = await freePort();
  const settings: Record<string, string | number> = {
    listen_addresses: "'127.0.0.1'",
    port,
    unix_socket_directories: `'${dir}'`,
    max_connections: 200,
    shared_buffers: "'128MB'",
    ...(options.fast ? { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' } : {}),
    ...options.settings,
  };
  const conf = Object.entries(settings)
    .map(([k, v]) => `${k} = ${v}`)
    .join('\n');
  writeFileSync(join(data, 'postgresql.auto.conf'), conf + '\n');
  if (who.user) chownSync(join(data, 'postgresql.auto.conf'), who.uid, who.gid);
  const start = as(join(bin, 'pg_ctl'), [
    '-D',
    data,
    '-l',
    join(dir, 'server.log'),
    '-w',
    '-t',
    '60',
    'start',
  ]);
  execFileSync(start.cmd, start.args, { stdio: 'pipe' });
  const url = (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`;
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    const halt = as(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
    spawnSync(halt.cmd, halt.args, { stdio: 'pipe' });
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  return {
    dir,
    port,
    url,
    stop,
    createDatabase: async (name) => {
      const db = name ?? `t${process.pid}_${++databases}`;
      const c = new pg.Client({ connectionString: url() });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${db}`);
      } finally {
        await c.end();
      }
      return url(db);
    },
  };
}
