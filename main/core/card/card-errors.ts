// Status words and PC/SC return codes → typed KioskError codes.
import { KioskError, type ErrorCode } from '../../../base/errors.js';

export function swHex(sw: number): string {
  return sw.toString(16).padStart(4, '0').toUpperCase();
}

/** Generic meaning of a status word that is not success; callers override where context says more. */
export function statusError(sw: number, operation: string): KioskError {
  const detail = { sw: swHex(sw), operation };
  if ((sw & 0xfff0) === 0x63c0) {
    const triesLeft = sw & 0x0f;
    if (triesLeft === 0)
      return new KioskError('PIN_BLOCKED', 'PIN blocked (no tries left)', { ...detail, triesLeft });
    return new KioskError('PIN_WRONG', `wrong PIN, ${triesLeft} tries left`, { ...detail, triesLeft });
  }
  let code: ErrorCode = 'CARD_STATUS';
  let message = `card refused ${operation} (${swHex(sw)})`;
  switch (sw) {
    case 0x6983:
    case 0x6984:
      code = 'PIN_BLOCKED';
      message = 'PIN blocked';
      break;
    case 0x6982:
      code = 'CARD_SECURITY_STATUS';
      message = `security status not satisfied for ${operation}`;
      break;
    case 0x6a82:
    case 0x6a88:
      code = 'CARD_FILE_NOT_FOUND';
      message = `file or application not found (${operation})`;
      break;
    case 0x6700:
      code = 'CARD_WRONG_LENGTH';
      message = `wrong length (${operation})`;
      break;
    case 0x6b00:
      code = 'CARD_WRONG_LENGTH';
      message = `offset outside the file (${operation})`;
      break;
  }
  if ((sw & 0xff00) === 0x6c00) {
    code = 'CARD_WRONG_LENGTH';
    message = `card wants Le=${sw & 0xff} (${operation})`;
  }
  return new KioskError(code, message, detail);
}

const PCSC_CODES: Record<number, { code: ErrorCode; text: string }> = {
  0x80100069: { code: 'CARD_REMOVED', text: 'card removed' },
  0x80100068: { code: 'CARD_REMOVED', text: 'card was reset' },
  0x8010000c: { code: 'CARD_ABSENT', text: 'no card in the reader' },
  0x80100066: { code: 'CARD_PROTOCOL', text: 'card does not respond' },
  0x80100067: { code: 'CARD_PROTOCOL', text: 'card unpowered' },
  0x8010000f: { code: 'CARD_PROTOCOL', text: 'protocol mismatch' },
  0x80100016: { code: 'CARD_PROTOCOL', text: 'transaction failed' },
  0x8010000a: { code: 'CARD_TIMEOUT', text: 'timeout' },
  0x80100009: { code: 'READER_GONE', text: 'unknown reader' },
  0x80100017: { code: 'READER_GONE', text: 'reader unavailable' },
  0x8010002e: { code: 'READER_NOT_FOUND', text: 'no readers' },
  0x8010001d: { code: 'PCSC_UNAVAILABLE', text: 'PC/SC service not running' },
  0x8010001e: { code: 'PCSC_UNAVAILABLE', text: 'PC/SC service stopped' },
  0x80100013: { code: 'PCSC_UNAVAILABLE', text: 'PC/SC communication error' },
  0x80100003: { code: 'PCSC_UNAVAILABLE', text: 'invalid PC/SC handle' },
  0x80100002: { code: 'PCSC_UNAVAILABLE', text: 'cancelled' },
  0x8010000b: { code: 'CARD_PROTOCOL', text: 'sharing violation' },
};

/** Maps an error from the pcsclite binding ("SCardX error: text(0x8010xxxx)") to a KioskError. */
export function pcscError(error: unknown, fallback: ErrorCode = 'PCSC_UNAVAILABLE'): KioskError {
  if (error instanceof KioskError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const match = /\(0x([0-9a-fA-F]{8})\)/.exec(message);
  const rv = match ? parseInt(match[1]!, 16) : undefined;
  const known = rv !== undefined ? PCSC_CODES[rv] : undefined;
  return new KioskError(
    known?.code ?? fallback,
    known ? `${known.text}: ${message}` : message,
    rv !== undefined ? { rv: `0x${rv.toString(16)}` } : undefined,
    { cause: error },
  );
}
