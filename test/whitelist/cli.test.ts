// The whitelist and journal CLI through the real command modules, on a site config in a temp folder.
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { run as whitelistCli } from '../../main/cli/whitelist-command.js';
import { main as cliMain } from '../../main/cli/index.js';
import { IndexKey } from '../../whitelist/privacy.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { ISSUER, spkiOf, tempDir } from './helpers.js';

const dir = tempDir('wl-cli-');
const keyFile = join(dir, 'index-key');
writeFileSync(keyFile, '3c'.repeat(32) + '\n');
chmodSync(keyFile, 0o600);
const config = join(dir, 'site.json');
writeFileSync(
  config,
  JSON.stringify({
    version: 1,
    profile: 'stadium-gate',
    data: { dir: join(dir, 'data'), indexKey: { file: keyFile } },
  }),
);

async function cli(fn: (args: string[]) => Promise<number>, args: string[]) {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  try {
    return { code: await fn(args), out, err };
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
}

const CSV_HEADER =
  'issuerKeyId,serial,spkiSha256,subject,kind,eventId,seat,zones,gates,validFrom,validTo,entriesAllowed,insurerNumber,number,copayRatio,status';

describe('whitelist CLI', () => {
  it('imports CSV (merging lines of one card) and NDJSON, then looks up and reports stats', async () => {
    const csv = join(dir, 'rows.csv');
    writeFileSync(
      csv,
      [
        CSV_HEADER,
        `${ISSUER},0A01,${spkiOf('0A01')},u-1,ticket,ev-1,"B-1,2",north|south,gate-a,2026-11-21T09:00:00Z,2026-11-21T22:00:00Z,1,,,,`,
        `${ISSUER},0a01,${spkiOf('0A01')},u-1,insurance,,,,,2026-04-01,,,06123456,77,0.3,valid`,
        `${ISSUER},0A02,${spkiOf('0A02')},u-2,ticket,ev-1,C-9,,,2026-11-21T09:00:00Z,2026-11-21T22:00:00Z,2,,,,`,
      ].join('\n'),
    );
    expect((await cli(whitelistCli, ['import', csv, '--config', config, '--json'])).code).toBe(0);
    const nd = join(dir, 'rev.ndjson');
    writeFileSync(
      nd,
      JSON.stringify({
        issuerKeyId: ISSUER,
        serial: '0A02',
        revokedAt: '2026-11-01T00:00:00Z',
        reason: 'superseded',
      }) + '\n',
    );
    expect((await cli(whitelistCli, ['import', nd, '--feed', 'revocations', '--config', config])).code).toBe(
      0,
    );

    const hit = await cli(whitelistCli, [
      'lookup',
      '--issuer',
      ISSUER,
      '--serial',
      '0A01',
      '--spki',
      spkiOf('0A01'),
      '--config',
      config,
      '--json',
    ]);
    const view = JSON.parse(hit.out) as {
      registered: boolean;
      card: { subject: string; entitlements: Array<Record<string, unknown>> };
    };
    expect(view.card.subject).toBe('u-1');
    expect(view.card.entitlements).toEqual([
      expect.objectContaining({
        kind: 'ticket',
        seat: 'B-1,2',
        zones: ['north', 'south'],
        gates: ['gate-a'],
      }),
      expect.objectContaining({
        kind: 'insurance',
        insurerNumber: '06123456',
        copayRatio: 0.3,
        validFrom: '2026-04-01',
      }),
    ]);
    const noKey = JSON.parse(
      (
        await cli(whitelistCli, [
          'lookup',
          '--issuer',
          ISSUER,
          '--serial',
          '0A01',
          '--config',
          config,
          '--json',
        ])
      ).out,
    );
    expect(noKey).toMatchObject({ registered: true, opened: false, card: null });
    const revoked = JSON.parse(
      (
        await cli(whitelistCli, [
          'lookup',
          '--issuer',
          ISSUER,
          '--serial',
          '0a02',
          '--config',
          config,
          '--json',
        ])
      ).out,
    );
    expect(revoked.revoked).toEqual({ at: '2026-11-01T00:00:00.000Z', reason: 'superseded' });

    const stats = JSON.parse((await cli(whitelistCli, ['stats', '--config', config, '--json'])).out);
    expect(stats.whitelist).toMatchObject({ rows: 2, seq: 2, epoch: 'local' });
    expect(stats.revocations).toMatchObject({ rows: 1, seq: 1 });
  });

  it('refuses a file with one malformed row, naming the line, and imports nothing', async () => {
    const bad = join(dir, 'bad.ndjson');
    const good = {
      issuerKeyId: ISSUER,
      serial: '0B01',
      spkiSha256: spkiOf('0B01'),
      subject: 'u-b',
      entitlements: [{ kind: 'member', memberId: 'm1' }],
    };
    writeFileSync(
      bad,
      [
        JSON.stringify(good),
        JSON.stringify({ ...good, serial: '0B02', entitlements: [{ kind: 'member' }] }),
      ].join('\n'),
    );
    const res = await cli((a) => cliMain(['whitelist', ...a]), ['import', bad, '--config', config, '--json']);
    expect(res.code).toBe(1);
    expect(JSON.parse(res.out).error.code).toBe('IMPORT_INVALID');
    expect(res.err).toMatch(/bad\.ndjson:2: entitlements\.0\.memberId/);
    const data = KioskData.open({
      dir: join(dir, 'data', 'store'),
      indexKey: IndexKey.fromSecret('3c'.repeat(32)),
    });
    try {
      expect(
        data.lookup({ issuerKeyId: ISSUER, serial: '0B01', spkiSha256: spkiOf('0B01') }).card,
      ).toBeNull();
    } finally {
      data.close();
    }
  });
});
