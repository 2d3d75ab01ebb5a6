import { createDecipheriv, createHmac, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isKioskError } from '../../base/errors.js';
import {
  openBatch,
  openManifest,
  publisherKeyId,
  signBatch,
  type FeedBatch,
  type PublisherTrust,
} from '../../protocol/feed-format.js';
import { revocationPutOp, whitelistPutOp, whitelistRow } from '../../whitelist/feed-ops.js';
import { SnapshotReader, SnapshotWriter } from '../../protocol/snapshot-rows.js';
import { decodeCardRecord, encodeCardRecord } from '../../whitelist/entitlements.js';
import { IndexKey, openCardRecord, sealCardRecord, serialBytes } from '../../whitelist/privacy.js';

const hub = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const trust: PublisherTrust = {
  publishers: [{ publicKey: hub.publicKey, feeds: ['whitelist', 'revocations'] }],
};
const indexKey = IndexKey.fromSecret('11'.repeat(32));
const spki = 'ab'.repeat(32);
const record = {
  subject: 'u-0001',
  entitlements: [
    {
      kind: 'insurance' as const,
      insurerNumber: '06123456',
      symbol: 'ABC',
      number: '1234',
      branch: '01',
      copayRatio: 0.3,
      validFrom: '2026-04-01',
      status: 'valid' as const,
    },
  ],
};

function batch(over: Partial<FeedBatch> = {}): FeedBatch {
  return {
    format: 'jpki-kiosk/delta/v1',
    feed: 'whitelist',
    publisherKeyId: publisherKeyId(hub.publicKey),
    epoch: 'e1',
    fromSeq: 0,
    toSeq: 1,
    asOf: '2026-11-21T10:00:00Z',
    ops: [whitelistPutOp(indexKey, { issuerKeyId: '0a0b', serial: '01f2', spkiSha256: spki, record })],
    ...over,
  } as FeedBatch;
}

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isKioskError(error) ? error.code : `untyped: ${String(error)}`;
  }
  return undefined;
}

describe('delta batches', () => {
  it('round-trips a signed batch', () => {
    const opened = openBatch(signBatch(batch(), hub.privateKey), trust);
    expect(opened.feed).toBe('whitelist');
    expect(opened.ops).toHaveLength(1);
  });

  it('refuses a flipped payload byte, another signer, a forged publisher id, a wrong feed and bad framing', () => {
    const wire = signBatch(batch(), hub.privateKey);
    const tampered = Buffer.from(wire);
    tampered[tampered.length - 5] = tampered[tampered.length - 5]! ^ 1;
    expect(code(() => openBatch(tampered, trust))).toBe('DELTA_BAD_SIGNATURE');
    expect(code(() => openBatch(signBatch(batch(), other.privateKey), trust))).toBe('DELTA_WRONG_PUBLISHER');
    // Signed by the hub but claiming another publisher inside.
    expect(
      code(() =>
        openBatch(
          signBatch(batch({ publisherKeyId: publisherKeyId(other.publicKey) }), hub.privateKey),
          trust,
        ),
      ),
    ).toBe('DELTA_WRONG_PUBLISHER');
    const peer = batch({
      feed: 'peer-entries',
      ops: [
        { op: 'presence', subject: 's', state: 'inside', terminalId: 't', gateId: 'g', zone: 'z', at: 1 },
      ],
    } as Partial<FeedBatch>);
    expect(code(() => openBatch(signBatch(peer, hub.privateKey), trust))).toBe('DELTA_WRONG_PUBLISHER');
    expect(code(() => openBatch(Buffer.from('garbage'), trust))).toBe('DELTA_MALFORMED');
    expect(code(() => openBatch(Buffer.from('{"kid":1}\n{}'), trust))).toBe('DELTA_MALFORMED');
  });

  it('refuses a batch whose op count disagrees with its sequence range, or a malformed op', () => {
    expect(code(() => openBatch(signBatch(batch({ toSeq: 2 }), hub.privateKey), trust))).toBe(
      'DELTA_MALFORMED',
    );
    const bad = batch({ ops: [{ op: 'put', k: 'zz', v: 'AA==' }] } as Partial<FeedBatch>);
    expect(code(() => openBatch(signBatch(bad, hub.privateKey), trust))).toBe('DELTA_MALFORMED');
  });

  it('builds revocation ops keyed like whitelist rows', () => {
    const op = revocationPutOp(indexKey, {
      issuerKeyId: '0a0b',
      serial: '01f2',
      revokedAt: '2026-01-02T00:00:00Z',
      reason: 'keyCompromise',
    });
    expect(op).toMatchObject({
      op: 'put',
      k: indexKey.cardKey('0a0b', '01f2').toString('hex'),
      reason: 'keyCompromise',
    });
  });
});

describe('privacy of rows', () => {
  it('opens only with the SPKI hash the row was built for', () => {
    const row = whitelistRow(indexKey, { issuerKeyId: '0a0b', serial: '01f2', spkiSha256: spki, record });
    expect(openCardRecord(row.v, row.k, spki)).toEqual(record);
    expect(openCardRecord(row.v, row.k, 'cd'.repeat(32))).toBeNull();
    // Moved to another row key: the key is authenticated data, so it does not open either.
    expect(openCardRecord(row.v, indexKey.cardKey('0a0b', '01f3'), spki)).toBeNull();
    expect(row.v.includes(Buffer.from('u-0001'))).toBe(false);
  });

  it('canonicalizes serials: separators, case and DER zero padding give one key', () => {
    expect(serialBytes('00:F2')).toEqual(Buffer.from([0xf2]));
    expect(indexKey.cardKey('0a0b', '00f2')).toEqual(indexKey.cardKey('0A:0B', 'F2'));
    expect(IndexKey.fromSecret('22'.repeat(32)).cardKey('0a0b', 'f2')).not.toEqual(
      indexKey.cardKey('0a0b', 'f2'),
    );
  });

  it('keys a card with HMAC-SHA256 of domain, issuer and serial (the fast path equals createHmac)', () => {
    const secret = '5a'.repeat(32);
    const key = IndexKey.fromSecret(secret);
    for (const [issuer, serial] of [
      ['0a0b', '01f2'],
      ['ff'.repeat(64), 'ab'.repeat(40)],
      ['01', '00'],
    ] as const) {
      const i = Buffer.from(issuer, 'hex');
      const s = serialBytes(serial);
      const want = createHmac('sha256', Buffer.from(secret, 'hex'))
        .update('jpki-kiosk/card-key/v1\0')
        .update(Buffer.of(i.length))
        .update(i)
        .update(Buffer.of(s.length))
        .update(s)
        .digest()
        .subarray(0, 16);
      expect(key.cardKey(issuer, serial)).toEqual(want);
    }
  });

  it('seals with AES-256-GCM under HKDF-Expand(SPKI hash, label ‖ row key), a fresh nonce per row', () => {
    const row = whitelistRow(indexKey, { issuerKeyId: '0a0b', serial: '01f2', spkiSha256: spki, record });
    // The key computed independently with createHmac (RFC 5869, one block of output).
    const key = createHmac('sha256', Buffer.from(spki, 'hex'))
      .update('jpki-kiosk/entitlement/v1')
      .update(row.k)
      .update(Buffer.of(1))
      .digest();
    const iv = Buffer.concat([Buffer.alloc(4), row.v.subarray(1, 9)]);
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: 12 });
    decipher.setAAD(row.k);
    decipher.setAuthTag(row.v.subarray(row.v.length - 12));
    const plain = Buffer.concat([decipher.update(row.v.subarray(9, row.v.length - 12)), decipher.final()]);
    expect(plain).toEqual(encodeCardRecord(record));
    // Nonces never repeat, across the pool's refills too.
    const nonces = new Set<string>();
    for (let i = 0; i < 20_000; i++)
      nonces.add(sealCardRecord(record, row.k, spki).subarray(1, 9).toString('hex'));
    expect(nonces.size).toBe(20_000);
    // A flipped tag bit does not open.
    const forged = Buffer.from(row.v);
    forged[forged.length - 1]! ^= 1;
    expect(openCardRecord(forged, row.k, spki)).toBeNull();
  });

  it('refuses malformed entitlements with a typed error naming the field', () => {
    const badRecord = { subject: 'u', entitlements: [{ ...record.entitlements[0]!, copayRatio: 3 }] };
    expect(
      code(() =>
        whitelistRow(indexKey, { issuerKeyId: '0a', serial: '01', spkiSha256: spki, record: badRecord }),
      ),
    ).toBe('IMPORT_INVALID');
  });
});

describe('snapshots', () => {
  it('writes rows in key order, signs the manifest, and reads back with a matching hash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wl-snap-'));
    const file = join(dir, 'rows');
    const rows = ['01', '02', '03'].map((s) =>
      whitelistRow(indexKey, { issuerKeyId: '0a', serial: s, spkiSha256: spki, record }),
    );
    rows.sort((a, b) => Buffer.compare(a.k, b.k));
    const w = new SnapshotWriter(file, 'whitelist');
    for (const r of rows) w.add(r.k, r.v);
    expect(code(() => w.add(rows[0]!.k, rows[0]!.v))).toBe('SNAPSHOT_INVALID');
    const { manifest, signed } = w.finish(
      { epoch: 'snap-1', seq: 3, asOf: '2026-11-21T10:00:00Z' },
      hub.privateKey,
    );
    expect(openManifest(signed, trust)).toEqual(manifest);
    const r = new SnapshotReader(file);
    const back = [];
    for (let row = r.next(); row; row = r.next()) back.push(row);
    expect(back.map((x) => x.k.toString('hex'))).toEqual(rows.map((x) => x.k.toString('hex')));
    expect(r.digest()).toBe(manifest.rowsSha256);
    const edited = Buffer.from(signed);
    edited[edited.length - 3] = edited[edited.length - 3]! ^ 1;
    expect(code(() => openManifest(edited, trust))).toBe('SNAPSHOT_INVALID');
    writeFileSync(join(dir, 'trunc'), readFileSync(file).subarray(0, 40));
    const t = new SnapshotReader(join(dir, 'trunc'));
    expect(code(() => t.next())).toBe('SNAPSHOT_INVALID');
  });
});

describe('entitlement codec', () => {
  it('round-trips every kind, keeping leading zeros and non-digit symbols', () => {
    const all = {
      subject: 'subj-日本',
      entitlements: [
        {
          kind: 'ticket' as const,
          eventId: 'ev',
          seat: 'A-1',
          zones: ['n', 's'],
          gates: [],
          validFrom: '2026-11-21T09:00:00Z',
          validTo: '2026-11-21T23:30:00Z',
          entriesAllowed: 0,
          reentry: 'allow' as const,
        },
        {
          kind: 'insurance' as const,
          insurerNumber: '001234',
          symbol: '記号-7',
          number: '0000123',
          branch: '00',
          copayRatio: 0.2,
          validFrom: '2026-04-01',
          validTo: '2027-03-31',
          status: 'superseded' as const,
        },
        {
          kind: 'resident' as const,
          residentId: 'r1',
          householdId: 'h1',
          displayName: '山田',
          careNeeds: ['wheelchair'],
        },
        { kind: 'member' as const, memberId: 'm-1', tier: 'gold', validTo: '2027-01-01' },
      ],
    };
    expect(decodeCardRecord(encodeCardRecord(all))).toEqual(all);
  });

  it('reports undecodable bytes as STORE_CORRUPT, never as an untyped error', () => {
    const good = encodeCardRecord(record);
    for (let cut = 0; cut < good.length; cut++) {
      expect(code(() => decodeCardRecord(good.subarray(0, cut)))).toBe('STORE_CORRUPT');
    }
    for (let i = 0; i < 500; i++) {
      const noise = Buffer.from(good);
      noise[i % noise.length] = (i * 37) & 0xff;
      const outcome = code(() => decodeCardRecord(noise));
      expect(outcome === undefined || outcome === 'STORE_CORRUPT').toBe(true);
    }
  });
});
