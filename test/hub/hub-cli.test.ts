// The hub's operator commands through `jpki-kiosk hub …` (in-process run()), against real files: a CRL
// signed by the demo CA revokes the demo `valid` card at a terminal after one sync; an older CRL, a CRL of
// another CA and a corrupt file are refused and change nothing; whitelist imports publish differences.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { run } from '../../main/cli/hub-command.js';
import { demoCrl, issueCrl, toPem } from '../../sim/pki/crl.js';
import { demoCard, ensureDemoPki, type DemoCardSet } from '../../sim/pki/demo-pki.js';
import {
  cardRow,
  cleanup,
  ndjsonLine,
  openTerminal,
  startHub,
  tempDir,
  type TestHub,
} from '../sync/helpers.js';
import { openHubDir } from '../../hub/hub-dir.js';
import { captureStdout } from '../support/capture-stdout.js';

const cli = (...args: string[]) => captureStdout(() => run(args));

describe('hub CLI', () => {
  let root: string;
  let pki: DemoCardSet;
  let common: string[];

  beforeAll(async () => {
    root = tempDir('hubcli');
    pki = await ensureDemoPki(root);
    writeFileSync(join(root, 'index-key'), 'ab'.repeat(32) + '\n', { mode: 0o600 });
    common = ['--dir', join(root, 'hub'), '--index-key', join(root, 'index-key'), '--ca', pki.caPemPath];
  }, 120_000);
  afterAll(() => cleanup(root));

  it('import-crl: the demo valid card is revoked at the terminal after one sync; bad CRLs change nothing', async () => {
    const valid = demoCard(pki, 'valid');
    const revoked = demoCard(pki, 'revoked');
    const crl1 = await demoCrl(root, ['revoked'], { crlNumber: 1, fileName: 'crl1.crl' });
    const r1 = await cli('import-crl', crl1, ...common, '--json');
    expect(r1.code).toBe(0);
    expect(JSON.parse(r1.stdout)).toMatchObject({ entries: 1, puts: 1, dels: 0, crlNumber: '1' });

    const hub: TestHub = await startHub(root, 0, { indexKeyFile: join(root, 'index-key') });
    const t = openTerminal(root, 'crl-term', hub.dir, hub.url);
    const probe = (serial: string) =>
      t.data.lookup({ issuerKeyId: valid.issuerKeyIdHex, serial, spkiSha256: '00'.repeat(32) }).revoked;
    try {
      const first = await t.client.syncNow();
      expect(first).toMatchObject({ ok: true });
      expect(probe(revoked.serialHex)?.reason).toBe('keyCompromise');
      expect(probe(valid.serialHex)).toBeNull();

      const crl2 = await demoCrl(root, ['revoked', 'valid'], { crlNumber: 2, fileName: 'crl2.crl' });
      const r2 = await cli('import-crl', crl2, ...common, '--json');
      expect(JSON.parse(r2.stdout)).toMatchObject({ entries: 2, puts: 1, dels: 0, unchanged: 1 });
      const report = await t.client.syncNow();
      expect(report.pulls.revocations).toMatchObject({ applied: 1 });
      expect(probe(valid.serialHex)).not.toBeNull();

      const head = hub.dir.store.feedInfo('revocations').head;
      // An older CRL (number 1 again) is refused.
      await expect(run(['import-crl', crl1, ...common])).rejects.toMatchObject({ code: 'CRL_INVALID' });
      // A CRL with the same issuer name signed by another key is refused.
      const keys = (await webcrypto.subtle.generateKey(
        {
          name: 'RSASSA-PKCS1-v1_5',
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: 'SHA-256',
        },
        true,
        ['sign', 'verify'],
      )) as webcrypto.CryptoKeyPair;
      const ca = new x509.X509Certificate(readFileSync(pki.caPemPath, 'utf8'));
      const rogueCa = await x509.X509CertificateGenerator.createSelfSigned({
        serialNumber: '01',
        name: ca.subject,
        keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
        signingAlgorithm: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      });
      const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString(
        'base64',
      );
      const rogueCrl = await issueCrl({
        caCertPem: rogueCa.toString('pem'),
        caKeyPem: `-----BEGIN PRIVATE KEY-----\n${pkcs8}\n-----END PRIVATE KEY-----\n`,
        entries: [],
        crlNumber: 99,
      });
      writeFileSync(join(root, 'rogue.crl'), toPem(rogueCrl));
      await expect(run(['import-crl', join(root, 'rogue.crl'), ...common])).rejects.toMatchObject({
        code: 'CRL_INVALID',
      });
      writeFileSync(join(root, 'junk.crl'), 'not a crl');
      await expect(run(['import-crl', join(root, 'junk.crl'), ...common])).rejects.toMatchObject({
        code: 'CRL_INVALID',
      });
      expect(hub.dir.store.feedInfo('revocations').head).toBe(head);
      await t.client.syncNow();
      expect(probe(valid.serialHex)).not.toBeNull();
    } finally {
      await t.close();
      await hub.stop();
    }
  });

  it('import-whitelist (CSV and NDJSON), register-terminal, status', async () => {
    const rows = [cardRow(1), cardRow(2), cardRow(3)];
    const csvLine = (r: ReturnType<typeof cardRow>) =>
      [
        r.issuerKeyId,
        r.serial,
        r.spkiSha256,
        r.record.subject,
        `"${JSON.stringify(r.record.entitlements).replace(/"/g, '""')}"`,
      ].join(',');
    writeFileSync(
      join(root, 'wl.csv'),
      ['issuerKeyId,serial,spkiSha256,subject,entitlements', ...rows.map(csvLine)].join('\r\n') + '\r\n',
    );
    const r1 = await cli('import-whitelist', join(root, 'wl.csv'), ...common, '--json');
    expect(JSON.parse(r1.stdout)).toMatchObject({ rows: 3, puts: 3, dels: 0 });
    const nd = [rows[0]!, cardRow(2, 'v2')].map(ndjsonLine);
    writeFileSync(join(root, 'wl.ndjson'), nd.join('\n') + '\n');
    const r2 = await cli('import-whitelist', join(root, 'wl.ndjson'), ...common, '--json');
    expect(JSON.parse(r2.stdout)).toMatchObject({ rows: 2, puts: 1, dels: 1, unchanged: 1 });

    writeFileSync(join(root, 'bad.ndjson'), nd[0] + '\n{"issuerKeyId":"zz"}\n');
    await expect(run(['import-whitelist', join(root, 'bad.ndjson'), ...common])).rejects.toMatchObject({
      code: 'IMPORT_INVALID',
      message: expect.stringContaining('bad.ndjson:2'),
    });

    const { publicKey } = await import('node:crypto').then((c) =>
      c.generateKeyPairSync('ec', { namedCurve: 'P-256' }),
    );
    writeFileSync(join(root, 't.pem'), publicKey.export({ type: 'spki', format: 'pem' }));
    const reg = await cli(
      'register-terminal',
      '--id',
      'shelter-1',
      '--public-key',
      join(root, 't.pem'),
      '--site',
      'hall-3',
      '--kind',
      'shelter',
      ...common,
    );
    expect(reg.code).toBe(0);
    const status = await cli('status', ...common, '--json');
    const model = JSON.parse(status.stdout);
    expect(model.terminals.map((t: { terminalId: string }) => t.terminalId)).toContain('shelter-1');
    expect(model.shelters).toEqual([{ siteId: 'hall-3', occupancy: 0, roster: [] }]);
    const dir = openHubDir(join(root, 'hub'), { indexKeyFile: join(root, 'index-key') });
    expect(dir.store.feedInfo('whitelist')).toMatchObject({ head: 5, rows: 2 });
    dir.close();
  });
});
