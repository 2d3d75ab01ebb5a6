import { describe, expect, it } from 'vitest';
import { relativeTime, relativeTimeIso } from '../../base/relative-time.js';
import { seededRandom } from '../support/seeded-random.js';

const now = Date.parse('2026-12-04T12:00:00Z');

describe('relative time through Intl', () => {
  it('says seconds, minutes, hours and days ago in the language', () => {
    expect(relativeTime(now - 45_000, now, 'en')).toBe('45 seconds ago');
    expect(relativeTime(now - 60_000, now, 'en')).toBe('1 minute ago');
    expect(relativeTime(now - 3 * 60_000, now, 'ja')).toBe('3 分前');
    expect(relativeTime(now - 5 * 3_600_000, now, 'en')).toBe('5 hours ago');
    expect(relativeTime(now - 3 * 86_400_000, now, 'pt-BR')).toBe('há 3 dias');
    expect(relativeTime(now - 2 * 60_000, now, 'vi')).toBe('2 phút trước');
  });

  it('a time ahead of our clock (skew) is "now", never negative', () => {
    const random = seededRandom(17);
    for (let i = 0; i < 200; i++) {
      const ahead = Math.floor(random() * 3_600_000);
      for (const locale of ['en', 'ja', 'es']) {
        const text = relativeTime(now + ahead, now, locale);
        expect(text).toBe(relativeTime(now, now, locale));
        expect(text).not.toMatch(/-|−/);
      }
    }
    expect(relativeTime(now + 90_000, now, 'en')).toBe('now');
    expect(relativeTime(now + 90_000, now, 'ja')).toBe('今');
  });

  it('null or unparsable ISO times give null for the caller to word', () => {
    expect(relativeTimeIso(null, now, 'en')).toBeNull();
    expect(relativeTimeIso('not a time', now, 'en')).toBeNull();
    expect(relativeTimeIso('2026-12-04T11:58:00Z', now, 'en')).toBe('2 minutes ago');
  });
});
