// Companion seat transfers on the wire: the purchaser's ticket holds several seats; the hub issues one
// one-time transfer code per seat; a staff-attended registration terminal sends the code with the
// companion card's certificate-derived reference (issuer key id, serial, SPKI hash), signed like every
// sync request (RFC 9421, terminal HSM key). The hub moves the seat in one signed whitelist batch.
import { z } from 'zod';
import { ENROL_CODE_ALPHABET, ENROL_CODE_LENGTH, normalizeEnrolmentCode } from './enrolment.js';

/** Transfer codes share the enrolment codes' alphabet (no I, L, O, U) and length: staff type them. */
export const TRANSFER_CODE_ALPHABET = ENROL_CODE_ALPHABET;
export const TRANSFER_CODE_LENGTH = ENROL_CODE_LENGTH;
export const normalizeTransferCode = normalizeEnrolmentCode;

export const COMPANION_BIND_PATH = '/v1/companions/bind';

export const CompanionBindRequest = z
  .object({
    code: z.string().min(1).max(64),
    issuerKeyId: z.string().regex(/^([0-9a-f]{2}){1,64}$/),
    serial: z.string().regex(/^[0-9a-f]{1,80}$/),
    spkiSha256: z.string().regex(/^[0-9a-f]{64}$/),
  })
  .strict();
export type CompanionBindRequest = z.infer<typeof CompanionBindRequest>;

export const CompanionBindAnswer = z
  .object({
    eventId: z.string(),
    seat: z.string(),
    /** The whitelist head after the transfer: a gate that has pulled up to it knows the new holder. */
    whitelistHead: z.number().int().nonnegative(),
  })
  .strict();
export type CompanionBindAnswer = z.infer<typeof CompanionBindAnswer>;
