// The one place that decides which commands need staff mode: the contract's `Commands[*].staff` flag.
// A command marked `staff: true` is refused with STAFF_LOCKED while staff mode is locked, and using it
// keeps staff mode open a while longer. The real terminal and the UI tests' fake core both go through
// here, so a new staff command needs no hand-written check anywhere. Browser-safe.
import { KioskError } from '../../base/errors.js';
import { Commands } from './contract.js';

/** What the gate needs of a staff session. */
export interface StaffSessionPort {
  unlocked(): boolean;
  /** Pushes the expiry back after staff activity. */
  extend(): void;
}

/** Command name → whether it needs staff mode; the contract's table unless a test passes its own. */
export type StaffTable = Readonly<Record<string, { readonly staff: boolean }>>;

/**
 * A copy of `commands` whose staff commands check `session` first. Other members are copied as they
 * are; each command still runs with `commands` as `this`.
 */
export function withStaffGate<T extends object>(
  commands: T,
  session: StaffSessionPort,
  table: StaffTable = Commands,
): T {
  const gated: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(commands)) {
    if (typeof value !== 'function' || !Object.hasOwn(table, name) || !table[name]!.staff) {
      gated[name] = value;
      continue;
    }
    const run = value as (request: unknown) => Promise<unknown>;
    gated[name] = async (request: unknown) => {
      if (!session.unlocked()) throw new KioskError('STAFF_LOCKED', 'staff mode is locked');
      session.extend();
      return run.call(commands, request);
    };
  }
  return gated as T;
}

/**
 * The event as a UI may see it: a decision's staff view (names, insurance numbers, care needs) only while
 * staff mode is unlocked; otherwise the decision goes out with an empty staff view. The public screen
 * needs only the public view; staff read the details through `recentDecisions`, a staff command.
 */
export function eventForUi<E extends { name: string; payload: unknown }>(
  event: E,
  staffUnlocked: boolean,
): E {
  if (event.name !== 'decision' || staffUnlocked) return event;
  const decision = event.payload as { staffView?: unknown };
  return { ...event, payload: { ...decision, staffView: {} } };
}
