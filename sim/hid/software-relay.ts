// A software "USBRelay" board (16c0:05df, product USBRelay<N>) that answers the same feature reports as
// the V-USB firmware: 0xFF/0xFD close/open channel n, 0xFE/0xFC close/open all, GET_REPORT → 5-char serial
// + closed-channel bitmask in byte 7. Optional inputs (a passage sensor) are sent as input reports whose
// first byte is the active-input bitmask. Every relay transition is recorded with Date.now() for tests.
import { SoftwareHidDevice } from './software-bus.js';
import type { HidDeviceInfo } from '../../main/core/actuators/hid-backend.js';

export interface RelayTransition {
  at: number;
  channel: number;
  closed: boolean;
}

export interface SoftwareRelayOptions {
  path?: string;
  channels?: 1 | 2 | 4 | 8;
  serial?: string;
  /**
   * Demo: after `channel` closes, a person passes the sensor on `input` after `afterMs`; with
   * `skipEvery: n`, every n-th opening nobody passes (so the demo shows annulments too).
   */
  autoPassage?: { channel: number; input: number; afterMs: number; skipEvery?: number } | null;
}

export class SoftwareUsbRelay extends SoftwareHidDevice {
  readonly info: HidDeviceInfo;
  readonly channels: number;
  serial: string;
  closedMask = 0;
  inputMask = 0;
  readonly transitions: RelayTransition[] = [];
  /** Reports the firmware would ignore (unknown command, bad channel, wrong length). */
  readonly ignored: Uint8Array[] = [];
  /** Every feature report received, as sent on the wire (report id first). */
  readonly reports: Uint8Array[] = [];
  autoPassage: SoftwareRelayOptions['autoPassage'];
  private openings = 0;

  constructor(options: SoftwareRelayOptions = {}) {
    super();
    this.channels = options.channels ?? 2;
    this.serial = options.serial ?? 'SWRL1';
    this.autoPassage = options.autoPassage ?? null;
    this.info = {
      path: options.path ?? 'software:usbrelay:1',
      vendorId: 0x16c0,
      productId: 0x05df,
      manufacturer: 'www.dcttech.com',
      product: `USBRelay${this.channels}`,
    };
  }

  isClosed(channel: number): boolean {
    return (this.closedMask & (1 << (channel - 1))) !== 0;
  }

  /** Closed intervals of one channel: [closedAt, openedAt] pairs (openedAt null while still closed). */
  pulses(channel: number): Array<{ from: number; to: number | null }> {
    const out: Array<{ from: number; to: number | null }> = [];
    for (const t of this.transitions.filter((x) => x.channel === channel)) {
      if (t.closed) out.push({ from: t.at, to: null });
      else {
        const last = out[out.length - 1];
        if (last && last.to === null) last.to = t.at;
      }
    }
    return out;
  }

  private setMask(mask: number): void {
    for (let ch = 1; ch <= this.channels; ch += 1) {
      const bit = 1 << (ch - 1);
      const before = (this.closedMask & bit) !== 0;
      const after = (mask & bit) !== 0;
      if (before !== after) {
        this.transitions.push({ at: Date.now(), channel: ch, closed: after });
        if (after && this.autoPassage && this.autoPassage.channel === ch) {
          const { input, afterMs, skipEvery } = this.autoPassage;
          this.openings += 1;
          if (!skipEvery || this.openings % skipEvery !== 0)
            setTimeout(() => this.passSensor(input), afterMs).unref?.();
        }
      }
    }
    this.closedMask = mask & ((1 << this.channels) - 1);
  }

  onFeatureReport(bytes: Uint8Array): number {
    this.reports.push(bytes);
    // bytes[0] = report id (none on this firmware → 0), bytes[1..8] = report.
    if (bytes.length < 3 || bytes[0] !== 0) {
      this.ignored.push(bytes);
      return bytes.length;
    }
    const cmd = bytes[1];
    const ch = bytes[2] ?? 0;
    const valid = ch >= 1 && ch <= this.channels;
    if (cmd === 0xff && valid) this.setMask(this.closedMask | (1 << (ch - 1)));
    else if (cmd === 0xfd && valid) this.setMask(this.closedMask & ~(1 << (ch - 1)));
    else if (cmd === 0xfe) this.setMask((1 << this.channels) - 1);
    else if (cmd === 0xfc) this.setMask(0);
    else this.ignored.push(bytes);
    return bytes.length;
  }

  /** Relay coils need USB power: unplugging releases every relay (the gate locks). */
  override onUnplug(): void {
    this.setMask(0);
    this.inputMask = 0;
  }

  onGetFeatureReport(reportId: number, length: number): Uint8Array {
    const out = new Uint8Array(Math.max(1, length));
    out[0] = reportId;
    const body = new Uint8Array(8);
    for (let i = 0; i < 5 && i < this.serial.length; i += 1) body[i] = this.serial.charCodeAt(i);
    body[7] = this.closedMask;
    out.set(body.subarray(0, Math.max(0, out.length - 1)), 1);
    return out;
  }

  onOutputReport(bytes: Uint8Array): number {
    this.ignored.push(bytes);
    return bytes.length;
  }

  /** Sets one input line and sends the input report. */
  setInput(input: number, active: boolean): void {
    const bit = 1 << (input - 1);
    this.inputMask = active ? this.inputMask | bit : this.inputMask & ~bit;
    this.sendInput(Uint8Array.of(this.inputMask));
  }

  /** A person walks through the beam: the input goes active, then inactive. */
  passSensor(input: number): void {
    this.setInput(input, true);
    this.setInput(input, false);
  }
}
