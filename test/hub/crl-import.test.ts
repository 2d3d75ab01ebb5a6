// The hub's CRL import against CRLs made by the `openssl ca` command line (a private CA folder per test
// file: index.txt, crlnumber, `openssl ca -gencrl` with extension sections for deltaCRLIndicator and
// issuingDistributionPoint), as RFC 5280 §5 and §6.3 ask: a complete CRL, a later complete CRL, a delta
// CRL applied against its base, an expired CRL, a CRL whose CA lacks cRLSign, a partitioned CRL. Each
// refusal has its code and message and changes nothing at the hub; what is published is replayed into a
// terminal store, which keeps the signed CRL status beside the rows.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importCrl, openCrl, readCrl } from '../../hub/import-crl.js';
import { fileSource } from '../../hub/crl-stream.js';
import { openHubDir, type HubDir } from '../../hub/hub-dir.js';
import { openBatch, type FeedBatch } from '../../protocol/feed-format.js';
import { openPinnedRoot, trustFromRoot } from '../../protocol/root-of-trust.js';
import { FRAME_HEADER_BYTES } from '../../protocol/sync.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { IndexKey } from '../../whitelist/privacy.js';
import { createHub } from '../../hub/server.js';
import { renderStatusPage, statusModel } from '../../hub/status-page.js';
import { openTerminal, tempDir } from '../sync/helpers.js';

const HOUR = 3600_000;
/** The hub clock of this test: the CRLs are dated around it. */
const T0 = Date.parse('2026-12-04T00:00:00Z');

interface Revoked {
  serial: string;
  reason: string;
  at?: string;
}

/** A CA folder driven by `openssl ca`. `crlSign: false` makes a CA certificate whose keyUsage lacks cRLSign. */
class OpensslCa {
  readonly pem: string;
  readonly ski: string;
  constructor(
    readonly dir: string,
    readonly name: string,
    crlSign = true,
  ) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'crlnumber'), '01\n');
    writeFileSync(join(dir, 'ca.cnf'), this.config({}, crlSign));
    this.openssl([
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      join(dir, 'ca.key'),
      '-out',
      join(dir, 'ca.pem'),
      '-days',
      '3650',
      '-config',
      join(dir, 'ca.cnf'),
      '-extensions',
      'v3_ca',
    ]);
    this.pem = readFileSync(join(dir, 'ca.pem'), 'latin1');
    this.ski = this.openssl(['x509', '-in', join(dir, 'ca.pem'), '-noout', '-ext', 'subjectKeyIdentifier'])
      .split('\n')[1]!
      .trim()
      .replace(/:/g, '')
      .toLowerCase();
  }

  private openssl(args: string[]): string {
    return execFileSync('openssl', args, { cwd: this.dir, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  }

  private config(o: { deltaBase?: number; idp?: boolean }, crlSign = true): string {
    return `
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = ${this.name}
[ v3_ca ]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign${crlSign ? ',cRLSign' : ''}
subjectKeyIdentifier = hash
[ ca ]
default_ca = CA_default
[ CA_default ]
dir = ${this.dir}
database = $dir/index.txt
crlnumber = $dir/crlnumber
certificate = $dir/ca.pem
private_key = $dir/ca.key
default_md = sha256
default_crl_hours = 36
[ gen_ext ]
authorityKeyIdentifier = keyid:always
${o.deltaBase !== undefined ? `2.5.29.27 = critical,ASN1:INTEGER:${o.deltaBase}` : ''}
${o.idp ? 'issuingDistributionPoint = critical,@idp' : ''}
[ idp ]
fullname = URI:http://crl.example/part1.crl
onlyuser = TRUE
`;
  }

  /**
   * `openssl ca -gencrl` over an index of the given revocations; the CRL number is the CA's next one
   * (the crlnumber file), the dates are hub-clock hours relative to T0.
   */
  crl(
    revoked: Revoked[],
    o: { lastHours?: number; nextHours?: number; deltaBase?: number; idp?: boolean } = {},
  ): Buffer {
    const index = revoked
      .map(
        (r) =>
          `R\t301231000000Z\t${r.at ?? '261201000000Z'},${r.reason}\t${r.serial}\tunknown\t/CN=${r.serial}`,
      )
      .join('\n');
    writeFileSync(join(this.dir, 'index.txt'), index ? index + '\n' : '');
    writeFileSync(join(this.dir, 'ca.cnf'), this.config(o));
    const stamp = (hours: number) =>
      new Date(T0 + hours * HOUR).toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
    const out = join(this.dir, 'out.crl');
    this.openssl([
      'ca',
      '-config',
      join(this.dir, 'ca.cnf'),
      '-gencrl',
      '-crlexts',
      'gen_ext',
      '-crl_lastupdate',
      stamp(o.lastHours ?? 0),
      '-crl_nextupdate',
      stamp(o.nextHours ?? 36),
      '-out',
      out,
    ]);
    return readFileSync(out);
  }
}

let root: string;
let hub: HubDir;
let ca: OpensslCa;
let noCrlSign: OpensslCa;
let indexKey: IndexKey;

beforeAll(() => {
  root = tempDir('crl-import');
  hub = openHubDir(join(root, 'hub'), { now: () => T0, keyStore: 'file' });
  indexKey = IndexKey.fromSecret(readFileSync(hub.indexKeyFile, 'utf8'));
  ca = new OpensslCa(join(root, 'ca'), 'Test CRL CA');
  noCrlSign = new OpensslCa(join(root, 'ca-no-crlsign'), 'Test CA without cRLSign', false);
});

afterAll(() => {
  hub?.close();
  rmSync(root, { recursive: true, force: true });
});

const cas = (): string[] => [ca.pem, noCrlSign.pem];

function imp(bytes: Buffer, options: { now?: number; allowPartitions?: string[] } = {}) {
  return importCrl(hub.store, hub.publisher, bytes, cas(), 'test.crl', {
    now: () => options.now ?? T0,
    ...(options.allowPartitions ? { allowPartitions: options.allowPartitions } : {}),
  });
}

/** The serials the hub holds as revoked for an issuer scope (row keys mapped back through the index key). */
function revokedAtHub(serials: string[], scope = ca.ski): string[] {
  const held = hub.store.stateDigests('revocations', scope);
  return serials.filter((s) => held.has(indexKey.cardKey(ca.ski, s).toString('hex')));
}

/** Everything a refused import must leave as it was. */
function hubSnapshot() {
  return {
    info: hub.store.feedInfo('revocations'),
    rows: [...hub.store.stateDigests('revocations').entries()].sort(),
    crl: hub.store.crlStatuses(),
  };
}

/** The signed batches the hub published after `after`, opened as a terminal would. */
function batchesAfter(after: number): FeedBatch[] {
  const trust = trustFromRoot(openPinnedRoot(readFileSync(hub.rootFile)));
  return hub.store.batchesAfter('revocations', after, 1000).map((b) => {
    const framed = gunzipSync(b.frameGz);
    return openBatch(framed.subarray(FRAME_HEADER_BYTES), trust);
  });
}

const ALL = ['1001', '1002', '1003', '1004', '1005', '1006'];

describe('hub import-crl with CRLs from `openssl ca`', () => {
  let terminal: KioskData;
  beforeAll(() => {
    terminal = KioskData.open({
      dir: join(root, 'terminal'),
      indexKey,
      root: readFileSync(hub.rootFile),
    });
  });
  afterAll(() => terminal?.close());

  /** Applies what the hub published since the terminal's sequence, as a sync would. */
  function syncTerminal(): void {
    const seq = terminal.revocations.feedState().seq;
    for (const b of hub.store.batchesAfter('revocations', seq, 1000))
      terminal.applyBatch(gunzipSync(b.frameGz).subarray(FRAME_HEADER_BYTES));
  }

  it('a complete CRL: its entries are published with the signed CRL status', async () => {
    const r = await imp(
      ca.crl([
        { serial: '1001', reason: 'keyCompromise' },
        { serial: '1002', reason: 'certificateHold' },
        { serial: '1003', reason: 'superseded' },
      ]),
    );
    expect(r).toMatchObject({ kind: 'complete', crlNumber: '1', entries: 3, puts: 3, dels: 0 });
    expect(revokedAtHub(ALL)).toEqual(['1001', '1002', '1003']);
    const [batch] = batchesAfter(0);
    expect(batch!.issuers).toEqual([
      {
        issuerKeyId: ca.ski,
        crlNumber: '1',
        thisUpdate: new Date(T0).toISOString(),
        nextUpdate: new Date(T0 + 36 * HOUR).toISOString(),
      },
    ]);
    syncTerminal();
    expect(terminal.freshness(T0).revocations.crl?.oldest).toMatchObject({ crlNumber: '1' });
  });

  it('a later complete CRL replaces the issuer list: dropped serials are deleted', async () => {
    const r = await imp(
      ca.crl(
        [
          { serial: '1001', reason: 'keyCompromise' },
          { serial: '1004', reason: 'keyCompromise' },
        ],
        { lastHours: 1, nextHours: 37 },
      ),
      { now: T0 + HOUR },
    );
    expect(r).toMatchObject({ kind: 'complete', crlNumber: '2', puts: 1, dels: 2, unchanged: 1 });
    expect(revokedAtHub(ALL)).toEqual(['1001', '1004']);
  });

  it('a delta CRL is applied against its base: additions put, removeFromCRL deleted, nothing else', async () => {
    // Security: taken as a complete list, this delta deleted 1004 (revoked in CRL 2, not repeated in the
    // delta) — un-revoked at every terminal.
    const before = terminal.revocations.feedState().seq;
    const r = await imp(
      ca.crl(
        [
          { serial: '1005', reason: 'keyCompromise' },
          { serial: '1001', reason: 'removeFromCRL' },
        ],
        { lastHours: 2, nextHours: 38, deltaBase: 2 },
      ),
      { now: T0 + 2 * HOUR },
    );
    expect(r).toMatchObject({ kind: 'delta', crlNumber: '3', entries: 1, removals: 1, puts: 1, dels: 1 });
    expect(revokedAtHub(ALL)).toEqual(['1004', '1005']);
    expect(hub.store.crlState(ca.ski)).toMatchObject({ crlNumber: '3' });
    // The terminal gets the same: 1004 stays revoked there too.
    syncTerminal();
    expect(terminal.revocations.feedState().seq).toBeGreaterThan(before);
    const revokedAtTerminal = ALL.filter(
      (s) => terminal.lookup({ issuerKeyId: ca.ski, serial: s, spkiSha256: '00'.repeat(32) }).revoked,
    );
    expect(revokedAtTerminal).toEqual(['1004', '1005']);
    expect(terminal.freshness(T0).revocations.crl?.oldest).toMatchObject({
      crlNumber: '3',
      nextUpdate: new Date(T0 + 38 * HOUR).toISOString(),
    });
  });

  it('a delta whose base the hub does not hold is refused with CRL_DELTA_BASE, changing nothing', async () => {
    const held = hubSnapshot();
    // The CA's next number is 4; its base (9) is newer than the CRL the hub holds (3).
    await expect(
      imp(
        ca.crl([{ serial: '1006', reason: 'keyCompromise' }], { lastHours: 3, nextHours: 39, deltaBase: 9 }),
        {
          now: T0 + 3 * HOUR,
        },
      ),
    ).rejects.toMatchObject({
      code: 'CRL_DELTA_BASE',
      message: expect.stringMatching(/delta against complete CRL 9, newer than the CRL the hub holds \(3\)/),
    });
    expect(hubSnapshot()).toEqual(held);
  });

  it('an expired CRL (nextUpdate past) is refused with CRL_EXPIRED, changing nothing', async () => {
    // Security: the hub imported it and terminals took a dead list as current.
    const held = hubSnapshot();
    await expect(
      imp(ca.crl([{ serial: '1006', reason: 'keyCompromise' }], { lastHours: -48, nextHours: -12 }), {
        now: T0 + 4 * HOUR,
      }),
    ).rejects.toMatchObject({
      code: 'CRL_EXPIRED',
      message: expect.stringMatching(/expired at .*nextUpdate/),
    });
    expect(hubSnapshot()).toEqual(held);
  });

  it('a CRL signed by a CA certificate without cRLSign is refused with CRL_SIGNER_USAGE, changing nothing', async () => {
    // Security: any key of a configured CA certificate could sign revocation lists.
    const held = hubSnapshot();
    await expect(
      imp(noCrlSign.crl([{ serial: '1006', reason: 'keyCompromise' }], { lastHours: 4, nextHours: 40 }), {
        now: T0 + 4 * HOUR,
      }),
    ).rejects.toMatchObject({ code: 'CRL_SIGNER_USAGE', message: expect.stringMatching(/lacks cRLSign/) });
    expect(hubSnapshot()).toEqual(held);
  });

  it('an older CRL number is refused (CRL_INVALID), changing nothing', async () => {
    const held = hubSnapshot();
    writeFileSync(join(ca.dir, 'crlnumber'), '02\n');
    await expect(
      imp(ca.crl([], { lastHours: 5, nextHours: 41 }), { now: T0 + 5 * HOUR }),
    ).rejects.toMatchObject({
      code: 'CRL_INVALID',
      message: expect.stringMatching(/older than the one already imported \(3\)/),
    });
    expect(hubSnapshot()).toEqual(held);
    writeFileSync(join(ca.dir, 'crlnumber'), '0a\n');
  });

  it('a partitioned CRL (issuingDistributionPoint) is refused unless its partition is allowed', async () => {
    // Security: taken as the issuer's complete list, a partition deleted every serial of the others.
    const held = hubSnapshot();
    const partitioned = ca.crl([{ serial: '1006', reason: 'keyCompromise' }], {
      lastHours: 6,
      nextHours: 42,
      idp: true,
    });
    const id = 'http://crl.example/part1.crl;onlyUserCerts';
    await expect(imp(partitioned, { now: T0 + 6 * HOUR })).rejects.toMatchObject({
      code: 'CRL_PARTITIONED',
      message: expect.stringContaining(`--allow-partition '${id}'`),
    });
    expect(hubSnapshot()).toEqual(held);

    const r = await imp(partitioned, { now: T0 + 6 * HOUR, allowPartitions: [id] });
    expect(r).toMatchObject({ kind: 'complete', partition: id, puts: 1, dels: 0 });
    // The partition's rows are added beside the issuer's; nothing of the complete list went away.
    expect(revokedAtHub(ALL)).toEqual(['1004', '1005']);
    expect(revokedAtHub(ALL, `${ca.ski}#${id}`)).toEqual(['1006']);
    expect(hub.store.crlStatuses().map((s) => s.partition ?? null)).toEqual([null, id]);
  });

  it('a new CRL that changes no serial still publishes its status (one status-only op)', async () => {
    const head = hub.store.feedInfo('revocations').head;
    const r = await imp(
      ca.crl(
        [
          { serial: '1004', reason: 'keyCompromise' },
          { serial: '1005', reason: 'keyCompromise' },
        ],
        { lastHours: 24, nextHours: 60 },
      ),
      { now: T0 + 24 * HOUR },
    );
    expect(r).toMatchObject({ kind: 'complete', puts: 0, dels: 0, unchanged: 2, batches: 1, head: head + 1 });
    const [batch] = batchesAfter(head);
    expect(batch!.ops).toEqual([{ op: 'crl-status' }]);
    expect(batch!.issuers?.find((s) => s.partition === undefined)).toMatchObject({
      crlNumber: r.crlNumber,
      nextUpdate: new Date(T0 + 60 * HOUR).toISOString(),
    });
    syncTerminal();
    const crl = terminal.freshness(T0).revocations.crl!;
    expect(crl.issuers).toHaveLength(2);
    // The oldest issuer counts: the partition's CRL (nextUpdate T0 + 42 h).
    expect(crl.oldest).toMatchObject({ partition: 'http://crl.example/part1.crl;onlyUserCerts' });
  });

  it('a terminal installing a revocation snapshot gets the CRL status from the signed manifest', async () => {
    const server = createHub({
      store: hub.store,
      publisher: hub.publisher,
      hubId: hub.hubId,
      snapshotMinOps: 1,
      now: () => T0 + 24 * HOUR,
      maxSkewSeconds: 7 * 24 * 3600, // request signatures carry the system clock
    });
    await server.app.listen({ host: '127.0.0.1', port: 0 });
    const port = (server.app.server.address() as { port: number }).port;
    const t = openTerminal(root, 'snap', hub, `http://127.0.0.1:${port}`);
    try {
      const report = await t.client.syncNow();
      expect(report.pulls.revocations).toMatchObject({ snapshot: true });
      expect(t.data.freshness(T0).revocations.crl?.issuers).toEqual(hub.store.crlStatuses());
      expect(t.data.freshness(T0).revocations.crl?.issuers).toHaveLength(2);
    } finally {
      await t.close();
      await server.close();
    }
  });

  it('the hub status page lists each CRL with its next update and flags an expired one', () => {
    const fresh = statusModel(hub.store, T0 + 24 * HOUR);
    expect(fresh.crl.map((c) => c.expired)).toEqual([false, false]);
    const late = statusModel(hub.store, T0 + 43 * HOUR); // the partition's CRL: nextUpdate T0 + 42 h
    expect(late.crl.find((c) => c.partition)?.expired).toBe(true);
    expect(renderStatusPage(late)).toContain('EXPIRED: import the new CRL');
  });
});

describe('a CRL read where it lies (the DER walked a window at a time, entries decoded one by one)', () => {
  const der = (pem: Buffer) =>
    Buffer.from(pem.toString('latin1').replace(/-----[A-Z0-9 ]+-----|\s+/g, ''), 'base64');
  const many: Revoked[] = [
    { serial: '2001', reason: 'keyCompromise', at: '261130120000Z' },
    { serial: 'FF02', reason: 'certificateHold' },
    { serial: '7F03', reason: 'removeFromCRL' },
    { serial: '2004', reason: 'unspecified' },
    { serial: '00A5', reason: 'cessationOfOperation' },
    { serial: '2006', reason: 'superseded' },
  ];

  it('gives what the whole-CRL parser gives: header, entries and removals, from a DER file', async () => {
    const file = join(root, 'many.der');
    writeFileSync(file, der(ca.crl(many, { lastHours: 10, nextHours: 40 })));
    const whole = await readCrl(readFileSync(file), cas());
    const src = fileSource(file);
    try {
      const { header, items } = await openCrl(src, cas());
      const { entries, removals, ...rest } = whole;
      expect(header).toEqual(rest);
      const got = [...items()];
      expect(got.filter((i) => !i.removal).map((i) => (i.removal ? null : i.entry))).toEqual(entries);
      expect(got.filter((i) => i.removal).map((i) => (i.removal ? i.serial : null))).toEqual(removals);
      expect(entries).toHaveLength(5);
    } finally {
      src.close();
    }
  });

  it('refuses a CRL whose entry was altered (the signature covers the entries it no longer parses whole)', async () => {
    const bytes = der(ca.crl(many, { lastHours: 11, nextHours: 41 }));
    const at = bytes.indexOf(Buffer.from('02022004', 'hex'));
    expect(at).toBeGreaterThan(0);
    const altered = Buffer.from(bytes);
    altered[at + 3] = 0x09; // serial 2004 → 2009, same length
    const held = hubSnapshot();
    await expect(imp(altered, { now: T0 + 11 * HOUR })).rejects.toMatchObject({
      code: 'CRL_INVALID',
      message: expect.stringContaining('is not signed by a configured CA'),
    });
    expect(hubSnapshot()).toEqual(held);
    await expect(imp(Buffer.concat([bytes.subarray(0, 100)]), { now: T0 + 11 * HOUR })).rejects.toMatchObject(
      {
        code: 'CRL_INVALID',
      },
    );
  });
});
