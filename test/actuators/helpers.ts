// Shared set-up for the actuator tests: the software HID rig and an in-memory stand-in for the journal
// (so these tests need no SQLite) that keeps presence the way the contract says: only passages change it.
import { vi } from 'vitest';
import type { AnnulReason, PassageRecorder } from '../../main/core/actuators/gate-outcomes.js';
import type { DeviceStatus, SupervisedDevice } from '../../main/core/actuators/supervisor.js';

export type JournalEntry =
  | { kind: 'passage'; grantRef: string; evidence: string }
  | { kind: 'annulment'; grantRef: string; reason: AnnulReason }
  | { kind: 'reversal'; grantRef: string; staffRef: string };

export class MemoryRecorder implements PassageRecorder {
  readonly journal: JournalEntry[] = [];
  readonly presence = new Set<string>();
  failNext = 0;

  private maybeFail(): void {
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('journal is busy');
    }
  }

  recordPassage(grantRef: string, detail: { evidence: string }): void {
    this.maybeFail();
    this.journal.push({ kind: 'passage', grantRef, evidence: detail.evidence });
    this.presence.add(grantRef);
  }

  recordAnnulment(grantRef: string, reason: AnnulReason): void {
    this.maybeFail();
    this.journal.push({ kind: 'annulment', grantRef, reason });
  }

  recordAnnulmentReversal(grantRef: string, detail: { staffRef: string }): void {
    this.maybeFail();
    this.journal.push({ kind: 'reversal', grantRef, staffRef: detail.staffRef });
    this.presence.add(grantRef);
  }
}

/** Short waits; jitter pinned to its longest wait so that the timing tests are exact. */
export const fastSupervision = { retryMinMs: 50, retryMaxMs: 400, presencePollMs: 100, random: () => 1 };

/** Resolves when the device reaches `state` (fake or real timers: advances fake ones). */
export async function reachState(
  device: SupervisedDevice<unknown>,
  state: DeviceStatus['state'],
  maxMs = 5000,
) {
  const fake = vi.isFakeTimers();
  const started = Date.now();
  while (device.status.state !== state) {
    if (Date.now() - started > maxMs)
      throw new Error(`device stayed ${device.status.state}, wanted ${state}`);
    if (fake) await vi.advanceTimersByTimeAsync(10);
    else await new Promise((r) => setTimeout(r, 10));
  }
}

export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
