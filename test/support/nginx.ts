// A private nginx for a test file or a bench run: its own prefix folder (config, pid, logs, temp files), a
// free loopback port, round robin over the given upstream ports with no stickiness, stopped (and the
// folder removed) by `stop()`. A terminal talks to it as to one hub. With `cache`, it also keeps what the
// hub marks immutable (the content-addressed pieces under /v1/content/), as a site's cache or a CDN would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

export interface Nginx {
  port: number;
  url: string;
  /**
   * The access log so far, one line per request: `<upstream address> <status> <method> <uri>`, or with
   * `cache` `<uri> <cache status>`.
   */
  accessLog(): string[];
  stop(): Promise<void>;
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

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export function nginxAvailable(): boolean {
  return spawnSync('nginx', ['-v'], { stdio: 'ignore' }).status === 0;
}

export async function startNginx(options: {
  upstreams: number[];
  port?: number;
  /** How long a long poll may be held by an upstream (s). */
  readTimeoutSeconds?: number;
  workerConnections?: number;
  /** Cache /v1/content/ (immutable pieces) and log each request's cache status. */
  cache?: boolean;
}): Promise<Nginx> {
  const dir = mkdtempSync(join(tmpdir(), 'jpki-nginx-'));
  mkdirSync(join(dir, 'logs'));
  const port = options.port ?? (await freePort());
  const temp = (name: string) => `${name}_temp_path ${join(dir, name)};`;
  const conf = `
${userInfo().uid === 0 ? 'user root;' : ''}
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'logs', 'error.log')} warn;
worker_rlimit_nofile ${2 * (options.workerConnections ?? 4096) + 64};
events { worker_connections ${options.workerConnections ?? 4096}; }
http {
  ${temp('client_body')}
  ${temp('proxy')}
  ${temp('fastcgi')}
  ${temp('uwsgi')}
  ${temp('scgi')}
  log_format upstream '$upstream_addr $status $request_method $uri';
  log_format cache '$uri $upstream_cache_status';
  access_log ${join(dir, 'logs', 'access.log')} ${options.cache ? 'cache' : 'upstream'};
  ${options.cache ? `proxy_cache_path ${join(dir, 'cache')} levels=1:2 keys_zone=content:4m max_size=256m inactive=1d use_temp_path=off;` : ''}
  upstream hub {
${options.upstreams.map((p) => `    server 127.0.0.1:${p} max_fails=1 fail_timeout=2s;`).join('\n')}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    client_max_body_size 16m;
    ${
      options.cache
        ? `location /v1/content/ {
      proxy_pass http://hub;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_cache content;
      proxy_cache_lock on;
      proxy_cache_key $uri;
      add_header X-Cache $upstream_cache_status always;
    }`
        : ''
    }
    location / {
      proxy_pass http://hub;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_buffering off;
      proxy_read_timeout ${options.readTimeoutSeconds ?? 60}s;
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 2;
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child: ChildProcess = spawn(
    'nginx',
    ['-p', dir, '-c', join(dir, 'nginx.conf'), '-g', 'daemon off;'],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; i < 100 && !(await listening(port)); i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!(await listening(port))) throw new Error(`nginx did not listen on ${port}: ${stderr}`);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    accessLog: () => {
      try {
        return readFileSync(join(dir, 'logs', 'access.log'), 'utf8')
          .split('\n')
          .filter(Boolean);
      } catch {
        return [];
      }
    },
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGQUIT');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
