// HidBackend over node-hid's asynchronous API only (`devicesAsync()`, `HIDAsync.open`). The synchronous
// API blocks the event loop in native code and is a known cause of frozen kiosk windows: it is never used.
// node-hid is imported lazily so that a build without the native module turns the peripherals off
// (HID_UNAVAILABLE, a visible state) instead of failing at start.
import { KioskError } from '../../../base/errors.js';
import type { HidBackend, HidDeviceInfo, HidHandle } from './hid-backend.js';
import type * as NodeHidModule from 'node-hid';

type NodeHid = typeof NodeHidModule;
type HidAsync = Awaited<ReturnType<NodeHid['HIDAsync']['open']>>;

let loaded: Promise<NodeHid> | undefined;

async function nodeHid(): Promise<NodeHid> {
  loaded ??= import('node-hid').catch((error: unknown) => {
    loaded = undefined;
    throw new KioskError('HID_UNAVAILABLE', 'the node-hid native module cannot be loaded', undefined, {
      cause: error,
    });
  });
  return loaded;
}

class NodeHidHandle implements HidHandle {
  constructor(private readonly device: HidAsync) {}

  async write(bytes: Uint8Array): Promise<number> {
    return this.device.write(Buffer.from(bytes));
  }

  async sendFeatureReport(bytes: Uint8Array): Promise<number> {
    return this.device.sendFeatureReport(Buffer.from(bytes));
  }

  async getFeatureReport(reportId: number, length: number): Promise<Uint8Array> {
    const data = await this.device.getFeatureReport(reportId, length);
    return new Uint8Array(data);
  }

  onData(listener: (report: Uint8Array) => void): () => void {
    const wrapped = (data: Buffer): void => listener(new Uint8Array(data));
    this.device.on('data', wrapped);
    return () => this.device.off('data', wrapped);
  }

  onError(listener: (error: Error) => void): () => void {
    const wrapped = (error: unknown): void =>
      listener(error instanceof Error ? error : new Error(String(error)));
    this.device.on('error', wrapped);
    return () => this.device.off('error', wrapped);
  }

  async close(): Promise<void> {
    await this.device.close();
  }
}

export class NodeHidBackend implements HidBackend {
  readonly name = 'node-hid';

  async enumerate(): Promise<HidDeviceInfo[]> {
    const hid = await nodeHid();
    const devices = await hid.devicesAsync();
    const out: HidDeviceInfo[] = [];
    for (const d of devices) {
      if (!d.path) continue;
      const info: HidDeviceInfo = { path: d.path, vendorId: d.vendorId, productId: d.productId };
      if (d.serialNumber) info.serialNumber = d.serialNumber;
      if (d.manufacturer) info.manufacturer = d.manufacturer;
      if (d.product) info.product = d.product;
      out.push(info);
    }
    return out;
  }

  async open(path: string): Promise<HidHandle> {
    const hid = await nodeHid();
    try {
      // Exclusive by default: a second kiosk process must not drive the same gate.
      const device = await hid.HIDAsync.open(path);
      return new NodeHidHandle(device);
    } catch (error) {
      throw new KioskError(
        'HID_UNAVAILABLE',
        `HID device ${path} cannot be opened`,
        { path },
        { cause: error },
      );
    }
  }
}
