// The bytes on the wire: relay feature reports and tower output reports as the public formats describe
// them, decoded by the software devices, and hostile device answers turned into typed errors.
import { describe, expect, it } from 'vitest';
import { isKioskError } from '../../base/errors.js';
import {
  channelsFromProduct,
  inputActive,
  parseRelayState,
  relayReport,
} from '../../main/core/actuators/usbrelay.js';
import { darkTower, towerReport } from '../../main/core/actuators/signal-tower.js';
import { SoftwareSignalTower, SoftwareUsbRelay } from '../../sim/hid/index.js';
import { hex } from './helpers.js';

describe('USBRelay feature reports', () => {
  it('encodes close/open per channel and all, with report id 0 and an 8-byte body', () => {
    expect(hex(relayReport('close', 1))).toBe('00ff010000000000' + '00');
    expect(hex(relayReport('open', 8))).toBe('00fd080000000000' + '00');
    expect(hex(relayReport('closeAll'))).toBe('00fe000000000000' + '00');
    expect(hex(relayReport('openAll'))).toBe('00fc000000000000' + '00');
  });

  it('refuses channels outside 1..8 with a typed error', () => {
    for (const ch of [0, 9, 1.5, -1]) {
      let caught: unknown;
      try {
        relayReport('close', ch);
      } catch (error) {
        caught = error;
      }
      expect(isKioskError(caught, 'INVALID_REQUEST')).toBe(true);
    }
  });

  it('parses the state report with or without the report id', () => {
    const body = [0x41, 0x42, 0x43, 0x44, 0x45, 0, 0, 0b101];
    expect(parseRelayState(Uint8Array.from([0, ...body]))).toEqual({ serial: 'ABCDE', closedMask: 5 });
    expect(parseRelayState(Uint8Array.from(body))).toEqual({ serial: 'ABCDE', closedMask: 5 });
  });

  it('turns a short or garbled state report into HID_FAILED', () => {
    for (const bad of [Uint8Array.of(0, 1, 2), Uint8Array.from([0, 0x41, 0x07, 0x41, 0x41, 0x41, 0, 0, 0])]) {
      let caught: unknown;
      try {
        parseRelayState(bad);
      } catch (error) {
        caught = error;
      }
      expect(isKioskError(caught, 'HID_FAILED')).toBe(true);
    }
  });

  it('reads the channel count from the product string only when it has the known shape', () => {
    expect(channelsFromProduct('USBRelay4')).toBe(4);
    expect(channelsFromProduct('USBRelay9')).toBeNull();
    expect(channelsFromProduct('Something')).toBeNull();
    expect(channelsFromProduct(undefined)).toBeNull();
  });

  it('the software board switches exactly the channel the report names and ignores the rest', () => {
    const board = new SoftwareUsbRelay({ channels: 4, serial: 'QW3RT' });
    board.onFeatureReport(relayReport('close', 3));
    expect(board.closedMask).toBe(0b0100);
    board.onFeatureReport(relayReport('closeAll'));
    expect(board.closedMask).toBe(0b1111);
    board.onFeatureReport(relayReport('open', 2));
    expect(board.closedMask).toBe(0b1101);
    board.onFeatureReport(relayReport('close', 8)); // not on a 4-channel board
    board.onFeatureReport(Uint8Array.of(0, 0x42, 1)); // unknown command
    expect(board.closedMask).toBe(0b1101);
    expect(board.ignored).toHaveLength(2);
    expect(parseRelayState(board.onGetFeatureReport(0, 9))).toEqual({ serial: 'QW3RT', closedMask: 0b1101 });
  });

  it('reads passage inputs from the input-report bitmask', () => {
    expect(inputActive(Uint8Array.of(0b10), 2)).toBe(true);
    expect(inputActive(Uint8Array.of(0b10), 1)).toBe(false);
    expect(inputActive(new Uint8Array(0), 1)).toBe(false);
  });
});

describe('signal tower output report', () => {
  it('puts lamps and buzzer in the documented nibbles', () => {
    const state = darkTower();
    state.lamps.red = true;
    state.lamps.blue = true;
    state.lamps.clear = true;
    state.buzzer = true;
    // id, 00 00, buzzer type 1, tone A 7 / B 0, red|yellow, green|blue, clear|0, 00
    expect(hex(towerReport(state))).toBe('00' + '0000' + '01' + '70' + '10' + '01' + '10' + '00');
    expect(hex(towerReport(darkTower()))).toBe('00' + '00'.repeat(8));
  });

  it('is decoded by the software tower, which honours "keep" nibbles and rejects wrong lengths', () => {
    const tower = new SoftwareSignalTower();
    const state = darkTower();
    state.lamps.green = true;
    expect(tower.onOutputReport(towerReport(state))).toBe(9);
    expect(SoftwareSignalTower.lit(tower.state)).toEqual(['green']);
    // keep everything except yellow on, buzzer keep
    tower.onOutputReport(Uint8Array.of(0, 0, 0, 0x08, 0xff, 0x81, 0x88, 0x80, 0));
    expect(SoftwareSignalTower.lit(tower.state)).toEqual(['yellow', 'green']);
    expect(tower.onOutputReport(Uint8Array.of(0, 1, 2))).toBe(0);
    expect(tower.ignored).toHaveLength(1);
  });
});
