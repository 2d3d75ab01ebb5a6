// The signed CRL status the hub publishes with every revocation update (batch header and snapshot
// manifest, feed-format.ts): per issuer (and per configured CRL partition), the number, thisUpdate and
// nextUpdate of the CRL the revocation rows come from. Terminals judge revocation freshness from these
// dates — the age of the CA's list, not the time the hub was last reachable (docs/sync.md "CRL age").
//
// A revocation batch that carries `issuers` carries the hub's complete list: the terminal replaces what
// it holds with it, in the same transaction as the batch's ops. A CRL that changes no serial is still
// published, as a batch whose only op is CRL_STATUS_OP (it takes one sequence number, so the sequence
// rules and the snapshot-per-sequence cache stay as they are).
import { z } from 'zod';

/** The op of a revocation batch that records only a new CRL status (see `issuers`). */
export const CRL_STATUS_OP = 'crl-status';

export const CrlIssuerStatus = z
  .object({
    /** Subject key identifier of the CA that signed the CRL, lower-case hex. */
    issuerKeyId: z.string().regex(/^[0-9a-f]{2,128}$/),
    /** The CRL partition (issuingDistributionPoint) an operator allowed; absent: the issuer's complete CRL. */
    partition: z.string().min(1).max(512).optional(),
    /** cRLNumber in decimal (up to 20 octets); null when the CA's CRL had none. */
    crlNumber: z
      .string()
      .regex(/^\d{1,49}$/)
      .nullable(),
    thisUpdate: z.iso.datetime({ offset: true }),
    nextUpdate: z.iso.datetime({ offset: true }),
  })
  .strict();
export type CrlIssuerStatus = z.output<typeof CrlIssuerStatus>;

export const MAX_CRL_ISSUERS = 1024;
export const CrlStatusList = z.array(CrlIssuerStatus).max(MAX_CRL_ISSUERS);

/** The status with the earliest nextUpdate (the oldest issuer counts), or null for an empty list. */
export function oldestCrl(issuers: readonly CrlIssuerStatus[]): CrlIssuerStatus | null {
  let oldest: CrlIssuerStatus | null = null;
  for (const s of issuers)
    if (oldest === null || Date.parse(s.nextUpdate) < Date.parse(oldest.nextUpdate)) oldest = s;
  return oldest;
}
