// An in-process HID "bus": software devices that are plugged and unplugged at will, reached through the
// same HidBackend interface as node-hid. These machines have no `uhid` kernel module, so a virtual kernel
// HID device (hidraw node) cannot be created; this bus is the software device's transport instead.
// Conventions follow hidapi/hidraw on Linux: report id first on writes, and on GET_REPORT results.
import { EventEmitter } from 'node:events';
import { KioskError } from '../../base/errors.js';
import type { HidBackend, HidDeviceInfo, HidHandle } from '../../main/core/actuators/hid-backend.js';

/** One software device: what it answers to reports. Plain byte handlers, like firmware. */
export abstract class SoftwareHidDevice extends EventEmitter<{ input: [Uint8Array] }> {
  abstract readonly info: HidDeviceInfo;
  /** A hung device: I/O to it never completes (firmware lock-up, a wedged USB hub). */
  stalled = false;
  /** SET_REPORT(feature). bytes[0] is the report id. Returns bytes accepted. */
  abstract onFeatureReport(bytes: Uint8Array): number;
  /** GET_REPORT(feature). Returns the report id followed by the report. */
  abstract onGetFeatureReport(reportId: number, length: number): Uint8Array;
  /** Output report (interrupt OUT). bytes[0] is the report id. */
  abstract onOutputReport(bytes: Uint8Array): number;

  /** USB power went away (unplugged): firmware state that needs power is lost here. */
  onUnplug(): void {}

  /** The device sends an input report to the host. */
  protected sendInput(report: Uint8Array): void {
    this.emit('input', Uint8Array.from(report));
  }
}

class SoftwareHandle implements HidHandle {
  private readonly events = new EventEmitter<{ data: [Uint8Array]; error: [Error] }>();
  private gone = false;
  private closed = false;
  private readonly forward = (report: Uint8Array): void => {
    if (!this.closed && !this.gone) this.events.emit('data', report);
  };

  constructor(
    private readonly device: SoftwareHidDevice,
    private readonly onClose: () => void,
  ) {
    device.on('input', this.forward);
  }

  /** Called by the bus when the device is unplugged: like hidraw, pending and later I/O fails. */
  disconnect(): void {
    if (this.gone) return;
    this.gone = true;
    this.device.off('input', this.forward);
    if (!this.closed)
      this.events.emit('error', new Error('could not read from HID device: device disconnected'));
  }

  private async io<T>(fn: () => T): Promise<T> {
    await Promise.resolve();
    if (this.device.stalled) await new Promise<never>(() => undefined);
    if (this.closed) throw new Error('HID device is closed');
    if (this.gone) throw new Error('could not write to HID device: device disconnected');
    return fn();
  }

  write(bytes: Uint8Array): Promise<number> {
    return this.io(() => this.device.onOutputReport(Uint8Array.from(bytes)));
  }

  sendFeatureReport(bytes: Uint8Array): Promise<number> {
    return this.io(() => this.device.onFeatureReport(Uint8Array.from(bytes)));
  }

  getFeatureReport(reportId: number, length: number): Promise<Uint8Array> {
    return this.io(() => this.device.onGetFeatureReport(reportId, length));
  }

  onData(listener: (report: Uint8Array) => void): () => void {
    this.events.on('data', listener);
    return () => this.events.off('data', listener);
  }

  onError(listener: (error: Error) => void): () => void {
    this.events.on('error', listener);
    return () => this.events.off('error', listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.device.off('input', this.forward);
    this.onClose();
  }
}

export class SoftwareHidBus implements HidBackend {
  readonly name = 'software';
  private readonly plugged = new Map<string, SoftwareHidDevice>();
  private readonly open_ = new Map<string, SoftwareHandle>();
  /** Counts enumerations, so tests can see hot-plug polling happen. */
  enumerations = 0;

  plug(device: SoftwareHidDevice): void {
    if (this.plugged.has(device.info.path)) throw new Error(`${device.info.path} is already plugged`);
    this.plugged.set(device.info.path, device);
  }

  unplug(path: string): void {
    const device = this.plugged.get(path);
    this.plugged.delete(path);
    device?.onUnplug();
    const handle = this.open_.get(path);
    this.open_.delete(path);
    handle?.disconnect();
  }

  isPlugged(path: string): boolean {
    return this.plugged.has(path);
  }

  isOpen(path: string): boolean {
    return this.open_.has(path);
  }

  async enumerate(): Promise<HidDeviceInfo[]> {
    await Promise.resolve();
    this.enumerations += 1;
    return [...this.plugged.values()].map((d) => ({ ...d.info }));
  }

  async open(path: string): Promise<HidHandle> {
    await Promise.resolve();
    const device = this.plugged.get(path);
    if (!device) throw new KioskError('HID_UNAVAILABLE', `HID device ${path} cannot be opened`, { path });
    if (this.open_.has(path))
      throw new KioskError('HID_UNAVAILABLE', `HID device ${path} is open elsewhere`, { path });
    const handle: SoftwareHandle = new SoftwareHandle(device, () => {
      if (this.open_.get(path) === handle) this.open_.delete(path);
    });
    this.open_.set(path, handle);
    return handle;
  }
}
