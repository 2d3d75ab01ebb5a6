// A barcode scanner as the terminal sees it: it hands over one scanned text at a time (a QR ticket).
// Implementations: a USB scanner as a HID keyboard (keyboard-wedge.ts decodes its key reports) read
// through node-hid and supervised like the actuators (hid-scanner.ts), and the software scanner of the
// tests and the demo drawer (sim/scanner/, plugged in through the composition, never imported here).
import type { Supervised } from '../../../base/supervisor.js';

export interface CodeScanner extends Partial<Supervised> {
  /** Starts delivering scans; `onCode` gets each scanned text, without its terminating Enter. */
  start(onCode: (text: string) => void): void;
  close(): Promise<void>;
}
