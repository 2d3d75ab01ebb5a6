// The convenience-kiosk session on a fake clock: it ends by itself after the configured seconds and
// leaves nothing of the person behind.
import { describe, expect, it } from 'vitest';
import type { SessionEvent } from '../../main/api/contract.js';
import { PatronSession } from '../../main/core/terminal/patron-session.js';
import { FakeClock } from '../support/fake-clock.js';

describe('patron session', () => {
  it('times out after the session seconds and forgets the decision', async () => {
    const clock = new FakeClock();
    const events: SessionEvent[] = [];
    const forgotten: string[] = [];
    const session = new PatronSession({
      clock,
      emit: (e) => events.push(e),
      forget: (id) => forgotten.push(id),
    });
    session.open('d-1', 120);
    expect(events[0]).toMatchObject({
      state: 'open',
      decisionId: 'd-1',
      endsAt: new Date(clock.now() + 120_000).toISOString(),
    });
    const sessionId = session.sessionId;
    await clock.advance(119_999);
    expect(events).toHaveLength(1);
    await clock.advance(1);
    expect(events[1]).toEqual({ state: 'closed', sessionId, reason: 'timeout' });
    expect(forgotten).toEqual(['d-1']);
    expect(session.sessionId).toBeNull();
  });

  it('a new admission replaces the open session; ending it cancels its timer', async () => {
    const clock = new FakeClock();
    const events: SessionEvent[] = [];
    const session = new PatronSession({ clock, emit: (e) => events.push(e), forget: () => undefined });
    session.open('d-1', 60);
    session.open('d-2', 60);
    expect(events.map((e) => e.state)).toEqual(['open', 'closed', 'open']);
    session.close('ended');
    expect(clock.pending).toBe(0);
    await clock.advance(60_000);
    expect(events.map((e) => (e.state === 'closed' ? e.reason : e.state))).toEqual([
      'open',
      'ended',
      'open',
      'ended',
    ]);
  });

  it('the configured session timeout reaches the screens', () => {
    return import('./helpers.js').then(async ({ configFor, unstartedTerminal }) => {
      const { terminal } = unstartedTerminal(configFor({ kind: 'convenience-kiosk' }));
      expect(terminal.status().ui.sessionTimeoutSeconds).toBe(120);
      await terminal.close();
    });
  });
});
