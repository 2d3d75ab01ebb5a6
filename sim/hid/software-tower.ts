// A software signal tower of the PATLITE NE-SN-USB kind (191a:8003): decodes the 8-byte output report
// (nibbles: buzzer type, tones, red/yellow, green/blue, clear; 8/15 = keep) and records each state with
// Date.now(), so tests can check colours and buzzer timing from the bytes the driver really sent.
import { SoftwareHidDevice } from './software-bus.js';
import type { HidDeviceInfo } from '../../main/core/actuators/hid-backend.js';

export type TowerLamp = 'red' | 'yellow' | 'green' | 'blue' | 'clear';

export interface TowerSnapshot {
  at: number;
  /** 0 off, 1 on, 2..5 device patterns. */
  lamps: Record<TowerLamp, number>;
  /** 0 off, 1 continuous, 2..5 device patterns. */
  buzzer: number;
  toneA: number;
  toneB: number;
}

export interface SoftwareTowerOptions {
  path?: string;
  serial?: string;
}

export class SoftwareSignalTower extends SoftwareHidDevice {
  readonly info: HidDeviceInfo;
  state: TowerSnapshot = {
    at: 0,
    lamps: { red: 0, yellow: 0, green: 0, blue: 0, clear: 0 },
    buzzer: 0,
    toneA: 0,
    toneB: 0,
  };
  readonly history: TowerSnapshot[] = [];
  readonly ignored: Uint8Array[] = [];

  constructor(options: SoftwareTowerOptions = {}) {
    super();
    this.info = {
      path: options.path ?? 'software:signal-tower:1',
      vendorId: 0x191a,
      productId: 0x8003,
      manufacturer: 'PATLITE (software)',
      product: 'NE-SN-USB (software)',
    };
    if (options.serial) this.info.serialNumber = options.serial;
  }

  onOutputReport(bytes: Uint8Array): number {
    // bytes[0] report id 0, then 8 bytes.
    if (bytes.length !== 9 || bytes[0] !== 0) {
      this.ignored.push(bytes);
      return 0;
    }
    const b = (i: number): number => bytes[i + 1] ?? 0;
    const keep = (next: number, prev: number, keepValue: number): number =>
      next === keepValue ? prev : next;
    const prev = this.state;
    const nib = (i: number, high: boolean): number => (high ? b(i) >> 4 : b(i) & 0x0f);
    const next: TowerSnapshot = {
      at: Date.now(),
      buzzer: keep(b(2) & 0x0f, prev.buzzer, 8),
      toneA: keep(nib(3, true), prev.toneA, 15),
      toneB: keep(nib(3, false), prev.toneB, 15),
      lamps: {
        red: keep(nib(4, true), prev.lamps.red, 8),
        yellow: keep(nib(4, false), prev.lamps.yellow, 8),
        green: keep(nib(5, true), prev.lamps.green, 8),
        blue: keep(nib(5, false), prev.lamps.blue, 8),
        clear: keep(nib(6, true), prev.lamps.clear, 8),
      },
    };
    this.state = next;
    this.history.push(next);
    return bytes.length;
  }

  onFeatureReport(bytes: Uint8Array): number {
    this.ignored.push(bytes);
    return 0;
  }

  onGetFeatureReport(reportId: number, length: number): Uint8Array {
    const out = new Uint8Array(Math.max(1, length));
    out[0] = reportId;
    return out;
  }

  /** Lamps that are on (value ≥ 1) in a snapshot, for short assertions. */
  static lit(snapshot: TowerSnapshot): TowerLamp[] {
    return (Object.keys(snapshot.lamps) as TowerLamp[]).filter((k) => snapshot.lamps[k] !== 0);
  }
}
