// The actuators as the UI contract (main/api/contract.ts) shows them: one word for the gate and one for
// the signal in TerminalStatus, and the contract's annulment reason for a gate annulment. The detailed
// statuses (device state, last error, retry) stay available from `Actuators.status()` for staff.
import type { AnnulReasons as ContractAnnulReasons, GateStates, SignalStates } from '../../api/contract.js';
import type { AnnulReason, GateStatus } from './gate-outcomes.js';
import type { SignalPatternName, SignalStatus } from './signal-controller.js';

export type GateStateView = (typeof GateStates)[number];
export type SignalStateView = (typeof SignalStates)[number];
export type ContractAnnulReason = (typeof ContractAnnulReasons)[number];

/** none: no gate configured; unavailable: device not connected; open: released or a passage is awaited. */
export function gateStateView(status: GateStatus | null): GateStateView {
  if (!status) return 'none';
  if (status.device.state !== 'connected') return 'unavailable';
  return status.relayClosed || status.waiting > 0 ? 'open' : 'closed';
}

const patternColour: Record<SignalPatternName, SignalStateView> = {
  idle: 'off',
  admitted: 'green',
  refused: 'red',
  attention: 'amber',
  'out-of-service': 'red',
};

/** The colour of the running pattern (steady, even while a pattern blinks); unavailable when missing. */
export function signalStateView(status: SignalStatus | null): SignalStateView {
  if (!status) return 'none';
  if (status.device.state !== 'connected') return 'unavailable';
  return patternColour[status.pattern];
}

/** Every gate annulment means the person did not (observably) go through. */
export function contractAnnulReason(reason: AnnulReason): ContractAnnulReason {
  return reason === 'gate_stopped' ? 'other' : 'turnstile_not_turned';
}
