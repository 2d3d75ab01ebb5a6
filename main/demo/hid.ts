// The demo's gate and signal tower: the in-process software HID devices (sim/hid) for the `software`
// driver, with a simulated patron who walks through the gate 1.2 s after it opens, four times out of
// five; the fifth time nobody comes and the entry is annulled, so the demo shows both commit on passage
// and annulment. The composition hands `rig.bus` to the terminal as its software HID backend.
import type { KioskConfig } from '../../config/load.js';
import { createSoftwareRig, type SoftwareRig } from '../../sim/hid/index.js';

/** Every n-th opening of the demo gate nobody walks through. */
export const DEMO_SKIP_EVERY = 5;

/** The software rig for `config.actuators`, or null when no device uses the `software` driver. */
export function createDemoHidRig(
  actuators: KioskConfig['actuators'],
  options: { skipEvery?: number } = {},
): SoftwareRig | null {
  const { gate, signal } = actuators;
  if (gate?.driver !== 'software' && signal?.driver !== 'software') return null;
  return createSoftwareRig({
    relay: {
      channels: 8,
      autoPassage:
        gate && gate.passageInput !== null
          ? {
              channel: gate.channel,
              input: gate.passageInput,
              afterMs: Math.min(1200, gate.passageTimeoutMs / 2),
              ...(options.skipEvery ? { skipEvery: options.skipEvery } : {}),
            }
          : null,
    },
  });
}
