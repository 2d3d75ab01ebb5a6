// A patron session (convenience kiosk): opened by an admission, bound to the card that opened it (its
// serial reference), closed by the patron, by a timeout on the injected clock, by the card leaving, by
// another card, or when staff switch the site. Closing it forgets the person's decision and tells every
// part that holds something of the session (the service desk: a request in flight, a queued print job).
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../base/clock.js';
import type { SessionEvent } from '../../api/contract.js';

export interface PatronSessionOptions {
  clock: Clock;
  emit(event: SessionEvent): void;
  /** Nothing of the person stays: their decision leaves the staff list with its details. */
  forget(decisionId: string): void;
}

export type SessionCloseReason = 'ended' | 'timeout' | 'card_removed';

export interface OpenSession {
  sessionId: string;
  decisionId: string;
  /** The card's keyed serial reference: a service request checks the card in the reader against it. */
  serialRef: string | null;
}

export class PatronSession {
  private current: (OpenSession & { timer: unknown }) | null = null;
  private readonly closeListeners = new Set<(session: OpenSession, reason: SessionCloseReason) => void>();

  constructor(private readonly options: PatronSessionOptions) {}

  get sessionId(): string | null {
    return this.current?.sessionId ?? null;
  }

  /** The open session (ids only), or null. */
  get active(): OpenSession | null {
    const c = this.current;
    return c ? { sessionId: c.sessionId, decisionId: c.decisionId, serialRef: c.serialRef } : null;
  }

  /** True while `sessionId` is the open session. */
  isCurrent(sessionId: string): boolean {
    return this.current?.sessionId === sessionId;
  }

  onClose(listener: (session: OpenSession, reason: SessionCloseReason) => void): () => void {
    this.closeListeners.add(listener);
    return () => this.closeListeners.delete(listener);
  }

  open(decisionId: string, seconds: number, serialRef: string | null = null): void {
    this.close('ended');
    const { clock } = this.options;
    const sessionId = randomUUID();
    const timer = clock.setTimeout(() => this.close('timeout'), seconds * 1000);
    this.current = { sessionId, decisionId, serialRef, timer };
    this.options.emit({
      state: 'open',
      sessionId,
      decisionId,
      endsAt: new Date(clock.now() + seconds * 1000).toISOString(),
    });
  }

  close(reason: SessionCloseReason): void {
    const session = this.current;
    if (!session) return;
    this.current = null;
    this.options.clock.clearTimeout(session.timer);
    this.options.forget(session.decisionId);
    const view = {
      sessionId: session.sessionId,
      decisionId: session.decisionId,
      serialRef: session.serialRef,
    };
    for (const listener of this.closeListeners) listener(view, reason);
    this.options.emit({ state: 'closed', sessionId: session.sessionId, reason });
  }
}
