// A USB barcode scanner in its default mode is a keyboard: each scanned character arrives as a HID boot
// keyboard report (modifiers, reserved, up to six key usages) and the scan ends with Enter. This turns
// those reports back into text. It knows the US layout's printable keys, which is what scanners send
// for the ASCII a ticket is made of (JKT1.<base64url>.<hex>.<base64url>); anything else is dropped, so
// a stray key cannot inject control characters.

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const DIGITS = '1234567890';
const SHIFTED_DIGITS = '!@#$%^&*()';
/** Usage → [plain, shifted] for the punctuation keys (HID usage table, keyboard page 0x07). */
const PUNCTUATION: Record<number, [string, string]> = {
  0x2c: [' ', ' '],
  0x2d: ['-', '_'],
  0x2e: ['=', '+'],
  0x2f: ['[', '{'],
  0x30: [']', '}'],
  0x31: ['\\', '|'],
  0x33: [';', ':'],
  0x34: ["'", '"'],
  0x35: ['`', '~'],
  0x36: [',', '<'],
  0x37: ['.', '>'],
  0x38: ['/', '?'],
};
const ENTER = 0x28;
const KEYPAD_ENTER = 0x58;
const SHIFT = 0x02 | 0x20;
/** A scan longer than this is not a ticket: it is dropped whole. */
export const MAX_SCAN_LENGTH = 4096;

export function keyText(usage: number, shift: boolean): string | null {
  if (usage >= 0x04 && usage <= 0x1d) {
    const c = LETTERS[usage - 0x04]!;
    return shift ? c.toUpperCase() : c;
  }
  if (usage >= 0x1e && usage <= 0x27) return (shift ? SHIFTED_DIGITS : DIGITS)[usage - 0x1e]!;
  const p = PUNCTUATION[usage];
  return p ? p[shift ? 1 : 0] : null;
}

export class KeyboardWedgeDecoder {
  private held = new Set<number>();
  private text = '';
  private overflow = false;

  /**
   * One input report (8 bytes; a leading report id when `reportId` is set). Returns the scanned text
   * when this report pressed Enter, else null. A key counts when it appears, not while it is held.
   */
  feed(report: Uint8Array, reportId = false): string | null {
    const bytes = reportId ? report.subarray(1) : report;
    if (bytes.length < 3) return null;
    const shift = (bytes[0]! & SHIFT) !== 0;
    const now = new Set<number>();
    let done: string | null = null;
    for (const usage of bytes.subarray(2, 8)) {
      if (usage <= 0x03) continue; // none / rollover error
      now.add(usage);
      if (this.held.has(usage)) continue;
      if (usage === ENTER || usage === KEYPAD_ENTER) {
        if (!this.overflow && this.text.length > 0) done = this.text;
        this.text = '';
        this.overflow = false;
        continue;
      }
      const c = keyText(usage, shift);
      if (c === null) continue;
      if (this.text.length >= MAX_SCAN_LENGTH) this.overflow = true;
      else this.text += c;
    }
    this.held = now;
    return done;
  }
}

/** The reports a keyboard-wedge scanner sends for `text` + Enter (each key pressed, then released). */
export function wedgeReports(text: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  const press = (usage: number, shift: boolean) => {
    out.push(Uint8Array.of(shift ? 0x02 : 0, 0, usage, 0, 0, 0, 0, 0));
    out.push(new Uint8Array(8));
  };
  for (const c of text) {
    let found = false;
    for (let usage = 0x04; usage <= 0x38 && !found; usage++) {
      for (const shift of [false, true]) {
        if (keyText(usage, shift) === c) {
          press(usage, shift);
          found = true;
          break;
        }
      }
    }
    if (!found) throw new RangeError(`a keyboard scanner cannot type ${JSON.stringify(c)}`);
  }
  press(ENTER, false);
  return out;
}
