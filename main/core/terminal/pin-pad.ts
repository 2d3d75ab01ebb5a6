// The card PIN asked of the patron (PIN mode): one open request at a time, closed by the answer, a
// cancel, the card leaving, or 30 s without an answer (on the injected clock).
import { randomUUID } from 'node:crypto';
import type { Clock } from '../../../base/clock.js';
import type { PinClosed, PinRequest } from '../../api/contract.js';

export const PIN_TIMEOUT_MS = 30_000;

export interface PinPadEvents {
  request(payload: PinRequest): void;
  closed(payload: PinClosed): void;
}

export class PinPad {
  private open: { request: PinRequest; resolve: (pin: string | null) => void; timer: unknown } | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly events: PinPadEvents,
  ) {}

  /** Asks for the PIN; resolves with it, or null when the request closed without one. */
  ask(request: { triesLeft: number; retry: boolean }): Promise<string | null> {
    this.close('cancelled', null);
    return new Promise((resolve) => {
      const payload: PinRequest = {
        requestId: randomUUID(),
        triesLeft: request.triesLeft,
        retry: request.retry,
      };
      const timer = this.clock.setTimeout(() => this.close('timeout', null), PIN_TIMEOUT_MS);
      this.open = { request: payload, resolve, timer };
      this.events.request(payload);
    });
  }

  get openRequestId(): string | null {
    return this.open?.request.requestId ?? null;
  }

  close(reason: PinClosed['reason'], pin: string | null): void {
    const pending = this.open;
    if (!pending) return;
    this.open = null;
    this.clock.clearTimeout(pending.timer);
    this.events.closed({ requestId: pending.request.requestId, reason });
    pending.resolve(pin);
  }
}
