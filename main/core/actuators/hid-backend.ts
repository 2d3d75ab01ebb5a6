// The one seam between the actuator drivers and a HID transport. Two implementations exist: node-hid's
// asynchronous API (node-hid-backend.ts) and the in-process software device bus (sim/hid/). Drivers only
// see this interface, so the same report bytes go to real hardware and to the software device.
//
// Byte conventions follow hidapi on Linux (hidraw): the first byte of write/sendFeatureReport is the
// report id (0x00 for devices without numbered reports); getFeatureReport returns the report id first.

export interface HidDeviceInfo {
  path: string;
  vendorId: number;
  productId: number;
  /** USB iSerial string; many cheap boards have none (empty or undefined). */
  serialNumber?: string;
  manufacturer?: string;
  product?: string;
}

export interface HidHandle {
  /** Output report (interrupt OUT); bytes[0] is the report id. Resolves to bytes written. */
  write(bytes: Uint8Array): Promise<number>;
  /** SET_REPORT(feature); bytes[0] is the report id. */
  sendFeatureReport(bytes: Uint8Array): Promise<number>;
  /** GET_REPORT(feature); the result starts with the report id. */
  getFeatureReport(reportId: number, length: number): Promise<Uint8Array>;
  /** Input reports and transport errors (an unplugged device reports an error here). Returns an unsubscribe. */
  onData(listener: (report: Uint8Array) => void): () => void;
  onError(listener: (error: Error) => void): () => void;
  close(): Promise<void>;
}

export interface HidBackend {
  readonly name: string;
  enumerate(): Promise<HidDeviceInfo[]>;
  /** Rejects with KioskError HID_UNAVAILABLE when the path is gone or cannot be opened. */
  open(path: string): Promise<HidHandle>;
}

/** How a configured device is found among the enumerated ones. Null fields match anything. */
export interface DeviceMatch {
  vendorId: number | null;
  productId: number | null;
  /** Matched against the USB serial string here; drivers may check a firmware serial after opening. */
  serial: string | null;
  path: string | null;
}

export function matchesDevice(info: HidDeviceInfo, match: DeviceMatch, checkUsbSerial: boolean): boolean {
  if (match.path !== null && info.path !== match.path) return false;
  if (match.vendorId !== null && info.vendorId !== match.vendorId) return false;
  if (match.productId !== null && info.productId !== match.productId) return false;
  if (checkUsbSerial && match.serial !== null && (info.serialNumber ?? '') !== match.serial) return false;
  return true;
}

export function hex16(value: number): string {
  return `0x${value.toString(16).padStart(4, '0')}`;
}
