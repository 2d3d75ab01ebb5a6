// Software HID devices for tests and the demo (see README.md).
import { SoftwareHidBus } from './software-bus.js';
import { SoftwareUsbRelay, type SoftwareRelayOptions } from './software-relay.js';
import { SoftwareSignalTower, type SoftwareTowerOptions } from './software-tower.js';

export { SoftwareHidBus, SoftwareHidDevice } from './software-bus.js';
export { SoftwareUsbRelay, type RelayTransition, type SoftwareRelayOptions } from './software-relay.js';
export { SoftwareSignalTower, type TowerSnapshot, type TowerLamp } from './software-tower.js';

export interface SoftwareRig {
  bus: SoftwareHidBus;
  relay: SoftwareUsbRelay;
  tower: SoftwareSignalTower;
}

/** A bus with one relay board and one signal tower plugged in: what `driver: "software"` uses. */
export function createSoftwareRig(
  options: { relay?: SoftwareRelayOptions; tower?: SoftwareTowerOptions } = {},
): SoftwareRig {
  const bus = new SoftwareHidBus();
  const relay = new SoftwareUsbRelay(options.relay);
  const tower = new SoftwareSignalTower(options.tower);
  bus.plug(relay);
  bus.plug(tower);
  return { bus, relay, tower };
}
