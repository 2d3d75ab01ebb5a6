// Public surface of the actuators (see README.md).
export { createActuators, deviceMatch } from './actuators.js';
export type {
  Actuators,
  ActuatorsConfig,
  ActuatorsOptions,
  ActuatorsStatus,
  HidDeviceConfig,
} from './actuators.js';
export { GateController } from './gate-controller.js';
export { AnnulReasons } from './gate-outcomes.js';
export type {
  AnnulReason,
  AnnulmentDetail,
  AnnulmentView,
  GateOutcome,
  GateSettings,
  GateStatus,
  PassageDetail,
  PassageEvidence,
  PassageRecorder,
  ReversalDetail,
} from './gate-outcomes.js';
export {
  SignalController,
  SignalPatternNames,
  defaultSignalPatterns,
  signalForOutcome,
} from './signal-controller.js';
export type { SignalPattern, SignalPatternName, SignalStatus, SignalStep } from './signal-controller.js';
export { SupervisedDevice, DeviceStates } from './supervisor.js';
export type { DeviceState, DeviceStatus, SupervisorOptions } from './supervisor.js';
export type { HidBackend, HidDeviceInfo, HidHandle, DeviceMatch } from './hid-backend.js';
export { NodeHidBackend } from './node-hid-backend.js';
export { gateStateView, signalStateView, contractAnnulReason } from './status-view.js';
export type { GateStateView, SignalStateView, ContractAnnulReason } from './status-view.js';
