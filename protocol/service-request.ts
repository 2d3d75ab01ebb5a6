// The kiosk ↔ service-provider wire: one POST per document. The terminal signs the HTTP request with its
// HSM key (http-signature.ts, as for sync); the body carries the request fields and the holder's proof:
// the card's signature (its JPKI authentication key, PKCS#1 v1.5 over SHA-256) over the digest of exactly
// these fields, and the card's authentication certificate. A provider verifies both on its own: this
// terminal asked, this card's holder agreed, for this service, in this session, now.
//
// The idempotency key is the request id: a retry sends the same body, and the provider answers a known id
// with the answer it gave the first time (the same document, or the same refusal) and never issues twice.
import { createHash } from 'node:crypto';
import { z } from 'zod';

export const SERVICE_REQUEST_PATH = '/v1/service-requests';
export const SERVICE_HEALTH_PATH = '/v1/health';
export const IDEMPOTENCY_HEADER = 'idempotency-key';
const DIGEST_DOMAIN = 'jpki-kiosk/service-request/v1\n';

const Id = z.string().regex(/^[A-Za-z0-9._:-]{1,128}$/);

export const ServiceRequestFields = z
  .object({
    requestId: Id,
    serviceId: Id,
    sessionId: Id,
    terminalId: Id,
    /** ISO time the terminal made the request; the provider refuses one too far from its own time. */
    at: z.iso.datetime({ offset: true }),
    /** Whether the card was unlocked with the holder's PIN for this signature. */
    pinVerified: z.boolean(),
  })
  .strict();
export type ServiceRequestFields = z.infer<typeof ServiceRequestFields>;

export const ServiceRequestBody = z
  .object({
    request: ServiceRequestFields,
    proof: z
      .object({
        /** The card's authentication certificate, DER, base64. */
        certificate: z.string().min(100).max(12_000),
        /** The card's signature over serviceRequestDigest(request), base64 (RSA-2048: 256 bytes). */
        signature: z.string().min(300).max(400),
      })
      .strict(),
  })
  .strict();
export type ServiceRequestBody = z.infer<typeof ServiceRequestBody>;

/** The bytes the card's signature covers: a fixed domain and the fields in a fixed order. */
export function serviceRequestMessage(r: ServiceRequestFields): Buffer {
  const fields = [r.requestId, r.serviceId, r.sessionId, r.terminalId, r.at, r.pinVerified ? 'pin' : 'nopin'];
  return Buffer.from(DIGEST_DOMAIN + fields.join('\n'), 'utf8');
}

/** SHA-256 of serviceRequestMessage: what the card signs as a DigestInfo. */
export function serviceRequestDigest(r: ServiceRequestFields): Buffer {
  return createHash('sha256').update(serviceRequestMessage(r)).digest();
}

/** Why a provider declines; the terminal shows each as a plain screen (never the provider's free text). */
export const ServiceRefusals = [
  'terminal_unknown',
  'terminal_signature',
  'proof_invalid',
  'card_untrusted',
  'card_revoked',
  'card_expired',
  'pin_required',
  'request_stale',
  'service_unknown',
  'not_in_register',
  'idempotency_conflict',
] as const;
export type ServiceRefusal = (typeof ServiceRefusals)[number];

export const RefusalBody = z
  .object({ refusal: z.enum(ServiceRefusals), message: z.string().max(300) })
  .strict();
export type RefusalBody = z.infer<typeof RefusalBody>;

/** Response header naming the provider's document number (printed on it, kept in the journal). */
export const DOCUMENT_ID_HEADER = 'x-document-id';
