// The venue benchmark (bench/venue.ts) at a smoke size: its scenario runs through and counts exactly.
// No timing target here: the propagation figures belong to `npm run bench -- --json --only venue`.
import { describe, expect, it } from 'vitest';
import { venueCut } from '../../bench/venue.js';

describe('venue benchmark, smoke size', () => {
  it('measures propagation during the cut and the central baseline; no journal row lost or doubled', async () => {
    const m = await venueCut(3);
    expect(m['venue.rounds']).toBe(3);
    expect(m['venue.cut_propagation_p50_ms']).toBeGreaterThan(0);
    expect(m['venue.central_propagation_p50_ms']).toBeGreaterThan(0);
    expect(m['venue.journal_rows_lost']).toBe(0);
    expect(m['venue.journal_rows_doubled']).toBe(0);
  }, 120_000);
});
