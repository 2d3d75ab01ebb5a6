// The public screen as a pure state machine: events from the core (and the clock) in, one screen out.
// No DOM and no transport here, so the rules — what shows when, what is forgotten when — are unit-tested
// in Node (test/ui/model.test.ts) and the components only draw the state.
import type { Decision } from '../../base/decision.js';
import type { ErrorPayload } from '../../base/errors.js';
import type {
  KioskEvent,
  Language,
  PinRequest,
  ReadingEvent,
  ServiceEvent,
  SessionEvent,
  TerminalStatus,
} from '../../main/api/contract.js';

export type Screen =
  | { kind: 'connecting' }
  | { kind: 'out_of_service'; error: ErrorPayload }
  | { kind: 'waiting' }
  | { kind: 'reading'; reading: ReadingEvent }
  | { kind: 'pin'; request: PinRequest }
  | { kind: 'result'; decision: Decision; until: number }
  | {
      kind: 'session';
      sessionId: string;
      decision: Decision;
      endsAt: number;
      /** The card PIN asked for a service of this session (shown inside the session). */
      pin: PinRequest | null;
      /** The service request of this session in progress or just ended; null: the menu. */
      service: ServiceEvent | null;
    };

export interface ModelState {
  connected: boolean;
  /** Why the core is down, when the shell knows (it could not start): shown as out of service. */
  coreError: ErrorPayload | null;
  status: TerminalStatus | null;
  /**
   * The language on screen: the holder's entry may name it, the patron may choose it; it returns to the
   * terminal's default after each person.
   */
  language: Language;
  /** The patron-facing flow, ignoring out-of-service (computed in `screenOf`). */
  flow: Screen;
}

export type ModelAction =
  | { type: 'connected' }
  | { type: 'disconnected'; error?: ErrorPayload }
  | { type: 'event'; event: KioskEvent; now: number }
  | { type: 'tick'; now: number }
  | { type: 'language'; language: Language }
  | { type: 'session_end_requested' }
  | { type: 'service_dismissed' };

export const initialModel: ModelState = {
  connected: false,
  coreError: null,
  status: null,
  language: 'ja',
  flow: { kind: 'waiting' },
};

/** How long a result stays when the status has not told us yet. */
const defaultHoldMs = 3000;

function forgetPerson(state: ModelState): ModelState {
  // Session isolation: nothing of the previous person stays — no decision, no patron language choice.
  return { ...state, flow: { kind: 'waiting' }, language: state.status?.language ?? state.language };
}

function onSession(state: ModelState, event: SessionEvent, now: number): ModelState {
  if (event.state === 'open') {
    const decision =
      state.flow.kind === 'result' && state.flow.decision.id === event.decisionId
        ? state.flow.decision
        : null;
    if (!decision) return state;
    const endsAt = Date.parse(event.endsAt);
    return {
      ...state,
      flow: {
        kind: 'session',
        sessionId: event.sessionId,
        decision,
        endsAt: Number.isFinite(endsAt) ? endsAt : now,
        pin: null,
        service: null,
      },
    };
  }
  if (state.flow.kind === 'session' && state.flow.sessionId !== event.sessionId) return state;
  return forgetPerson(state);
}

export function reduce(state: ModelState, action: ModelAction): ModelState {
  switch (action.type) {
    case 'connected':
      return { ...state, connected: true, coreError: null };
    case 'disconnected':
      return forgetPerson({ ...state, connected: false, coreError: action.error ?? null });
    case 'language':
      return { ...state, language: action.language };
    case 'session_end_requested':
      return state.flow.kind === 'session' ? forgetPerson(state) : state;
    case 'service_dismissed':
      return state.flow.kind === 'session' ? { ...state, flow: { ...state.flow, service: null } } : state;
    case 'tick': {
      const flow = state.flow;
      if (flow.kind === 'result' && action.now >= flow.until) return forgetPerson(state);
      if (flow.kind === 'session' && action.now >= flow.endsAt) return forgetPerson(state);
      return state;
    }
    case 'event': {
      const { event, now } = action;
      switch (event.name) {
        case 'status': {
          const first = state.status === null;
          // Going out of service, or staff switching the site, ends the current person's turn: the
          // screen starts again from "touch your card", not from the previous patron's result.
          const siteChanged = !first && state.status?.siteKind !== event.payload.siteKind;
          const base = event.payload.outOfService || siteChanged ? forgetPerson(state) : state;
          const next = { ...base, status: event.payload };
          // The configured language becomes the default on first contact or when staff change the site.
          return first ? { ...next, language: event.payload.language } : next;
        }
        case 'reading':
          // A session in progress is not interrupted by another card: the core decides what to do.
          if (state.flow.kind === 'session') return state;
          return { ...state, flow: { kind: 'reading', reading: event.payload } };
        case 'pinRequest':
          // In a kiosk session the PIN is asked for a service: it shows inside the session.
          if (state.flow.kind === 'session') return { ...state, flow: { ...state.flow, pin: event.payload } };
          return { ...state, flow: { kind: 'pin', request: event.payload } };
        case 'pinClosed':
          if (state.flow.kind === 'session')
            return state.flow.pin?.requestId === event.payload.requestId
              ? { ...state, flow: { ...state.flow, pin: null } }
              : state;
          if (state.flow.kind === 'pin' && state.flow.request.requestId === event.payload.requestId) {
            return event.payload.reason === 'answered'
              ? { ...state, flow: { kind: 'reading', reading: { phase: 'authenticating', progress: 0.5 } } }
              : forgetPerson(state);
          }
          return state;
        case 'decision': {
          const hold = state.status?.ui.resultHoldMs ?? defaultHoldMs;
          // The holder's own language, when their entry names one; the next person gets the default again.
          const language = event.payload.publicView.language ?? state.language;
          return { ...state, language, flow: { kind: 'result', decision: event.payload, until: now + hold } };
        }
        case 'session':
          return onSession(state, event.payload, now);
        case 'service': {
          // Only the open session's own request: anything else (a late step of an ended session) is ignored.
          const flow = state.flow;
          if (flow.kind !== 'session' || flow.sessionId !== event.payload.sessionId) return state;
          const service = event.payload.state === 'cancelled' ? null : event.payload;
          return {
            ...state,
            flow: { ...flow, service, pin: service?.state === 'working' ? flow.pin : null },
          };
        }
      }
    }
  }
  return state;
}

/** What the public screen shows now: out of service wins over everything the patron flow says. */
export function screenOf(state: ModelState): Screen {
  if (!state.connected && state.coreError) return { kind: 'out_of_service', error: state.coreError };
  if (!state.connected || !state.status) return { kind: 'connecting' };
  if (state.status.outOfService) return { kind: 'out_of_service', error: state.status.outOfService };
  return state.flow;
}

/** The DEGRADED banner: the terminal runs on stale revocation data, or the shown decision was flagged. */
export function isDegraded(state: ModelState): boolean {
  const flow = state.flow;
  const decisionFlag = (flow.kind === 'result' || flow.kind === 'session') && flow.decision.degraded;
  return Boolean(state.status?.degraded || state.status?.data.stale || decisionFlag);
}

export type Tone = 'admitted' | 'refused' | 'attention';

/** Which sound a decision makes. */
export function toneFor(decision: Decision): Tone {
  switch (decision.outcome) {
    case 'admitted':
      return decision.degraded || decision.reasons.includes('unregistered_admitted')
        ? 'attention'
        : 'admitted';
    case 'refused':
      return 'refused';
    default:
      return 'attention';
  }
}

/** Seconds left, for the kiosk session countdown (never negative). */
export function secondsLeft(endsAt: number, now: number): number {
  return Math.max(0, Math.ceil((endsAt - now) / 1000));
}
