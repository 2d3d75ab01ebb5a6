// USB signal tower with buzzer, PATLITE NE-SN-USB kind (USB id 191a:8003). Public facts relied on
// (docs/peripherals.md): one 8-byte output report carries the whole state, as nibbles:
//   byte 0..1  0x00 0x00
//   byte 2     buzzer type (low nibble): 0 off, 1 continuous, 2..5 device patterns, 8 keep
//   byte 3     buzzer tone A (high nibble), tone B (low nibble): 0 none, 1..13, 15 keep
//   byte 4     red (high) / yellow (low)     lamp: 0 off, 1 on, 2..5 device patterns, 8 keep
//   byte 5     green (high) / blue (low)
//   byte 6     clear/white (high), low nibble 0
//   byte 7     0x00
// The kiosk always sends a complete state (no "keep" nibbles) and times blinking and beeps itself, so
// that a replugged tower is restored by one report and a new decision replaces the old pattern at once.
import { KioskError } from '../../../base/errors.js';
import type { HidHandle } from './hid-backend.js';
import type { DeviceProfile } from './supervisor.js';

export const TOWER_VENDOR_ID = 0x191a;
export const TOWER_PRODUCT_ID = 0x8003;
export const TOWER_REPORT_LENGTH = 8;

export const Lamps = ['red', 'yellow', 'green', 'blue', 'clear'] as const;
export type Lamp = (typeof Lamps)[number];

export interface TowerState {
  lamps: Record<Lamp, boolean>;
  buzzer: boolean;
}

/** The tone used for the continuous buzzer (tone A nibble; 1..13). */
export const BUZZER_TONE = 7;

export function darkTower(): TowerState {
  return { lamps: { red: false, yellow: false, green: false, blue: false, clear: false }, buzzer: false };
}

/** Output report bytes as sent through hidapi: report id 0x00, then the 8-byte report. */
export function towerReport(state: TowerState): Uint8Array {
  const n = (on: boolean): number => (on ? 1 : 0);
  const bytes = new Uint8Array(1 + TOWER_REPORT_LENGTH);
  bytes[3] = state.buzzer ? 1 : 0;
  bytes[4] = state.buzzer ? BUZZER_TONE << 4 : 0;
  bytes[5] = (n(state.lamps.red) << 4) | n(state.lamps.yellow);
  bytes[6] = (n(state.lamps.green) << 4) | n(state.lamps.blue);
  bytes[7] = n(state.lamps.clear) << 4;
  return bytes;
}

export interface TowerSession {
  product: string | null;
}

export function signalTowerProfile(): DeviceProfile<TowerSession> {
  return {
    driver: 'signal-tower',
    usbSerialMatch: true,
    async attach(handle: HidHandle, info): Promise<TowerSession> {
      // A known state first: whatever a previous process left lit is cleared.
      const written = await handle.write(towerReport(darkTower()));
      if (written <= 0) throw new KioskError('HID_FAILED', 'signal tower accepted no bytes');
      return { product: info.product ?? null };
    },
  };
}
