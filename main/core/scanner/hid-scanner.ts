// A USB barcode scanner read directly through HID (node-hid, or the software HID bus of the demo), not
// as the system's keyboard: the kiosk window never needs focus and the scan never reaches another
// program. Supervised like the gate and the tower: a missing or unplugged scanner is a visible state
// (HID_UNAVAILABLE) and is reopened with backoff; the card path keeps working meanwhile.
import { KioskError } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import { Supervisor, type Health } from '../../../base/supervisor.js';
import type { Clock } from '../../../base/clock.js';
import {
  hex16,
  matchesDevice,
  type DeviceMatch,
  type HidBackend,
  type HidHandle,
} from '../actuators/hid-backend.js';
import { KeyboardWedgeDecoder } from './keyboard-wedge.js';
import type { CodeScanner } from './scanner.js';

const log = getLogger('scanner');

export interface HidScannerOptions {
  backend: HidBackend;
  match: DeviceMatch;
  /** Input reports start with a report id (composite devices). */
  reportId?: boolean;
  clock?: Clock;
}

export class HidScanner implements CodeScanner {
  private handle: HidHandle | null = null;
  private onCode: ((text: string) => void) | null = null;
  private readonly supervisor: Supervisor;

  constructor(private readonly options: HidScannerOptions) {
    this.supervisor = new Supervisor({
      name: 'scanner',
      open: () => this.open(),
      close: () => this.release(),
      backoff: { baseMs: 500, capMs: 30_000 },
      errorCode: 'HID_UNAVAILABLE',
      ...(options.clock ? { clock: options.clock } : {}),
    });
  }

  start(onCode: (text: string) => void): void {
    this.onCode = onCode;
    void this.supervisor.start();
  }

  health(): Health {
    return this.supervisor.health();
  }

  retryNow(): void {
    this.supervisor.retryNow();
  }

  async close(): Promise<void> {
    this.onCode = null;
    await this.supervisor.stop();
  }

  private async open(): Promise<void> {
    const { backend, match } = this.options;
    const found = (await backend.enumerate()).find((d) => matchesDevice(d, match, true));
    if (!found)
      throw new KioskError(
        'HID_UNAVAILABLE',
        `no barcode scanner ${match.vendorId === null ? '' : hex16(match.vendorId)}:${match.productId === null ? '' : hex16(match.productId)} is connected`,
      );
    const handle = await backend.open(found.path);
    const decoder = new KeyboardWedgeDecoder();
    handle.onData((report) => {
      const text = decoder.feed(report, this.options.reportId ?? false);
      if (text !== null) this.onCode?.(text);
    });
    handle.onError((error) => {
      log.warn({ err: error.message }, 'barcode scanner lost');
      void this.supervisor.lost(new KioskError('HID_UNAVAILABLE', `barcode scanner: ${error.message}`));
    });
    this.handle = handle;
  }

  private async release(): Promise<void> {
    const handle = this.handle;
    this.handle = null;
    await handle?.close();
  }
}
