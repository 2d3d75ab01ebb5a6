import { describe, expect, it } from 'vitest';
import {
  initialModel,
  isDegraded,
  reduce,
  screenOf,
  secondsLeft,
  toneFor,
  type ModelState,
} from '../../renderer/src/model.js';
import type { KioskEvent } from '../../main/api/contract.js';
import { baseStatus, makeDecision } from '../support/fake-core.js';

const t0 = 1_000_000;
function run(
  events: (KioskEvent | 'connected' | 'disconnected' | { tick: number })[],
  start = initialModel,
): ModelState {
  let state = start;
  for (const e of events) {
    if (e === 'connected' || e === 'disconnected') state = reduce(state, { type: e });
    else if ('tick' in e) state = reduce(state, { type: 'tick', now: e.tick });
    else state = reduce(state, { type: 'event', event: e, now: t0 });
  }
  return state;
}
const status = (o = {}) => ({ name: 'status' as const, payload: baseStatus(o) });

describe('screen model', () => {
  it('shows connecting until connected and given a status, then waits for a card', () => {
    expect(screenOf(initialModel).kind).toBe('connecting');
    expect(screenOf(run(['connected'])).kind).toBe('connecting');
    expect(screenOf(run(['connected', status()])).kind).toBe('waiting');
  });

  it('takes the configured language on first status and returns to it after each person', () => {
    let s = run(['connected', status({ language: 'en' })]);
    expect(s.language).toBe('en');
    s = reduce(s, { type: 'language', language: 'ja' });
    s = run([{ name: 'decision', payload: makeDecision() }], s);
    expect(s.language).toBe('ja');
    s = run([{ tick: t0 + 3000 }], s);
    expect(screenOf(s).kind).toBe('waiting');
    expect(s.language).toBe('en');
  });

  it("a decision naming the holder's language shows it; the next person gets the site default", () => {
    let s = run(['connected', status({ language: 'es' })]);
    s = run(
      [{ name: 'decision', payload: makeDecision({ publicView: { headline: 'ok', language: 'vi' } }) }],
      s,
    );
    expect(s.language).toBe('vi');
    expect(screenOf(s).kind).toBe('result');
    s = run([{ tick: t0 + 3000 }], s);
    expect(s.language).toBe('es');
    // A decision without a language keeps what the patron chose on the language bar.
    s = reduce(s, { type: 'language', language: 'ko' });
    s = run([{ name: 'decision', payload: makeDecision() }], s);
    expect(s.language).toBe('ko');
  });

  it('goes waiting → reading → result and holds the result for resultHoldMs', () => {
    const d = makeDecision();
    let s = run(['connected', status({ ui: { volume: 1, resultHoldMs: 5000, sessionTimeoutSeconds: 60 } })]);
    s = run([{ name: 'reading', payload: { phase: 'reading_certificate', progress: 0.3 } }], s);
    expect(screenOf(s).kind).toBe('reading');
    s = run([{ name: 'decision', payload: d }], s);
    expect(screenOf(s)).toMatchObject({ kind: 'result', decision: { id: d.id } });
    expect(screenOf(run([{ tick: t0 + 4999 }], s)).kind).toBe('result');
    expect(screenOf(run([{ tick: t0 + 5000 }], s)).kind).toBe('waiting');
  });

  it('out of service wins over any patron screen and clears when the cause is gone', () => {
    let s = run(['connected', status(), { name: 'decision', payload: makeDecision() }]);
    s = run([status({ outOfService: { code: 'READER_GONE', message: 'reader removed' } })], s);
    expect(screenOf(s)).toEqual({
      kind: 'out_of_service',
      error: { code: 'READER_GONE', message: 'reader removed' },
    });
    s = run([status()], s);
    expect(screenOf(s).kind).toBe('waiting');
  });

  it('PIN: a request shows the pad; cancel forgets it; an answer shows progress', () => {
    let s = run(['connected', status()]);
    s = run([{ name: 'pinRequest', payload: { requestId: 'p1', triesLeft: 3, retry: false } }], s);
    expect(screenOf(s)).toMatchObject({ kind: 'pin', request: { triesLeft: 3 } });
    // A close for some other request is ignored.
    expect(
      screenOf(run([{ name: 'pinClosed', payload: { requestId: 'p0', reason: 'cancelled' } }], s)).kind,
    ).toBe('pin');
    expect(
      screenOf(run([{ name: 'pinClosed', payload: { requestId: 'p1', reason: 'cancelled' } }], s)).kind,
    ).toBe('waiting');
    expect(
      screenOf(run([{ name: 'pinClosed', payload: { requestId: 'p1', reason: 'answered' } }], s)).kind,
    ).toBe('reading');
  });

  it('kiosk service: the PIN shows inside the session, only the session’s own service events show, and closing forgets them', () => {
    const d = makeDecision({ site: 'convenience-kiosk', publicView: { headline: 'ok', sessionSeconds: 60 } });
    let s = run(['connected', status({ siteKind: 'convenience-kiosk' }), { name: 'decision', payload: d }]);
    const endsAt = new Date(t0 + 60_000).toISOString();
    s = run([{ name: 'session', payload: { state: 'open', sessionId: 's1', decisionId: d.id, endsAt } }], s);
    s = run([{ name: 'pinRequest', payload: { requestId: 'p1', triesLeft: 3, retry: false } }], s);
    let screen = screenOf(s);
    expect(screen.kind === 'session' && screen.pin?.requestId).toBe('p1');
    s = run([{ name: 'pinClosed', payload: { requestId: 'p1', reason: 'answered' } }], s);
    expect(screenOf(s).kind).toBe('session');
    // a late event of another (ended) session never reaches this screen
    const foreign = {
      sessionId: 's0',
      requestId: 'r0',
      serviceId: 'residence',
      state: 'done' as const,
      printed: true,
    };
    expect(run([{ name: 'service', payload: foreign }], s)).toEqual(s);
    s = run([{ name: 'service', payload: { ...foreign, sessionId: 's1', requestId: 'r1' } }], s);
    screen = screenOf(s);
    expect(screen.kind === 'session' && screen.service?.requestId).toBe('r1');
    expect(reduce(s, { type: 'service_dismissed' }).flow).toMatchObject({ kind: 'session', service: null });
    const closed = run(
      [{ name: 'session', payload: { state: 'closed', sessionId: 's1', reason: 'card_removed' } }],
      s,
    );
    expect(screenOf(closed).kind).toBe('waiting');
    expect(JSON.stringify(closed)).not.toContain('r1');
  });

  it('kiosk session: opens from its decision, counts down, and forgets the person on close or timeout', () => {
    const d = makeDecision({ site: 'convenience-kiosk', publicView: { headline: 'ok', sessionSeconds: 60 } });
    let s = run(['connected', status({ siteKind: 'convenience-kiosk' }), { name: 'decision', payload: d }]);
    const endsAt = new Date(t0 + 60_000).toISOString();
    s = run([{ name: 'session', payload: { state: 'open', sessionId: 's1', decisionId: d.id, endsAt } }], s);
    const screen = screenOf(s);
    expect(screen.kind).toBe('session');
    // The result hold does not end a session; only its own end does.
    expect(screenOf(run([{ tick: t0 + 30_000 }], s)).kind).toBe('session');
    expect(screen.kind === 'session' && secondsLeft(screen.endsAt, t0 + 30_500)).toBe(30);
    // Another card's reading does not replace an open session.
    expect(
      screenOf(run([{ name: 'reading', payload: { phase: 'card_detected', progress: 0 } }], s)).kind,
    ).toBe('session');
    const closed = run(
      [{ name: 'session', payload: { state: 'closed', sessionId: 's1', reason: 'timeout' } }],
      s,
    );
    expect(screenOf(closed).kind).toBe('waiting');
    expect(JSON.stringify(closed)).not.toContain(d.id);
    expect(screenOf(run([{ tick: t0 + 60_000 }], s)).kind).toBe('waiting');
    // A session event for a decision that is not on screen opens nothing.
    const stray = run(
      [{ name: 'session', payload: { state: 'open', sessionId: 's2', decisionId: 'other', endsAt } }],
      s,
    );
    expect(screenOf(stray)).toMatchObject({ kind: 'session', sessionId: 's1' });
  });

  it('a change of site by staff forgets the person on screen', () => {
    let s = run(['connected', status(), { name: 'decision', payload: makeDecision() }]);
    expect(screenOf(run([status()], s)).kind).toBe('result');
    s = run([status({ siteKind: 'shelter' })], s);
    expect(screenOf(s).kind).toBe('waiting');
  });

  it('losing the core forgets the person and shows connecting', () => {
    let s = run(['connected', status(), { name: 'decision', payload: makeDecision() }]);
    s = run(['disconnected'], s);
    expect(screenOf(s).kind).toBe('connecting');
    expect(s.flow.kind).toBe('waiting');
  });

  it('DEGRADED shows for stale data and for a flagged decision', () => {
    expect(isDegraded(run(['connected', status()]))).toBe(false);
    expect(isDegraded(run(['connected', status({ degraded: true })]))).toBe(true);
    const flagged = makeDecision({ degraded: true, reasons: ['ok', 'degraded'] });
    expect(isDegraded(run(['connected', status(), { name: 'decision', payload: flagged }]))).toBe(true);
  });

  it('sounds: admitted, refused, and attention for anything a person must look at', () => {
    expect(toneFor(makeDecision())).toBe('admitted');
    expect(toneFor(makeDecision({ outcome: 'refused', headline: 'revoked' }))).toBe('refused');
    expect(toneFor(makeDecision({ outcome: 'staff', headline: 'data_too_old' }))).toBe('attention');
    expect(toneFor(makeDecision({ outcome: 'error', headline: 'card_removed' }))).toBe('attention');
    expect(toneFor(makeDecision({ degraded: true }))).toBe('attention');
    expect(
      toneFor(makeDecision({ reasons: ['unregistered_admitted'], headline: 'unregistered_admitted' })),
    ).toBe('attention');
  });
});
