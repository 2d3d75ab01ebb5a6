// A patron session (convenience kiosk): opened by an admission, closed by the patron, by a timeout on
// the injected clock, or when staff switch the site. Closing it forgets the person's decision.
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../base/clock.js';
import type { SessionEvent } from '../../api/contract.js';

export interface PatronSessionOptions {
  clock: Clock;
  emit(event: SessionEvent): void;
  /** Nothing of the person stays: their decision leaves the staff list with its details. */
  forget(decisionId: string): void;
}

export class PatronSession {
  private current: { sessionId: string; decisionId: string; timer: unknown } | null = null;

  constructor(private readonly options: PatronSessionOptions) {}

  get sessionId(): string | null {
    return this.current?.sessionId ?? null;
  }

  open(decisionId: string, seconds: number): void {
    this.close('ended');
    const { clock } = this.options;
    const sessionId = randomUUID();
    const timer = clock.setTimeout(() => this.close('timeout'), seconds * 1000);
    this.current = { sessionId, decisionId, timer };
    this.options.emit({
      state: 'open',
      sessionId,
      decisionId,
      endsAt: new Date(clock.now() + seconds * 1000).toISOString(),
    });
  }

  close(reason: 'ended' | 'timeout' | 'card_removed'): void {
    const session = this.current;
    if (!session) return;
    this.current = null;
    this.options.clock.clearTimeout(session.timer);
    this.options.forget(session.decisionId);
    this.options.emit({ state: 'closed', sessionId: session.sessionId, reason });
  }
}
