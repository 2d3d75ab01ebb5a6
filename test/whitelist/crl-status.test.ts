// The CRL status rules on the terminal side: the signed batch shapes that carry it (a status-only op is
// a revocation batch's only op and needs the status; only revocations carry one), and the stale decision
// from both clocks — hub-sync age and the oldest CRL's nextUpdate + grace.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { openBatch, publisherKeyId, signBatch, type FeedBatch } from '../../protocol/feed-format.js';
import type { CrlIssuerStatus } from '../../protocol/crl-status.js';
import { revocationStaleness, type CrlFreshness } from '../../whitelist/crl-status.js';

const HOUR = 3600_000;
const hub = generateKeyPairSync('ed25519');
const trust = { publishers: [{ publicKey: hub.publicKey, feeds: ['whitelist', 'revocations'] as const }] };
const status = (issuerKeyId: string, nextUpdate: number): CrlIssuerStatus => ({
  issuerKeyId,
  crlNumber: '7',
  thisUpdate: new Date(nextUpdate - 36 * HOUR).toISOString(),
  nextUpdate: new Date(nextUpdate).toISOString(),
});
const K = 'ab'.repeat(16);

function batch(feed: 'whitelist' | 'revocations', ops: unknown[], extra: object = {}): Buffer {
  return signBatch(
    {
      format: 'jpki-kiosk/delta/v1',
      publisherKeyId: publisherKeyId(hub.publicKey),
      epoch: 'e1',
      fromSeq: 0,
      toSeq: ops.length,
      asOf: new Date(0).toISOString(),
      feed,
      ops,
      ...extra,
    } as FeedBatch,
    hub.privateKey,
  );
}

describe('signed CRL status in batches', () => {
  it('a status-only batch is one crl-status op with the issuers', () => {
    const b = openBatch(batch('revocations', [{ op: 'crl-status' }], { issuers: [status('aa', 0)] }), trust);
    expect(b.issuers).toHaveLength(1);
  });

  it('refuses a crl-status op without issuers, beside other ops, or in the whitelist feed', () => {
    const refused = (bytes: Buffer) =>
      expect(() => openBatch(bytes, trust)).toThrow(expect.objectContaining({ code: 'DELTA_MALFORMED' }));
    refused(batch('revocations', [{ op: 'crl-status' }]));
    refused(
      batch('revocations', [{ op: 'crl-status' }, { op: 'del', k: K }], { issuers: [status('aa', 0)] }),
    );
    refused(batch('whitelist', [{ op: 'crl-status' }], { issuers: [status('aa', 0)] }));
    refused(batch('whitelist', [{ op: 'del', k: K }], { issuers: [status('aa', 0)] }));
  });
});

describe('revocationStaleness', () => {
  const rules = { maxAgeHours: 26, crlGraceHours: 6 };
  const crl = (...issuers: CrlIssuerStatus[]): CrlFreshness => ({
    issuers,
    oldest: [...issuers].sort((a, b) => Date.parse(a.nextUpdate) - Date.parse(b.nextUpdate))[0] ?? null,
  });
  const T = Date.parse('2026-12-04T00:00:00Z');

  it('fresh sync and CRL within nextUpdate + grace: not stale', () => {
    const s = revocationStaleness({ dataAgeMs: 0, crl: crl(status('aa', T)) }, rules, T + 6 * HOUR - 1);
    expect(s).toMatchObject({ stale: false, reasons: [], crlStaleAt: new Date(T + 6 * HOUR).toISOString() });
  });

  it('the oldest issuer counts, whether or not the hub answers (sync age 0)', () => {
    const s = revocationStaleness(
      { dataAgeMs: 0, crl: crl(status('aa', T + 100 * HOUR), status('bb', T)) },
      rules,
      T + 6 * HOUR,
    );
    expect(s).toMatchObject({
      stale: true,
      reasons: ['crl_expired'],
      crlNextUpdate: new Date(T).toISOString(),
    });
  });

  it('both conditions are reported; never synced is stale; no CRL status leaves only the sync age', () => {
    expect(
      revocationStaleness({ dataAgeMs: 27 * HOUR, crl: crl(status('aa', T)) }, rules, T + 7 * HOUR).reasons,
    ).toEqual(['sync_age', 'crl_expired']);
    expect(revocationStaleness(null, rules, T).reasons).toEqual(['sync_age']);
    expect(revocationStaleness({ dataAgeMs: HOUR, crl: crl() }, rules, T)).toMatchObject({
      stale: false,
      crlNextUpdate: null,
    });
  });
});
