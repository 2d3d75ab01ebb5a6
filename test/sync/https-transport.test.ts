// A terminal outside the demo profile reaches its hub over HTTPS only: a real hub serving TLS on loopback
// with a certificate from a private CA (made here with the openssl command line). With `sync.caFile` naming
// that CA the terminal syncs; without it the TLS handshake fails and nothing is applied.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.js';
import { openHubDir, type HubDir } from '../../hub/hub-dir.js';
import { createHub, type Hub } from '../../hub/server.js';
import { syncFromConfig } from '../../main/core/sync/index.js';
import { softwareSigner } from '../../protocol/http-signature.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { cardRow, cleanup, newTerminalKey, register, tempDir } from './helpers.js';

function openssl(cwd: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd, stdio: 'pipe' });
}

/** A private CA and a hub certificate for 127.0.0.1 signed by it (EC P-256). */
function privatePki(dir: string): { caPem: string; key: Buffer; cert: Buffer } {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(
    dir,
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=jpki-kiosk test private CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  openssl(dir, 'req', ...ec, '-keyout', 'hub.key', '-out', 'hub.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(
    join(dir, 'hub.ext'),
    'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n',
  );
  openssl(
    dir,
    'x509',
    '-req',
    '-in',
    'hub.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'hub.pem',
    '-days',
    '2',
    '-extfile',
    'hub.ext',
  );
  return {
    caPem: join(dir, 'ca.pem'),
    key: readFileSync(join(dir, 'hub.key')),
    cert: readFileSync(join(dir, 'hub.pem')),
  };
}

describe('sync over HTTPS with a private CA', () => {
  let root: string;
  let dir: HubDir;
  let hub: Hub;
  let port: number;
  let caPem: string;

  beforeAll(async () => {
    root = tempDir('https');
    const pki = privatePki(root);
    caPem = pki.caPem;
    dir = openHubDir(join(root, 'hub'), { indexKeyFile: null, keyStore: 'file' });
    hub = createHub({
      store: dir.store,
      publisher: dir.publisher,
      hubId: dir.hubId,
      https: { key: pki.key, cert: pki.cert },
    });
    await hub.app.listen({ host: '127.0.0.1', port: 0 });
    port = (hub.app.server.address() as AddressInfo).port;
    dir.publisher.publishWhitelist([cardRow(1), cardRow(2), cardRow(3)], 'https test');
  }, 60_000);
  afterAll(async () => {
    await hub.close();
    dir.close();
    cleanup(root);
  });

  /** A stadium gate's config (not the demo): its own data folder, the hub over https. */
  function terminal(id: string, caFile: string | null) {
    const file = join(root, `${id}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        profile: 'stadium-gate',
        site: { terminalId: id },
        data: { dir: `./${id}-data`, indexKey: { file: dir.indexKeyFile } },
        sync: {
          enabled: true,
          hubUrl: `https://127.0.0.1:${port}`,
          rootPath: dir.rootFile,
          caFile,
        },
      }),
    );
    const config = loadConfig({ file, env: {} });
    const { key, publicPem } = newTerminalKey();
    register(dir, id, publicPem);
    const data = KioskData.fromConfig(config, {});
    const client = syncFromConfig(config, data, softwareSigner(id, key), {
      stagingDir: join(root, `${id}-staging`),
      idleTimeoutMs: 10_000,
    })!;
    return {
      data,
      client,
      close: async () => {
        await client.stop();
        data.close();
      },
    };
  }

  it('syncs with sync.caFile naming the private CA', async () => {
    const t = terminal('tls-ok', caPem);
    try {
      const report = await t.client.syncNow();
      expect(report.ok, JSON.stringify(report)).toBe(true);
      expect(t.data.whitelist.feedState().seq).toBe(dir.store.feedInfo('whitelist').head);
      expect(t.data.whitelist.rowCount()).toBe(3);
    } finally {
      await t.close();
    }
  });

  it('is refused at the TLS handshake without it, and applies nothing', async () => {
    const t = terminal('tls-no-ca', null);
    try {
      const report = await t.client.syncNow();
      expect(report.ok).toBe(false);
      expect(report.pulls.whitelist).toMatchObject({ code: 'SYNC_UNREACHABLE' });
      expect((report.pulls.whitelist as { message: string }).message).toMatch(/certificate/i);
      expect(t.data.whitelist.feedState().seq).toBe(0);
      expect(dir.store.journalCount('tls-no-ca')).toBe(0);
    } finally {
      await t.close();
    }
  });

  it('the same hub over plain http: to a network address is a config error outside the demo', () => {
    const file = join(root, 'plain.json');
    writeFileSync(
      file,
      JSON.stringify({ version: 1, profile: 'stadium-gate', sync: { hubUrl: 'http://192.0.2.10:8630' } }),
    );
    expect(() => loadConfig({ file, env: {} })).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', detail: { key: 'sync.hubUrl' } }),
    );
  });
});
