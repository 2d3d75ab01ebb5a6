// A USB barcode scanner as a software HID device on the software bus: a scan is typed as boot keyboard
// reports and Enter, exactly the bytes a keyboard-wedge scanner sends, so the terminal's HidScanner
// decodes it through the same path as hardware.
import type { HidDeviceInfo } from '../../main/core/actuators/hid-backend.js';
import { wedgeReports } from '../../main/core/scanner/keyboard-wedge.js';
import { SoftwareHidDevice } from '../hid/software-bus.js';

export class SoftwareHidScanner extends SoftwareHidDevice {
  readonly info: HidDeviceInfo;

  constructor(path = 'software:scanner', vendorId = 0x05e0, productId = 0x1200) {
    super();
    this.info = { path, vendorId, productId, product: 'software barcode scanner' };
  }

  /** Types `text` and Enter. */
  scan(text: string): void {
    for (const report of wedgeReports(text)) this.sendInput(report);
  }

  onFeatureReport(bytes: Uint8Array): number {
    return bytes.length;
  }
  onGetFeatureReport(reportId: number, length: number): Uint8Array {
    return new Uint8Array(length + 1).fill(0).map((v, i) => (i === 0 ? reportId : v));
  }
  onOutputReport(bytes: Uint8Array): number {
    return bytes.length;
  }
}
