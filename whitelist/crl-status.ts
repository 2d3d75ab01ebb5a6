// The terminal's copy of the hub's signed CRL status (protocol/crl-status.ts): one row per issuer (and
// allowed CRL partition), kept in the revocation feed file and written in the same transaction as the
// batch or snapshot that carried it, so the dates always describe the rows beside them. Revocation
// freshness is judged from two clocks (docs/sync.md "CRL age"): the hub-sync age (revocation.maxAgeHours)
// and the CRL's own nextUpdate plus revocation.crlGraceHours — the oldest issuer counts — so a hub whose
// CRL import stopped cannot keep terminals "fresh" by answering.
import { oldestCrl, type CrlIssuerStatus } from '../protocol/crl-status.js';
import type { Db } from './db.js';
import type { Freshness } from './feed-state.js';

export const CRL_STATUS_SQL = `
  CREATE TABLE crl_status (
    issuer_key_id TEXT NOT NULL,
    part TEXT NOT NULL DEFAULT '',
    crl_number TEXT,
    this_update TEXT NOT NULL,
    next_update TEXT NOT NULL,
    PRIMARY KEY (issuer_key_id, part)
  ) WITHOUT ROWID;
`;

export interface CrlFreshness {
  /** Every issuer's status as last published with the rows. Empty: the hub published none. */
  issuers: CrlIssuerStatus[];
  /** The issuer whose CRL expires first (the oldest counts); null when there is none. */
  oldest: CrlIssuerStatus | null;
}

interface Row {
  issuer_key_id: string;
  part: string;
  crl_number: string | null;
  this_update: string;
  next_update: string;
}

/** Replaces the stored status with `issuers`; call inside the transaction that applies the rows. */
export function writeCrlStatus(db: Db, issuers: readonly CrlIssuerStatus[]): void {
  db.prepare('DELETE FROM crl_status').run();
  const insert = db.prepare(
    'INSERT OR REPLACE INTO crl_status (issuer_key_id, part, crl_number, this_update, next_update) VALUES (?, ?, ?, ?, ?)',
  );
  for (const s of issuers)
    insert.run(s.issuerKeyId, s.partition ?? '', s.crlNumber, s.thisUpdate, s.nextUpdate);
}

/** The stored status (a file from before the table existed, opened read-only, has none). */
export function readCrlStatus(db: Db): CrlFreshness {
  const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'crl_status'").get();
  if (!exists) return { issuers: [], oldest: null };
  const rows = db.prepare('SELECT * FROM crl_status ORDER BY issuer_key_id, part').all() as Row[];
  const issuers = rows.map((r): CrlIssuerStatus => ({
    issuerKeyId: r.issuer_key_id,
    ...(r.part ? { partition: r.part } : {}),
    crlNumber: r.crl_number,
    thisUpdate: r.this_update,
    nextUpdate: r.next_update,
  }));
  return { issuers, oldest: oldestCrl(issuers) };
}

export type StaleReason = 'sync_age' | 'crl_expired';

export interface RevocationStaleness {
  stale: boolean;
  /** Which condition made it stale: hub-sync age past maxAgeHours, oldest CRL past nextUpdate + grace. */
  reasons: StaleReason[];
  /** nextUpdate of the oldest issuer's CRL; null when the hub published no CRL status. */
  crlNextUpdate: string | null;
  /** When the CRL condition turns (turned) stale: crlNextUpdate + grace. */
  crlStaleAt: string | null;
}

/**
 * The stale decision for the revocation feed at `now`. Never synced counts as stale (sync_age). No CRL
 * status (no CRL imported at the hub, or revocations published by other means) leaves only the sync age.
 */
export function revocationStaleness(
  freshness: (Pick<Freshness, 'dataAgeMs'> & { crl?: CrlFreshness }) | null | undefined,
  rules: { maxAgeHours: number; crlGraceHours: number },
  now: number,
): RevocationStaleness {
  const reasons: StaleReason[] = [];
  const age = freshness?.dataAgeMs ?? null;
  if (age === null || age > rules.maxAgeHours * 3600_000) reasons.push('sync_age');
  const oldest = freshness?.crl?.oldest ?? null;
  let crlStaleAt: string | null = null;
  if (oldest) {
    const at = Date.parse(oldest.nextUpdate) + rules.crlGraceHours * 3600_000;
    crlStaleAt = new Date(at).toISOString();
    if (now >= at) reasons.push('crl_expired');
  }
  return { stale: reasons.length > 0, reasons, crlNextUpdate: oldest?.nextUpdate ?? null, crlStaleAt };
}
