import { describe, expect, it } from 'vitest';
import { decodeCardRecord, encodeCardRecord } from '../../whitelist/entitlements.js';
import { isKioskError } from '../../base/errors.js';
import { Languages } from '../../base/languages.js';

const ticket = {
  kind: 'ticket' as const,
  eventId: 'EV-1',
  seat: 'A-1',
  validFrom: '2026-01-01T00:00:00Z',
  validTo: '2027-01-01T00:00:00Z',
};

describe("a whitelist row names the holder's language", () => {
  it('round-trips every language, and a row without one keeps its old bytes', () => {
    const plain = encodeCardRecord({ subject: 'S-1', entitlements: [ticket] });
    expect(decodeCardRecord(plain).language).toBeUndefined();
    for (const language of Languages) {
      const bytes = encodeCardRecord({ subject: 'S-1', entitlements: [ticket], language });
      expect(bytes.subarray(0, plain.length)).toEqual(plain);
      expect(bytes.length).toBe(plain.length + 2);
      expect(decodeCardRecord(bytes).language).toBe(language);
    }
  });

  it('an unknown language is refused at import and a bad tag or index is a corrupt row', () => {
    try {
      encodeCardRecord({ subject: 'S-1', entitlements: [ticket], language: 'xx' as never });
      expect.fail('accepted');
    } catch (e) {
      expect(isKioskError(e, 'IMPORT_INVALID')).toBe(true);
    }
    const plain = encodeCardRecord({ subject: 'S-1', entitlements: [ticket] });
    for (const tail of [[1, 200], [9, 0], [1]]) {
      try {
        decodeCardRecord(Buffer.concat([plain, Buffer.from(tail)]));
        expect.fail(`decoded ${tail}`);
      } catch (e) {
        expect(isKioskError(e, 'STORE_CORRUPT')).toBe(true);
      }
    }
  });
});
