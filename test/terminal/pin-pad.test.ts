// The patron's PIN request on a fake clock: it closes by itself after 30 s without an answer.
import { describe, expect, it } from 'vitest';
import type { PinClosed, PinRequest } from '../../main/api/contract.js';
import { PIN_TIMEOUT_MS, PinPad } from '../../main/core/terminal/pin-pad.js';
import { FakeClock } from '../support/fake-clock.js';

function pad() {
  const clock = new FakeClock();
  const requests: PinRequest[] = [];
  const closed: PinClosed[] = [];
  const pinPad = new PinPad(clock, { request: (r) => requests.push(r), closed: (c) => closed.push(c) });
  return { clock, pinPad, requests, closed };
}

describe('PIN pad', () => {
  it('times out after 30 s with no PIN', async () => {
    const { clock, pinPad, requests, closed } = pad();
    expect(PIN_TIMEOUT_MS).toBe(30_000);
    const answer = pinPad.ask({ triesLeft: 3, retry: false });
    expect(requests).toHaveLength(1);
    await clock.advance(PIN_TIMEOUT_MS - 1);
    expect(closed).toEqual([]);
    await clock.advance(1);
    expect(await answer).toBeNull();
    expect(closed).toEqual([{ requestId: requests[0]!.requestId, reason: 'timeout' }]);
    expect(pinPad.openRequestId).toBeNull();
  });

  it('an answer before the timeout resolves the PIN and cancels the timer', async () => {
    const { clock, pinPad, requests, closed } = pad();
    const answer = pinPad.ask({ triesLeft: 2, retry: true });
    pinPad.close('answered', '1234');
    expect(await answer).toBe('1234');
    expect(clock.pending).toBe(0);
    await clock.advance(PIN_TIMEOUT_MS);
    expect(closed.map((c) => c.reason)).toEqual(['answered']);
    expect(requests[0]).toMatchObject({ triesLeft: 2, retry: true });
  });

  it('through the terminal: answerPin refuses an unknown request id', async () => {
    const { unstartedTerminal } = await import('./helpers.js');
    const { terminal } = unstartedTerminal();
    await expect(terminal.answerPin({ requestId: 'nope', pin: '1234' })).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
    });
    await terminal.close();
  });
});
