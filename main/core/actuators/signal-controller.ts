// Signal patterns on the tower: lamps and buzzer timed here, one complete state per report. A new
// `show()` cancels the running pattern at once (cancel-previous): the next decision's colour is never
// mixed with the last one's beeps. While the tower is missing, patterns keep their timing and the
// current state is written again as soon as the tower is attached.
import { EventEmitter } from 'node:events';
import type { Outcome } from '../../../base/decision.js';
import { KioskError, toKioskError } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import type { DeviceStatus, SupervisedDevice } from './supervisor.js';
import { darkTower, towerReport, type Lamp, type TowerSession, type TowerState } from './signal-tower.js';
import { cancellableWait, type CancellableWait } from './timing.js';

export const SignalPatternNames = ['idle', 'admitted', 'refused', 'attention', 'out-of-service'] as const;
export type SignalPatternName = (typeof SignalPatternNames)[number];

export interface SignalStep {
  lamps: readonly Lamp[];
  buzzer: boolean;
  ms: number;
}

export interface SignalPattern {
  /** Played once. */
  steps: readonly SignalStep[];
  /** Then played until another pattern replaces this one (null: none). */
  loop: readonly SignalStep[] | null;
  /** After `steps` when there is no loop: go dark, or hold the last step's state until replaced. */
  after: 'idle' | 'hold';
}

const step = (lamps: readonly Lamp[], buzzer: boolean, ms: number): SignalStep => ({ lamps, buzzer, ms });

/**
 * admitted: green, one short beep; refused: red, three short beeps; attention (staff must look, or
 * touch again): yellow, two long beeps, then yellow blinking until replaced; out-of-service: red and one
 * long beep, red held until replaced. Durations in ms; the result hold matches ui.resultHoldMs.
 */
export function defaultSignalPatterns(holdMs = 3000): Record<SignalPatternName, SignalPattern> {
  const beeps = (lamps: Lamp[], n: number, on: number, off: number): SignalStep[] =>
    Array.from({ length: n }, () => [step(lamps, true, on), step(lamps, false, off)]).flat();
  const rest = (lamps: Lamp[], used: number): SignalStep[] =>
    holdMs > used ? [step(lamps, false, holdMs - used)] : [];
  return {
    idle: { steps: [], loop: null, after: 'idle' },
    admitted: { steps: [step(['green'], true, 150), ...rest(['green'], 150)], loop: null, after: 'idle' },
    refused: { steps: [...beeps(['red'], 3, 120, 80), ...rest(['red'], 600)], loop: null, after: 'idle' },
    attention: {
      steps: beeps(['yellow'], 2, 400, 200),
      loop: [step(['yellow'], false, 500), step([], false, 500)],
      after: 'hold',
    },
    'out-of-service': {
      steps: [step(['red'], true, 600), step(['red'], false, 0)],
      loop: null,
      after: 'hold',
    },
  };
}

/** The pattern a decision shows. */
export function signalForOutcome(outcome: Outcome): SignalPatternName {
  switch (outcome) {
    case 'admitted':
      return 'admitted';
    case 'refused':
      return 'refused';
    case 'staff':
    case 'error':
      return 'attention';
  }
}

export interface SignalStatus {
  device: DeviceStatus;
  pattern: SignalPatternName;
  since: string;
  /** What the tower should show now (written again after a replug). */
  state: TowerState;
}

export type ShowResult = 'completed' | 'cancelled';

function toState(s: SignalStep): TowerState {
  const state = darkTower();
  for (const lamp of s.lamps) state.lamps[lamp] = true;
  state.buzzer = s.buzzer;
  return state;
}

export class SignalController extends EventEmitter<{ status: [SignalStatus] }> {
  private readonly log = getLogger('signal');
  private generation = 0;
  private wait: CancellableWait | null = null;
  private pattern: SignalPatternName = 'idle';
  private since = new Date().toISOString();
  private state: TowerState = darkTower();

  constructor(
    private readonly device: SupervisedDevice<TowerSession>,
    private readonly patterns: Record<SignalPatternName, SignalPattern> = defaultSignalPatterns(),
  ) {
    super();
    device.on('connected', () => void this.write(this.state));
    device.on('status', () => this.emitStatus());
  }

  get status(): SignalStatus {
    return {
      device: this.device.status,
      pattern: this.pattern,
      since: this.since,
      state: structuredClone(this.state),
    };
  }

  /**
   * Shows a pattern, replacing the current one. A missing tower is not an error (it is visible in
   * `status`); only an unknown pattern name (from an untyped boundary) throws INVALID_REQUEST.
   */
  async show(name: SignalPatternName): Promise<ShowResult> {
    if (!SignalPatternNames.includes(name))
      throw new KioskError('INVALID_REQUEST', `unknown signal pattern ${JSON.stringify(name)}`);
    const pattern = this.patterns[name];
    const generation = ++this.generation;
    this.wait?.cancel();
    this.wait = null;
    this.pattern = name;
    this.since = new Date().toISOString();
    const play = async (steps: readonly SignalStep[]): Promise<boolean> => {
      for (const s of steps) {
        if (generation !== this.generation) return false;
        await this.apply(toState(s));
        if (s.ms === 0) continue;
        if (generation !== this.generation) return false;
        this.wait = cancellableWait(s.ms);
        if (!(await this.wait.done)) return false;
      }
      return generation === this.generation;
    };
    if (!(await play(pattern.steps))) return 'cancelled';
    if (pattern.loop && pattern.loop.length > 0) {
      for (;;) if (!(await play(pattern.loop))) return 'cancelled';
    }
    if (pattern.after === 'idle' || pattern.steps.length === 0) {
      await this.apply(darkTower());
      if (generation !== this.generation) return 'cancelled';
      if (name !== 'idle') {
        this.pattern = 'idle';
        this.since = new Date().toISOString();
        this.emitStatus();
      }
    }
    return 'completed';
  }

  /** Goes dark and cancels whatever runs (shutdown). */
  async stop(): Promise<void> {
    await this.show('idle');
  }

  private async apply(state: TowerState): Promise<void> {
    this.state = state;
    this.emitStatus();
    await this.write(state);
  }

  private async write(state: TowerState): Promise<void> {
    if (!this.device.connected) return;
    try {
      await this.device.run((h) => h.write(towerReport(state)));
    } catch (error) {
      this.log.warn({ err: toKioskError(error).toPayload() }, 'signal tower write failed');
    }
  }

  private emitStatus(): void {
    this.emit('status', this.status);
  }
}
