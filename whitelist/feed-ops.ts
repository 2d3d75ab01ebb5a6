// Row and operation builders for the feeds, on the publisher side (hub, import CLI, the demo): a card
// row is keyed by the index key and its record sealed (privacy.ts); a revocation row is keyed the same
// way. The wire formats themselves are protocol/feed-format.ts.
import { KioskError } from '../base/errors.js';
import {
  encodeRevocationValue,
  type RevocationOp,
  type RevocationReason,
  type SnapshotRow,
  type WhitelistOp,
} from '../protocol/feed-format.js';
import type { CardRecordInput } from './entitlements.js';
import { sealCardRecord, type IndexKey } from './privacy.js';

export interface CardRowInput {
  issuerKeyId: string;
  serial: string;
  /** SHA-256 of the card certificate's SubjectPublicKeyInfo DER, hex. */
  spkiSha256: string;
  record: CardRecordInput;
}

export interface RevocationInput {
  issuerKeyId: string;
  serial: string;
  /** Revocation date: Date, ISO string or seconds since 1970. */
  revokedAt: Date | string | number;
  reason: RevocationReason;
}

export function whitelistRow(indexKey: IndexKey, input: CardRowInput): SnapshotRow {
  const k = indexKey.cardKey(input.issuerKeyId, input.serial);
  return { k, v: sealCardRecord(input.record, k, input.spkiSha256) };
}

export function whitelistPutOp(indexKey: IndexKey, input: CardRowInput): WhitelistOp {
  const row = whitelistRow(indexKey, input);
  return { op: 'put', k: row.k.toString('hex'), v: row.v.toString('base64') };
}

export function whitelistDelOp(indexKey: IndexKey, issuerKeyId: string, serial: string): WhitelistOp {
  return { op: 'del', k: indexKey.cardKey(issuerKeyId, serial).toString('hex') };
}

function toSeconds(value: Date | string | number): number {
  if (typeof value === 'number') return value;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  if (!Number.isFinite(ms))
    throw new KioskError('IMPORT_INVALID', `revocation date ${String(value)} is not a date`);
  return Math.floor(ms / 1000);
}

export function revocationRow(indexKey: IndexKey, input: RevocationInput): SnapshotRow {
  return {
    k: indexKey.cardKey(input.issuerKeyId, input.serial),
    v: encodeRevocationValue(toSeconds(input.revokedAt), input.reason),
  };
}

export function revocationPutOp(indexKey: IndexKey, input: RevocationInput): RevocationOp {
  return {
    op: 'put',
    k: indexKey.cardKey(input.issuerKeyId, input.serial).toString('hex'),
    at: toSeconds(input.revokedAt),
    reason: input.reason,
  };
}

export function revocationDelOp(indexKey: IndexKey, issuerKeyId: string, serial: string): RevocationOp {
  return { op: 'del', k: indexKey.cardKey(issuerKeyId, serial).toString('hex') };
}
