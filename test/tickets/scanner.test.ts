// The USB barcode scanner: keyboard reports decoded back to the scanned text, and the HID scanner
// supervised like the other devices — absent is a visible state, unplugging is noticed, plugging back
// in resumes scanning.
import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import {
  KeyboardWedgeDecoder,
  MAX_SCAN_LENGTH,
  wedgeReports,
} from '../../main/core/scanner/keyboard-wedge.js';
import { HidScanner } from '../../main/core/scanner/hid-scanner.js';
import { signTicket } from '../../protocol/ticket.js';
import { SoftwareHidBus } from '../../sim/hid/software-bus.js';
import { SoftwareHidScanner } from '../../sim/scanner/software-hid-scanner.js';
import { seededRandom } from '../support/seeded-random.js';

function decodeAll(reports: Uint8Array[]): string[] {
  const d = new KeyboardWedgeDecoder();
  return reports.map((r) => d.feed(r)).filter((t): t is string => t !== null);
}

async function until(check: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('keyboard-wedge decoding', () => {
  it('a signed ticket typed as key reports comes back byte for byte', () => {
    const text = signTicket(
      {
        v: 1,
        id: 'T-0001',
        eventId: 'EV',
        validFrom: '2026-01-01T00:00:00Z',
        validTo: '2027-01-01T00:00:00Z',
      },
      generateKeyPairSync('ed25519').privateKey,
    );
    expect(decodeAll(wedgeReports(text))).toEqual([text]);
  });

  it('random printable ASCII round-trips; two scans stay two', () => {
    const random = seededRandom(30);
    const chars = 'ABCXYZabcxyz0123456789-_.=+/:;,?! ';
    for (let i = 0; i < 50; i++) {
      const a = Array.from(
        { length: 1 + Math.floor(random() * 80) },
        () => chars[Math.floor(random() * chars.length)],
      ).join('');
      const b = `second-${i}`;
      expect(decodeAll([...wedgeReports(a), ...wedgeReports(b)])).toEqual([a, b]);
    }
  });

  it('a held key counts once; control keys and empty scans give nothing; an endless scan is dropped', () => {
    const d = new KeyboardWedgeDecoder();
    expect(d.feed(Uint8Array.of(0, 0, 0x04, 0, 0, 0, 0, 0))).toBeNull();
    expect(d.feed(Uint8Array.of(0, 0, 0x04, 0, 0, 0, 0, 0))).toBeNull(); // still held
    expect(d.feed(Uint8Array.of(0, 0, 0x04, 0x29, 0, 0, 0, 0))).toBeNull(); // Escape ignored
    expect(d.feed(Uint8Array.of(0, 0, 0x28, 0, 0, 0, 0, 0))).toBe('a');
    expect(d.feed(new Uint8Array(8))).toBeNull();
    expect(d.feed(Uint8Array.of(0, 0, 0x28, 0, 0, 0, 0, 0))).toBeNull(); // Enter alone
    expect(decodeAll(wedgeReports('x'.repeat(MAX_SCAN_LENGTH + 1)))).toEqual([]);
  });
});

describe('HID scanner, supervised', () => {
  it('absent → visible HID_UNAVAILABLE; plugged → scans arrive; unplugged → noticed; back → scans again', async () => {
    const bus = new SoftwareHidBus();
    const scanner = new HidScanner({
      backend: bus,
      match: { vendorId: 0x05e0, productId: 0x1200, serial: null, path: null },
    });
    const seen: string[] = [];
    scanner.start((t) => seen.push(t));
    await until(() => scanner.health().error?.code === 'HID_UNAVAILABLE');
    expect(scanner.health().state).not.toBe('ready');

    const device = new SoftwareHidScanner();
    bus.plug(device);
    scanner.retryNow();
    await until(() => scanner.health().state === 'ready');
    device.scan('JKT1.abc');
    expect(seen).toEqual(['JKT1.abc']);

    bus.unplug(device.info.path);
    await until(() => scanner.health().state !== 'ready');
    expect(scanner.health().error?.code).toBe('HID_UNAVAILABLE');

    const again = new SoftwareHidScanner();
    bus.plug(again);
    scanner.retryNow();
    await until(() => scanner.health().state === 'ready');
    again.scan('JKT1.def');
    expect(seen).toEqual(['JKT1.abc', 'JKT1.def']);
    await scanner.close();
    expect(bus.isOpen(again.info.path)).toBe(false);
  });
});
