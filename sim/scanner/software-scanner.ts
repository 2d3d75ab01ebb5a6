// The software barcode scanner: tests and the demo hand it a text and the terminal receives it exactly
// as it would from a USB scanner (one scan, one text). Never in the packaged app.
import type { CodeScanner } from '../../main/core/scanner/scanner.js';

export class SoftwareScanner implements CodeScanner {
  private onCode: ((text: string) => void) | null = null;

  start(onCode: (text: string) => void): void {
    this.onCode = onCode;
  }

  /** One scan. False when no terminal listens (not started, or closed). */
  scan(text: string): boolean {
    if (!this.onCode) return false;
    this.onCode(text);
    return true;
  }

  async close(): Promise<void> {
    this.onCode = null;
  }
}
