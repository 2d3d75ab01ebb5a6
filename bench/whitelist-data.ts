// Synthetic national-scale data for the whitelist benchmark: row i is an insurance qualification of a
// card with serial i, its SPKI hash derived from i, so a separate process can rebuild lookups from i alone.
import { createHash } from 'node:crypto';
import type { CardRecordInput } from '../whitelist/entitlements.js';

export const BENCH_ISSUER = '8a3f11c2d4e5f60718293a4b5c6d7e8f90a1b2c3';
export const BENCH_INDEX_KEY = '6b'.repeat(32);

export function benchSerial(i: number): string {
  // JPKI serials are a few bytes; offset so that every serial has the same length.
  return (0x10000000 + i).toString(16);
}

export function benchSpki(i: number): string {
  return createHash('sha256').update(`bench-spki-${i}`).digest('hex');
}

export function benchRecord(i: number): CardRecordInput {
  return {
    subject: `p${i.toString(36).padStart(8, '0')}`,
    entitlements: [
      {
        kind: 'insurance',
        insurerNumber: String(6_000_000 + (i % 3_000_000)).padStart(8, '0'),
        symbol: `${(i % 97) + 1}`,
        number: String(i % 1_000_000).padStart(6, '0'),
        branch: String(i % 100).padStart(2, '0'),
        copayRatio: i % 10 === 0 ? 0.1 : 0.3,
        validFrom: '2026-04-01',
        status: 'valid',
      },
    ],
  };
}
