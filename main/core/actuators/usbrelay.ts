// The common "USBRelay" HID relay boards (1/2/4/8 channels, V-USB firmware, USB id 16c0:05df,
// manufacturer "www.dcttech.com", product "USBRelay<N>"). Public facts relied on (docs/peripherals.md):
//  - control is by SET_REPORT(feature) without a report id: [cmd, channel, 0 …] (8 bytes);
//    0xFF = close channel n, 0xFD = open channel n, 0xFE = close all, 0xFC = open all;
//  - GET_REPORT(feature) returns 8 bytes: bytes 0..4 the board's 5-character serial (the USB iSerial is
//    empty, so a configured serial is checked here, after opening), byte 7 the closed-channel bitmask.
// hidapi prefixes report id 0x00, so the bytes on the wire from this module are 9 long.
//
// These boards have no inputs. A board that does (relay + opto inputs) is supported when it sends an
// input report whose first byte is the bitmask of active inputs (bit n-1 = input n); that convention is
// this project's, implemented by the software device, and is what `passageInput` reads.
import { KioskError } from '../../../base/errors.js';
import type { DeviceMatch, HidDeviceInfo, HidHandle } from './hid-backend.js';
import type { DeviceProfile } from './supervisor.js';

export const USBRELAY_VENDOR_ID = 0x16c0;
export const USBRELAY_PRODUCT_ID = 0x05df;
export const RELAY_REPORT_LENGTH = 8;

export const RelayCommand = {
  close: 0xff,
  open: 0xfd,
  closeAll: 0xfe,
  openAll: 0xfc,
} as const;
export type RelayCommandName = keyof typeof RelayCommand;

/** Feature report bytes as sent through hidapi: report id 0x00, then the 8-byte report. */
export function relayReport(command: RelayCommandName, channel = 0): Uint8Array {
  if (
    (command === 'close' || command === 'open') &&
    (channel < 1 || channel > 8 || !Number.isInteger(channel))
  )
    throw new KioskError('INVALID_REQUEST', `relay channel ${channel} is outside 1..8`);
  const bytes = new Uint8Array(1 + RELAY_REPORT_LENGTH);
  bytes[1] = RelayCommand[command];
  bytes[2] = command === 'close' || command === 'open' ? channel : 0;
  return bytes;
}

export interface RelayBoardState {
  serial: string;
  /** Bit n-1 set: channel n closed (energised). */
  closedMask: number;
}

/** Parses GET_REPORT(feature 0); accepts the report with or without the leading report id. */
export function parseRelayState(report: Uint8Array): RelayBoardState {
  const body = report.length === RELAY_REPORT_LENGTH + 1 && report[0] === 0 ? report.subarray(1) : report;
  if (body.length !== RELAY_REPORT_LENGTH)
    throw new KioskError('HID_FAILED', `relay state report has ${report.length} bytes, expected 8 or 9`);
  let serial = '';
  for (const byte of body.subarray(0, 5)) {
    if (byte === 0) break;
    if (byte < 0x20 || byte > 0x7e) throw new KioskError('HID_FAILED', 'relay serial is not printable ASCII');
    serial += String.fromCharCode(byte);
  }
  return { serial, closedMask: body[7] ?? 0 };
}

/** "USBRelay4" → 4; anything else → null (the channel count is then not checked). */
export function channelsFromProduct(product: string | undefined): number | null {
  const m = /^USBRelay([1-8])$/.exec(product ?? '');
  return m ? Number(m[1]) : null;
}

export interface RelaySession {
  serial: string;
  channels: number | null;
}

/** Attach: read the state, check the firmware serial when configured, and open every relay (fail-safe). */
export function usbRelayProfile(requiredChannels: readonly number[]): DeviceProfile<RelaySession> {
  return {
    driver: 'usbrelay',
    usbSerialMatch: false,
    async attach(handle: HidHandle, info: HidDeviceInfo, match: DeviceMatch): Promise<RelaySession> {
      const state = parseRelayState(await handle.getFeatureReport(0, RELAY_REPORT_LENGTH + 1));
      if (match.serial !== null && state.serial !== match.serial)
        throw new KioskError(
          'HID_UNAVAILABLE',
          `relay board serial ${state.serial} is not the configured one`,
        );
      const channels = channelsFromProduct(info.product);
      const tooHigh = requiredChannels.find((c) => channels !== null && c > channels);
      if (tooHigh !== undefined)
        throw new KioskError(
          'CONFIG_INVALID',
          `relay channel ${tooHigh} configured on a ${channels}-channel board`,
        );
      if (state.closedMask !== 0) await handle.sendFeatureReport(relayReport('openAll'));
      return { serial: state.serial, channels };
    },
  };
}

/** True when input `input` (1..8) is active in an input report of the project's input convention. */
export function inputActive(report: Uint8Array, input: number): boolean {
  const mask = report[0] ?? 0;
  return (mask & (1 << (input - 1))) !== 0;
}
