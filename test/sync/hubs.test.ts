// The order of hubs a terminal syncs with: an unreachable hub is passed over (at least 1 s, then the
// supervisor backoff's full-jitter wait), the next one is used meanwhile, and the first is preferred again
// once its wait is over; a success clears its backoff. Fake clock, seeded jitter.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HubChoice } from '../../main/core/sync/hubs.js';
import { softwareSigner } from '../../protocol/http-signature.js';
import { FakeClock } from '../support/fake-clock.js';
import { seededRandom } from '../support/seeded-random.js';

describe('hub fail-over order', () => {
  it('passes over a failed hub, uses the next, and goes back to the first when its wait is over', () => {
    const clock = new FakeClock();
    const hubs = new HubChoice(['https://venue.lan/', 'https://hub.example/', 'https://venue.lan/'], {
      signer: softwareSigner('t', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
      idleTimeoutMs: 1000,
      clock,
      random: seededRandom(7),
      noteHubTime: () => undefined,
    });
    try {
      expect(hubs.links.map((l) => l.base.host)).toEqual(['venue.lan', 'hub.example']);
      const [venue, central] = hubs.links as [
        ReturnType<HubChoice['choose']>,
        ReturnType<HubChoice['choose']>,
      ];
      expect(hubs.choose()).toBe(venue);
      expect(hubs.active()).toBeNull();
      hubs.failed(venue);
      expect(hubs.choose()).toBe(central);
      hubs.ok(central);
      expect(hubs.active()).toEqual({ url: 'https://hub.example/', index: 1, of: 2, answeredAt: clock.time });
      clock.time += 999;
      expect(hubs.choose()).toBe(central);
      clock.time += 2_001; // past the first wait (at most the 2 s backoff ceiling, at least 1 s)
      expect(hubs.choose()).toBe(venue);
      // Both down; then the venue answers again (a success clears its wait at once).
      hubs.failed(venue);
      hubs.failed(central);
      clock.time += 500;
      hubs.ok(venue);
      expect(hubs.choose()).toBe(venue);
      expect(hubs.active()).toMatchObject({ url: 'https://venue.lan/', index: 0, of: 2 });
      expect(venue.signal?.aborted).toBe(false);
    } finally {
      hubs.destroy();
    }
    expect(hubs.links[0]!.signal?.aborted).toBe(true);
  });
});
