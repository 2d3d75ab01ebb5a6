// Shared fixtures for the whitelist tests: a hub key, an index key, card rows and signed batches.
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isKioskError } from '../../base/errors.js';
import type { CardRecordInput } from '../../whitelist/entitlements.js';
import {
  publisherKeyId,
  signBatch,
  type FeedBatch,
  type PublisherTrust,
} from '../../protocol/feed-format.js';
import { IndexKey } from '../../whitelist/privacy.js';

export const hub = generateKeyPairSync('ed25519');
export const trust: PublisherTrust = {
  publishers: [{ publicKey: hub.publicKey, feeds: ['whitelist', 'revocations', 'peer-entries'] }],
};
export const indexKey = IndexKey.fromSecret('5a'.repeat(32));
export const ISSUER = '0a0b0c0d';

export function tempDir(prefix = 'wl-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function spkiOf(serial: string): string {
  return createHash('sha256').update(`spki-${serial}`).digest('hex');
}

export function ticket(subject: string): CardRecordInput {
  return {
    subject,
    entitlements: [
      {
        kind: 'ticket',
        eventId: 'ev-2026-final',
        seat: 'A-12-3',
        zones: ['north'],
        gates: ['gate-a'],
        validFrom: '2026-11-21T09:00:00Z',
        validTo: '2026-11-21T23:00:00Z',
        entriesAllowed: 1,
      },
    ],
  };
}

export function batchOf(
  feed: FeedBatch['feed'],
  fromSeq: number,
  ops: FeedBatch['ops'],
  over: Partial<FeedBatch> = {},
): FeedBatch {
  return {
    format: 'jpki-kiosk/delta/v1',
    feed,
    publisherKeyId: publisherKeyId(hub.publicKey),
    epoch: 'epoch-1',
    fromSeq,
    toSeq: fromSeq + ops.length,
    asOf: '2026-11-21T08:00:00Z',
    ops,
    ...over,
  } as FeedBatch;
}

export function signed(batch: FeedBatch, key: KeyObject = hub.privateKey): Buffer {
  return signBatch(batch, key);
}

export function errorCode(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    return isKioskError(error) ? error.code : `untyped: ${String(error)}`;
  }
  return undefined;
}
