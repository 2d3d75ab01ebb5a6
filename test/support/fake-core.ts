// A small in-memory KioskCore for the UI's unit tests (and the e2e run until the real core is wired):
// it keeps the contract's rules that the UI relies on — staff commands refused while locked (through the real staff gate), the PIN
// flow's request ids, demo commands only on demo terminals — and lets a test push any event.
import type { Decision, ReasonCode, SiteKind } from '../../base/decision.js';
import type {
  CommandRequest,
  CommandResponse,
  DemoCard,
  KioskCore,
  KioskEvent,
  TerminalStatus,
} from '../../main/api/contract.js';
import { KioskError } from '../../base/errors.js';
import { eventForUi, withStaffGate } from '../../main/api/staff-gate.js';

export function baseStatus(overrides: Partial<TerminalStatus> = {}): TerminalStatus {
  return {
    terminalId: 'test-terminal',
    siteId: 'test-site',
    profile: 'demo',
    siteKind: 'stadium-gate',
    gateId: 'gate-a',
    zone: 'main',
    direction: 'entry',
    language: 'ja',
    authMode: 'terminal',
    demo: true,
    reader: { state: 'ready', name: 'Virtual PCD 00 00', error: null },
    hsm: { state: 'ready', error: null },
    sync: {
      state: 'idle',
      lastPullAt: new Date().toISOString(),
      lastPushAt: null,
      error: null,
      alarm: null,
      hub: null,
    },
    data: {
      revocationAt: new Date().toISOString(),
      whitelistAt: new Date().toISOString(),
      maxAgeHours: 26,
      stale: false,
      stalePolicy: 'degraded',
      staleReasons: [],
      crlNextUpdate: null,
      crlGraceHours: 6,
    },
    queue: { journalPending: 0, oldestPendingAt: null },
    gate: 'closed',
    signal: 'off',
    outOfService: null,
    degraded: false,
    counters: { admitted: 0, refused: 0, inside: 0 },
    staff: { unlocked: false, until: null },
    ui: { volume: 0.8, resultHoldMs: 3000, sessionTimeoutSeconds: 120 },
    ...overrides,
  };
}

let seq = 0;
export function makeDecision(overrides: Partial<Decision> & { headline?: ReasonCode } = {}): Decision {
  const { headline, ...rest } = overrides;
  const outcome = rest.outcome ?? 'admitted';
  const reason: ReasonCode = headline ?? (outcome === 'admitted' ? 'ok' : 'not_registered');
  seq += 1;
  return {
    id: `d-${seq}`,
    at: new Date().toISOString(),
    site: 'stadium-gate' as SiteKind,
    gateId: 'gate-a',
    direction: 'entry',
    outcome,
    reasons: [reason],
    degraded: false,
    publicView: { headline: reason },
    staffView: {},
    timings: [{ stage: 'total', ms: 12 }],
    ...rest,
  };
}

export interface FakeCore extends KioskCore {
  status: TerminalStatus;
  emit(event: KioskEvent): void;
  setStatus(patch: Partial<TerminalStatus>): void;
  decide(decision: Decision): void;
  calls: { name: string; request: unknown }[];
  staffPin: string;
  decisions: {
    decision: Decision;
    annulled: boolean;
    annulReason: null | CommandRequest<'annulEntry'>['reason'];
  }[];
  demoCards: DemoCard[];
  /** Set by a test to react to a demo card being inserted (the real core taps it through pcscd). */
  onInsert?: (name: string) => void;
  pinAnswers: { requestId: string; pin: string }[];
  /** Enrolment codes already used at the fake hub: a second use is refused like the real hub's. */
  usedEnrolCodes: Set<string>;
}

export function createFakeCore(initial: Partial<TerminalStatus> = {}): FakeCore {
  const listeners = new Set<(event: KioskEvent) => void>();
  const ok = { ok: true as const };
  const core: FakeCore = {
    status: baseStatus(initial),
    calls: [],
    staffPin: '2468',
    decisions: [],
    pinAnswers: [],
    usedEnrolCodes: new Set(),
    demoCards: [
      { name: 'valid', siteKind: null, expect: 'ok', pin: '1234', inserted: false },
      { name: 'revoked', siteKind: null, expect: 'revoked', pin: '1234', inserted: false },
    ],
    emit(event) {
      // As the real terminal: a decision's staff view only while staff mode is unlocked.
      const shown = eventForUi(event, core.status.staff.unlocked);
      for (const l of listeners) l(shown);
    },
    setStatus(patch) {
      core.status = { ...core.status, ...patch };
      core.emit({ name: 'status', payload: core.status });
    },
    decide(decision) {
      core.decisions.unshift({ decision, annulled: false, annulReason: null });
      const c = core.status.counters;
      core.status = {
        ...core.status,
        counters: {
          ...c,
          admitted: c.admitted + (decision.outcome === 'admitted' ? 1 : 0),
          refused: c.refused + (decision.outcome === 'refused' ? 1 : 0),
        },
      };
      core.emit({ name: 'decision', payload: decision });
      core.emit({ name: 'status', payload: core.status });
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    async getStatus() {
      return core.status;
    },
    async answerPin(request) {
      core.pinAnswers.push(request);
      core.emit({ name: 'pinClosed', payload: { requestId: request.requestId, reason: 'answered' } });
      return ok;
    },
    async cancelPin(request) {
      core.emit({ name: 'pinClosed', payload: { requestId: request.requestId, reason: 'cancelled' } });
      return ok;
    },
    async endSession(request) {
      core.emit({
        name: 'session',
        payload: { state: 'closed', sessionId: request.sessionId, reason: 'ended' },
      });
      return ok;
    },
    async requestService(request) {
      // The UI tests script the service's progress with core.emit({ name: 'service', … }).
      const requestId = `svc-${request.serviceId}`;
      core.emit({
        name: 'service',
        payload: {
          sessionId: request.sessionId,
          requestId,
          serviceId: request.serviceId,
          state: 'working',
          step: 'card',
        },
      });
      return { requestId };
    },
    async staffUnlock(request) {
      if (request.method !== 'pin' || request.pin !== core.staffPin) {
        throw new KioskError('STAFF_CREDENTIAL_WRONG', 'staff credential refused');
      }
      const until = new Date(Date.now() + 10 * 60_000).toISOString();
      core.setStatus({ staff: { unlocked: true, until } });
      return { unlocked: true as const, until };
    },
    async staffLock() {
      core.setStatus({ staff: { unlocked: false, until: null } });
      return ok;
    },
    async recentDecisions(request) {
      return core.decisions.slice(0, request.limit);
    },
    async annulEntry(request) {
      const entry = find(request.decisionId);
      entry.annulled = true;
      entry.annulReason = request.reason;
      return { decisionId: request.decisionId, annulled: true, journalSeq: 1 };
    },
    async reverseAnnulment(request) {
      const entry = find(request.decisionId);
      entry.annulled = false;
      entry.annulReason = null;
      return { decisionId: request.decisionId, annulled: false, journalSeq: 2 };
    },
    async syncNow() {
      throw new KioskError('SYNC_UNREACHABLE', 'no hub configured in this test');
    },
    async bindCompanion(request) {
      if (request.code === 'ABCD-EFGH-JKMN') return { eventId: 'E-1', seat: 'A-13' };
      throw new KioskError('TRANSFER_CODE_USED', 'this transfer code has been used');
    },
    async listSiteOptions() {
      return { siteKinds: ['stadium-gate', 'hospital-reception', 'shelter', 'convenience-kiosk'], gates: [] };
    },
    async selectSite(request) {
      core.setStatus({ siteKind: request.siteKind, ...(request.gateId ? { gateId: request.gateId } : {}) });
      return core.status;
    },
    async setVolume(request) {
      core.setStatus({ ui: { ...core.status.ui, volume: request.volume } });
      return ok;
    },
    async getRoster(): Promise<CommandResponse<'getRoster'>> {
      return { inside: 1, households: 1, entries: [] };
    },
    async registerPerson() {
      return { personRef: 'p-1' };
    },
    async enrol(request) {
      const code = request.code.replace(/-/g, '').toUpperCase();
      if (core.usedEnrolCodes.has(code))
        throw new KioskError('ENROL_CODE_USED', 'the enrolment code has been used');
      core.usedEnrolCodes.add(code);
      core.setStatus({ terminalId: 'kiosk-enrolled', siteId: 'site-enrolled' });
      return {
        terminalId: 'kiosk-enrolled',
        siteId: 'site-enrolled',
        gateId: core.status.gateId,
        zone: core.status.zone,
        siteKind: core.status.siteKind,
        hubUrl: request.hubUrl ?? 'https://hub.example',
        syncing: true,
      };
    },
    async rosterExport() {
      return { file: '/var/lib/jpki-kiosk/roster/roster-20260101T0000.csv', rows: 1 };
    },
    async sendToReception(request) {
      return { decisionId: request.decisionId, destination: 'folder', reference: 'coverage-1.json' };
    },
    async lookupTicket(request) {
      // A scripted holder row: "T-0404" is unknown, any other number is admitted as a staff decision.
      const known = request.ticketNumber.trim() !== 'T-0404';
      const decision = makeDecision({
        headline: known ? 'ok' : 'not_registered',
        outcome: known ? 'admitted' : 'refused',
        reasons: [known ? 'ok' : 'not_registered'],
        authPath: 'staff-visual',
        credential: 'qr_ticket',
      });
      core.decide(decision);
      return decision;
    },
    async demoListCards() {
      requireDemo();
      return core.demoCards;
    },
    async demoInsertCard(request) {
      requireDemo();
      const card = core.demoCards.find((c) => c.name === request.name);
      if (!card) throw new KioskError('INVALID_REQUEST', `no demo card ${request.name}`);
      for (const c of core.demoCards) c.inserted = c === card;
      core.onInsert?.(request.name);
      return ok;
    },
    async demoRemoveCard() {
      requireDemo();
      for (const c of core.demoCards) c.inserted = false;
      return ok;
    },
  };
  function requireDemo() {
    if (!core.status.demo) throw new KioskError('NOT_AVAILABLE', 'demo commands need a demo terminal');
  }
  function find(id: string) {
    const entry = core.decisions.find((d) => d.decision.id === id);
    if (!entry) throw new KioskError('INVALID_REQUEST', `no decision ${id}`);
    return entry;
  }
  // Staff mode as the real terminal applies it: the contract's `staff` flag, through the one gate.
  Object.assign(
    core,
    withStaffGate(core, { unlocked: () => core.status.staff.unlocked, extend: () => undefined }),
  );
  // Record every command call (after the fact, for assertions).
  for (const key of Object.keys(core) as (keyof FakeCore)[]) {
    const value = core[key];
    if (
      typeof value === 'function' &&
      !['emit', 'setStatus', 'decide', 'subscribe', 'onInsert'].includes(key)
    ) {
      const fn = value as (r: unknown) => Promise<unknown>;
      (core as unknown as Record<string, unknown>)[key] = (request: unknown) => {
        core.calls.push({ name: key, request });
        return fn(request);
      };
    }
  }
  return core;
}
