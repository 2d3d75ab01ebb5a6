// The entry ledger is the only writer of journal records and presence: a gate report for a grant it
// does not know is a typed error (never journaled with a guessed direction).
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../base/clock.js';
import type { KioskData } from '../../whitelist/kiosk-data.js';
import { EntryLedger } from '../../main/core/terminal/entry-ledger.js';
import { configFor } from './helpers.js';

function ledger() {
  const appended: Record<string, unknown>[] = [];
  const presence: Record<string, unknown>[] = [];
  const stores = {
    journal: {
      append: (r: Record<string, unknown>) => {
        appended.push(r);
        return { seq: appended.length };
      },
      head: () => ({ seq: appended.length }),
    },
    terminal: { setPresence: (p: Record<string, unknown>) => presence.push(p) },
  } as unknown as KioskData;
  const l = new EntryLedger({
    config: configFor(),
    clock: systemClock,
    stores: () => stores,
    site: () => ({ gateId: 'gate-a', zone: 'main' }),
  });
  return { l, appended, presence };
}

describe('entry ledger', () => {
  it('refuses a passage report for an unknown grant with ENTRY_UNKNOWN and writes nothing', async () => {
    const { l, appended, presence } = ledger();
    const recorder = l.passageRecorder();
    expect(() =>
      recorder.recordPassage('42', { passedAt: new Date().toISOString(), evidence: 'sensor' } as never),
    ).toThrow(expect.objectContaining({ code: 'ENTRY_UNKNOWN' }));
    expect(() => recorder.recordAnnulment('42', 'no_passage' as never, {} as never)).toThrow(
      expect.objectContaining({ code: 'ENTRY_UNKNOWN' }),
    );
    expect(appended).toEqual([]);
    expect(presence).toEqual([]);
  });

  it('refuses to annul a decision it does not hold', () => {
    const { l } = ledger();
    expect(() => l.annul('missing', 'other')).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });
});
