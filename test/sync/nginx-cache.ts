// A private nginx between terminals and a hub, caching what the hub marks immutable (the content-addressed
// pieces under /v1/content/) and passing everything else through: the standard HTTP cache a site or CDN
// would put there. Started in a temporary folder on a free loopback port, one process, stopped by the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { freePort } from './helpers.js';

export interface NginxCache {
  port: number;
  url: string;
  /** Lines of the access log: `<uri> <cache status>`. */
  accessLog(): string[];
  stop(): Promise<void>;
}

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => existsSync(p)) ?? 'nginx';

export async function startNginxCache(dir: string, upstreamPort: number, port?: number): Promise<NginxCache> {
  mkdirSync(dir, { recursive: true });
  const listen = port ?? (await freePort());
  const conf = `
daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  log_format cache '$uri $upstream_cache_status';
  access_log ${dir}/access.log cache;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  proxy_cache_path ${dir}/cache levels=1:2 keys_zone=content:4m max_size=256m inactive=1d use_temp_path=off;
  upstream hub { server 127.0.0.1:${upstreamPort}; keepalive 8; }
  server {
    listen 127.0.0.1:${listen};
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    location /v1/content/ {
      proxy_pass http://hub;
      proxy_cache content;
      proxy_cache_lock on;
      proxy_cache_key $uri;
      add_header X-Cache $upstream_cache_status always;
    }
    location / {
      proxy_pass http://hub;
      proxy_buffering off;
      proxy_read_timeout 60s;
    }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  const child: ChildProcess = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${stderr}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect(listen, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`nginx did not listen on ${listen}: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port: listen,
    url: `http://127.0.0.1:${listen}`,
    accessLog: () => {
      const f = join(dir, 'access.log');
      return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
    },
    stop: async () => {
      if (child.exitCode === null) {
        child.kill('SIGQUIT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
