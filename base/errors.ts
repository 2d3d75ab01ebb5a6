// Every failure in the terminal is a typed value with a stable code. Codes cross every boundary
// (IPC, WebSocket, CLI JSON, journal) as `{ code, message }`; the UI maps codes to words
// (see messages.ts). Add a code here, with its words there, before throwing it.

export const ErrorCodes = [
  // configuration and secrets
  'CONFIG_INVALID',
  'CONFIG_NOT_FOUND',
  'SECRET_MISSING',
  'SECRET_INSECURE',
  // PC/SC and the card
  'PCSC_UNAVAILABLE',
  'READER_NOT_FOUND',
  'READER_GONE',
  'CARD_ABSENT',
  'CARD_REMOVED',
  'CARD_TIMEOUT',
  'CARD_PROTOCOL',
  'CARD_NOT_JPKI',
  'CARD_FILE_NOT_FOUND',
  'CARD_WRONG_LENGTH',
  'CARD_SECURITY_STATUS',
  'CARD_STATUS',
  'CARD_MALFORMED',
  'CARD_FORBIDDEN_AID',
  'PIN_WRONG',
  'PIN_BLOCKED',
  'PIN_FORMAT',
  'TERMINAL_AUTH_FAILED',
  /** The terminal has used its PIN-less unlocks for now (card.unlockRate). */
  'TERMINAL_AUTH_RATE_LIMITED',
  // HSM
  'HSM_UNAVAILABLE',
  'HSM_TOKEN_NOT_FOUND',
  'HSM_LOGIN_FAILED',
  'HSM_KEY_NOT_FOUND',
  'HSM_CERT_INVALID',
  'HSM_FAILED',
  // data: whitelist, revocations, journal
  'STORE_UNAVAILABLE',
  'STORE_CORRUPT',
  'DELTA_BAD_SIGNATURE',
  'DELTA_WRONG_PUBLISHER',
  'DELTA_GAP',
  'DELTA_DUPLICATE',
  'DELTA_MALFORMED',
  'SNAPSHOT_INVALID',
  /** A root of trust (the signed list of publisher keys) that does not verify or does not follow the pinned one. */
  'ROOT_INVALID',
  /** The pinned root of trust is past its expiry: no batch is accepted until a successor arrives. */
  'ROOT_EXPIRED',
  'JOURNAL_BROKEN',
  /** A gate reported a passage or annulment for a grant this terminal does not know. */
  'ENTRY_UNKNOWN',
  'IMPORT_INVALID',
  // sync
  'SYNC_UNREACHABLE',
  'SYNC_REFUSED',
  'SYNC_PROTOCOL',
  'HUB_UNKNOWN_TERMINAL',
  'HUB_STATUS_AUTH',
  /** An enrolment code the hub does not know (mistyped, or never issued). */
  'ENROL_CODE_UNKNOWN',
  /** An enrolment code that has already enrolled a terminal: each code is good once. */
  'ENROL_CODE_USED',
  /** An enrolment code past its expiry. */
  'ENROL_CODE_EXPIRED',
  /** The key offered for enrolment is already registered for another terminal. */
  'ENROL_KEY_REGISTERED',
  /** The enrolment request's proof of possession does not verify with the key it offers. */
  'ENROL_PROOF_INVALID',
  /** A terminal id that is already registered: its key is changed only by an explicit key rotation. */
  'HUB_TERMINAL_EXISTS',
  /** The hub operator disabled this terminal: it is out of service until enabled again. */
  'TERMINAL_DISABLED',
  /** The hub operator is retiring this terminal: it uploads its journal, then wipes personal data. */
  'TERMINAL_RETIRING',
  /** This terminal was retired: its personal data is wiped and it no longer decides. */
  'TERMINAL_RETIRED',
  /** An answer that would move a feed backwards (older sequence, as-of or epoch): refused, alarm raised. */
  'SYNC_ROLLBACK',
  /** A checkpoint, manifest or batch of another feed, scope or epoch than asked for: refused, alarm. */
  'SYNC_MIX_AND_MATCH',
  /** A pull answer without a valid signed checkpoint answering this request (freeze, replay): alarm. */
  'SYNC_CHECKPOINT_INVALID',
  /** A push reply that is not signed by the hub for this request: the watermark stays; alarm. */
  'SYNC_REPLY_INVALID',
  /** An answer past its stated size, deadline or round limit (endless data): refused, alarm. */
  'SYNC_LIMIT',
  /** Content fetched by address (a cache, a CDN) whose bytes are not the ones the checkpoint names: alarm. */
  'SYNC_CONTENT_INVALID',
  /** A seat transfer code the hub does not know (mistyped, or never issued). */
  'TRANSFER_CODE_UNKNOWN',
  /** A seat transfer code already used: each code moves its seat once. */
  'TRANSFER_CODE_USED',
  /** A seat transfer code past its expiry. */
  'TRANSFER_CODE_EXPIRED',
  /** The seat cannot move: no longer on the purchaser's entry, the purchaser's own card, or not a registration desk. */
  'TRANSFER_REFUSED',
  /** A venue delegation not signed by the root, for another site, or out of its validity window. */
  'DELEGATION_INVALID',
  'CRL_INVALID',
  /** The CRL's nextUpdate is past: the CA has issued (or owes) a newer one. */
  'CRL_EXPIRED',
  /** The CA certificate that signed the CRL lacks cRLSign in its keyUsage. */
  'CRL_SIGNER_USAGE',
  /** A delta CRL whose base the hub does not hold (or that cannot be placed). */
  'CRL_DELTA_BASE',
  /** A CRL for one issuingDistributionPoint partition the operator has not allowed. */
  'CRL_PARTITIONED',
  /** A CRL with a critical extension the hub does not process (indirect CRL, certificateIssuer…). */
  'CRL_UNSUPPORTED',
  // peripherals
  'HID_UNAVAILABLE',
  'HID_FAILED',
  // kiosk services and printing
  /** A configured service cannot be used now (its provider is unreachable, the printer is down). */
  'SERVICE_UNAVAILABLE',
  /** The provider answered with a typed refusal (detail.refusal names it). */
  'SERVICE_REFUSED',
  /** The provider did not answer in time after the retries. */
  'SERVICE_TIMEOUT',
  /** The provider answered something that is not a document or a refusal. */
  'SERVICE_PROTOCOL',
  /** The session the request belonged to has ended: its result is discarded, never shown or printed. */
  'SESSION_ENDED',
  /** The card in the reader is not the card that opened the session. */
  'CARD_MISMATCH',
  'PRINTER_UNAVAILABLE',
  /** The print job did not complete (out of paper, jam, cancelled): staff hand the document or refund. */
  'PRINT_FAILED',
  // staff mode and UI commands
  'STAFF_LOCKED',
  'STAFF_CREDENTIAL_WRONG',
  'NOT_AVAILABLE',
  // time and generic
  'CLOCK_FAULT',
  'INVALID_REQUEST',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ErrorCodes)[number];

export interface ErrorPayload {
  code: ErrorCode;
  message: string;
}

export class KioskError extends Error {
  readonly code: ErrorCode;
  readonly detail: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    detail?: Record<string, unknown>,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KioskError';
    this.code = code;
    this.detail = detail;
  }

  toPayload(): ErrorPayload {
    return { code: this.code, message: this.message };
  }
}

export function isKioskError(value: unknown, code?: ErrorCode): value is KioskError {
  return value instanceof KioskError && (code === undefined || value.code === code);
}

/** Wraps anything thrown into a KioskError so that nothing untyped crosses a boundary. */
export function toKioskError(value: unknown, fallback: ErrorCode = 'INTERNAL'): KioskError {
  if (value instanceof KioskError) return value;
  const message = value instanceof Error ? value.message : String(value);
  return new KioskError(fallback, message, undefined, { cause: value });
}
