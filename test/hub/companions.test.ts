// The hub's side of companion seat transfers (hub/companions.ts) on its SQLite store, without terminals:
// what a code may move and to whom. The whole path with real terminals is test/tickets/companions.test.ts.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KioskError } from '../../base/errors.js';
import { bindCompanion, issueTransferCodes } from '../../hub/companions.js';
import { openHubDir, type HubDir } from '../../hub/hub-dir.js';
import type { TerminalRecord } from '../../hub/store.js';
import { openCardRecord } from '../../whitelist/privacy.js';
import { writeFileSync } from 'node:fs';
import { run } from '../../main/cli/hub-command.js';
import { captureStdout } from '../support/capture-stdout.js';
import { cleanup, ISSUER, startHub, tempDir } from '../sync/helpers.js';

const EVENT = 'E-1';
const ticket = (seat: string) => ({
  kind: 'ticket' as const,
  eventId: EVENT,
  seat,
  zones: [],
  gates: [],
  validFrom: '2026-01-01T00:00:00Z',
  validTo: '2030-01-01T00:00:00Z',
  entriesAllowed: 1,
});
const card = (i: number) => ({
  issuerKeyId: ISSUER,
  serial: (0x20000000 + i).toString(16),
  spkiSha256: createHash('sha256').update(`companion spki ${i}`).digest('hex'),
});
const desk = (siteKind: string): TerminalRecord => ({
  terminalId: 'T-desk',
  publicKeyPem: '',
  siteId: 'S',
  gateId: 'G',
  zone: 'main',
  siteKind,
  registeredAt: 0,
  lastSeenAt: null,
  status: null,
  acked: 0,
});

let root: string;
let hub: HubDir;
const now = Date.parse('2026-06-01T10:00:00Z');
const at = () => ({ store: hub.store, indexKey: hub.publisher.indexKey });

function row(c: ReturnType<typeof card>) {
  const k = hub.publisher.indexKey.cardKey(c.issuerKeyId, c.serial);
  const state = hub.store.readState('whitelist');
  try {
    for (const r of state.rows) if (r.k.equals(k)) return openCardRecord(r.v, k, c.spkiSha256);
  } finally {
    state.close();
  }
  return null;
}

async function code(seat: string): Promise<string> {
  return issueTransferCodes(at(), card(1), EVENT, [seat], 600, now)[0]!.code;
}

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (error) {
    expect(error).toBeInstanceOf(KioskError);
    return (error as KioskError).code;
  }
  throw new Error('expected a refusal');
};

beforeEach(() => {
  root = tempDir('companions');
  hub = openHubDir(join(root, 'hub'), { keyStore: 'file' });
  hub.publisher.publishWhitelist(
    [
      { ...card(1), record: { subject: 'BUYER', entitlements: [ticket('A-1'), ticket('A-2')] } },
      { ...card(3), record: { subject: 'OTHER', entitlements: [{ kind: 'member', memberId: 'm3' }] } },
    ],
    'import',
  );
});

afterEach(() => {
  hub.close();
  cleanup(root);
});

describe('companion seat transfers at the hub', () => {
  it('issues one code per seat the purchaser holds, refuses a seat it does not hold', () => {
    const codes = issueTransferCodes(at(), card(1), EVENT, [], 600, now);
    expect(codes.map((c) => c.seat)).toEqual(['A-1', 'A-2']);
    expect(new Set(codes.map((c) => c.code)).size).toBe(2);
    expect(refusal(() => issueTransferCodes(at(), card(1), EVENT, ['Z-9'], 600, now))).toBe(
      'TRANSFER_REFUSED',
    );
    // A wrong SPKI hash opens no row: the operator must name the purchaser's card exactly.
    expect(
      refusal(() =>
        issueTransferCodes(at(), { ...card(1), spkiSha256: card(9).spkiSha256 }, EVENT, [], 600, now),
      ),
    ).toBe('TRANSFER_REFUSED');
    // Only digests are stored: the code itself is nowhere in the database.
    const stored = hub.store.transferCode(createHash('sha256').update(codes[0]!.code).digest('hex'));
    expect(stored).toMatchObject({ seat: 'A-1', usedAt: null });
    expect(stored!.sealedSpki.includes(Buffer.from(card(1).spkiSha256, 'hex'))).toBe(false);
  });

  it('adds the seat to an existing companion entry, keeping what it had', async () => {
    const answer = bindCompanion(
      hub,
      desk('hospital-reception'),
      { code: await code('A-2'), ...card(3) },
      now,
    );
    expect(answer).toMatchObject({ eventId: EVENT, seat: 'A-2' });
    expect(row(card(3))).toMatchObject({
      subject: 'OTHER',
      entitlements: [{ kind: 'member' }, { kind: 'ticket', seat: 'A-2' }],
    });
    expect(row(card(1))!.entitlements.map((e) => ('seat' in e ? e.seat : null))).toEqual(['A-1']);
  });

  it('refuses the purchaser’s own card, an unattended kiosk, and a seat already moved', async () => {
    const head = hub.store.feedInfo('whitelist').head;
    const first = await code('A-1');
    const second = await code('A-1');
    expect(refusal(() => bindCompanion(hub, desk('stadium-gate'), { code: first, ...card(1) }, now))).toBe(
      'TRANSFER_REFUSED',
    );
    expect(
      refusal(() => bindCompanion(hub, desk('convenience-kiosk'), { code: first, ...card(2) }, now)),
    ).toBe('TRANSFER_REFUSED');
    expect(hub.store.feedInfo('whitelist').head).toBe(head);
    bindCompanion(hub, desk('stadium-gate'), { code: first, ...card(2) }, now);
    // A second code for the same seat finds it gone from the purchaser: nothing moves twice.
    expect(refusal(() => bindCompanion(hub, desk('stadium-gate'), { code: second, ...card(4) }, now))).toBe(
      'TRANSFER_REFUSED',
    );
    expect(hub.store.transferCode(createHash('sha256').update(second).digest('hex'))!.usedAt).toBeNull();
    // A card whose key does not open its own existing entry (a copied serial) takes no seat.
    const third = await code('A-2');
    expect(
      refusal(() =>
        bindCompanion(
          hub,
          desk('stadium-gate'),
          { code: third, ...card(3), spkiSha256: card(8).spkiSha256 },
          now,
        ),
      ),
    ).toBe('TRANSFER_REFUSED');
  });

  it('spends a code once, refuses it past its expiry, and reads it with dashes or lower case', async () => {
    const c = await code('A-1');
    const typed = (c.match(/.{4}/g) ?? []).join('-').toLowerCase();
    expect(
      refusal(() => bindCompanion(hub, desk('stadium-gate'), { code: c, ...card(2) }, now + 601_000)),
    ).toBe('TRANSFER_CODE_EXPIRED');
    bindCompanion(hub, desk('stadium-gate'), { code: typed, ...card(2) }, now);
    expect(refusal(() => bindCompanion(hub, desk('stadium-gate'), { code: c, ...card(4) }, now))).toBe(
      'TRANSFER_CODE_USED',
    );
    expect(
      refusal(() => bindCompanion(hub, desk('stadium-gate'), { code: 'nonsense', ...card(4) }, now)),
    ).toBe('TRANSFER_CODE_UNKNOWN');
  });

  it('hub transfer-code create prints one code per seat, each good for that seat at a desk', async () => {
    const dir = join(root, 'cli');
    const keyFile = join(root, 'cli-index-key');
    writeFileSync(keyFile, 'cd'.repeat(32) + '\n', { mode: 0o600 });
    const buyer = card(1);
    writeFileSync(
      join(root, 'wl.ndjson'),
      JSON.stringify({ ...buyer, subject: 'BUYER', entitlements: [ticket('B-1'), ticket('B-2')] }) + '\n',
    );
    const common = ['--dir', dir, '--index-key', keyFile];
    await captureStdout(() => run(['import-whitelist', join(root, 'wl.ndjson'), ...common]));
    const out = await captureStdout(() =>
      run([
        'transfer-code',
        'create',
        '--event',
        EVENT,
        '--issuer',
        buyer.issuerKeyId,
        '--serial',
        buyer.serial,
        '--spki',
        buyer.spkiSha256,
        '--seat',
        'B-2',
        '--ttl',
        '3600',
        ...common,
        '--json',
      ]),
    );
    const printed = JSON.parse(out.stdout) as { codes: Array<{ seat: string; code: string }> };
    expect(printed.codes.map((c) => c.seat)).toEqual(['B-2']);
    expect(printed.codes[0]!.code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    await expect(run(['transfer-code', 'create', '--event', EVENT, ...common])).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
    });
    const other = openHubDir(dir, { indexKeyFile: keyFile, keyStore: 'file' });
    try {
      const answer = bindCompanion(
        other,
        desk('stadium-gate'),
        { code: printed.codes[0]!.code, ...card(2) },
        Date.now(),
      );
      expect(answer.seat).toBe('B-2');
    } finally {
      other.close();
    }
  });

  it('over HTTP, a bind request without a registered terminal’s signature is refused and spends nothing', async () => {
    const other = tempDir('companions-http');
    const h = await startHub(other, 0);
    try {
      h.dir.publisher.publishWhitelist(
        [{ ...card(1), record: { subject: 'BUYER', entitlements: [ticket('A-1')] } }],
        'import',
      );
      const [c] = issueTransferCodes(
        { store: h.dir.store, indexKey: h.dir.publisher.indexKey },
        card(1),
        EVENT,
        ['A-1'],
        600,
        Date.now(),
      );
      const res = await fetch(`${h.url}/v1/companions/bind`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ code: c!.code, ...card(2) }),
      });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('SYNC_REFUSED');
      expect(h.dir.store.transferCode(createHash('sha256').update(c!.code).digest('hex'))!.usedAt).toBeNull();
    } finally {
      await h.stop();
      cleanup(other);
    }
  });
});
