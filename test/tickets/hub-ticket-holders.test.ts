// The hub publishes ticket holder rows (staff find a holder by ticket number offline) as a scope of their
// own in the whitelist feed: a card import neither lists nor deletes them; replacing the holders replaces
// only them; a holder row opens with its ticket number and with nothing else.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHubDir, type HubDir } from '../../hub/hub-dir.js';
import { TICKET_ISSUER_KEY_ID, ticketRowIdentity } from '../../protocol/ticket.js';
import { IndexKey, openCardRecord } from '../../whitelist/privacy.js';
import { cardRow, cleanup, tempDir } from '../sync/helpers.js';

let root: string;
let dir: HubDir;

const holder = {
  ticketNumber: 'TK-2001',
  record: {
    subject: 'S1',
    entitlements: [
      {
        kind: 'ticket' as const,
        eventId: 'HUB-EVENT',
        seat: 'C-7',
        zones: [],
        gates: [],
        validFrom: '2026-01-01T00:00:00Z',
        validTo: '2030-01-01T00:00:00Z',
        entriesAllowed: 1,
      },
    ],
  },
};

function holderValue(ticketNumber: string): { k: Buffer; v: Buffer } | null {
  const indexKey = IndexKey.fromSecret(readFileSync(dir.indexKeyFile, 'utf8'));
  const id = ticketRowIdentity(ticketNumber);
  const k = indexKey.cardKey(id.issuerKeyId, id.serial);
  const state = dir.store.readState('whitelist');
  try {
    for (const row of state.rows) if (row.k.equals(k)) return { k, v: Buffer.from(row.v) };
    return null;
  } finally {
    state.close();
  }
}

beforeAll(() => {
  root = tempDir('ticket-holders');
  dir = openHubDir(join(root, 'hub'), { indexKeyFile: null, keyStore: 'file' });
});

afterAll(() => {
  dir?.close();
  cleanup(root);
});

describe('ticket holder rows at the hub', () => {
  it('a card import leaves the holder rows alone; replacing the holders replaces only them', () => {
    dir.publisher.publishWhitelist([cardRow(1), cardRow(2)], 'cards');
    const published = dir.publisher.publishTicketHolders([holder], 'holders');
    expect(published).toMatchObject({ puts: 1, dels: 0 });
    const again = dir.publisher.publishWhitelist([cardRow(1)], 'cards without 2');
    expect(again).toMatchObject({ puts: 0, dels: 1 });
    expect(dir.store.stateDigests('whitelist', TICKET_ISSUER_KEY_ID).size).toBe(1);
    const row = holderValue(holder.ticketNumber)!;
    expect(row).not.toBeNull();
    expect(openCardRecord(row.v, row.k, ticketRowIdentity(holder.ticketNumber).spkiSha256)?.subject).toBe(
      'S1',
    );
    // sealed under the number: another number's seal key does not open it
    expect(openCardRecord(row.v, row.k, ticketRowIdentity('TK-2002').spkiSha256)).toBeNull();
    const cleared = dir.publisher.publishTicketHolders([], 'no holders');
    expect(cleared).toMatchObject({ puts: 0, dels: 1 });
    expect(holderValue(holder.ticketNumber)).toBeNull();
    expect(dir.store.stateDigests('whitelist').size).toBe(1);
  });

  it('a malformed ticket number is refused before anything is published', () => {
    expect(() =>
      dir.publisher.publishTicketHolders([{ ...holder, ticketNumber: 'TK 2001' }], 'bad'),
    ).toThrowError(expect.objectContaining({ code: 'IMPORT_INVALID' }) as Error);
  });
});
