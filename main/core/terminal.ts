// The terminal core: one object that owns the reader watcher, the HSM, the stores, the actuators and
// sync, runs one decision per tap, and implements the KioskCore contract that both shells serve.
// Every device is a supervised state; a missing one is shown (status.outOfService), never a crash.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { KioskConfig } from '../../config/load.js';
import { readSecret } from '../../config/secrets.js';
import type {
  CommandRequest,
  CommandResponse,
  DemoCard,
  KioskCore,
  KioskEvent,
  PinRequest,
  TerminalStatus,
} from '../api/contract.js';
import type { Decision } from '../../base/decision.js';
import { KioskError, toKioskError, type ErrorPayload } from '../../base/errors.js';
import { hsmFromConfig, TERMINAL_KEY_LABEL } from '../../hsm/config.js';
import type { Hsm } from '../../hsm/client.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import type { JournalSealer } from '../../whitelist/journal.js';
import {
  createActuators,
  type Actuators,
  type GateOutcome,
  type HidBackend,
  type PassageRecorder,
  contractAnnulReason,
  gateStateView,
  signalStateView,
} from './actuators/index.js';
import { ReaderWatcher, type ReaderWatcherOptions } from './card/reader-watcher.js';
import type { TerminalAuthenticator } from './card/terminal-auth.js';
import { commitDecision } from './check/commit.js';
import { runCheck, type CardAuthentication, type CheckContext, type CheckResult } from './check/pipeline.js';
import { buildTime, clockFault, type HubTimeObservation } from './clock.js';
import { getLogger } from '../../base/log.js';
import { coverageFromDecision, postCoverage, writeCoverageToFolder } from './reception/fhir.js';
import { ShelterRoster } from './shelter/roster.js';
import { hsmRequestSigner, syncFromConfig, type SyncClient } from './sync/index.js';
import { loadTrustAnchors, type TrustAnchor } from './verify/certificate.js';
import { institutionAuthenticatorFromConfig } from './card/institution-auth.js';

const log = getLogger('terminal');

/** The demo's card wallet (main/demo/wallet.ts): inserts virtual cards through pcscd + vpcd. */
export interface DemoWallet {
  list(): DemoCard[];
  insert(name: string): Promise<void>;
  remove(): Promise<void>;
  close(): Promise<void>;
}

export interface TerminalOptions {
  config: KioskConfig;
  env?: NodeJS.ProcessEnv;
  wallet?: DemoWallet | null;
  watcher?: ReaderWatcherOptions;
  now?: () => Date;
  /** Decide on every card that arrives (the kiosk). The one-shot CLI turns it off and asks itself. */
  autoCheck?: boolean;
  /** The backend for actuator driver "software": the demo's simulated devices (main/demo/hid.ts). */
  softwareHid?: HidBackend;
}

type Site = CheckContext['site'];

interface RecentDecision {
  decision: Decision;
  annulled: boolean;
  annulReason: CommandResponse<'recentDecisions'>[number]['annulReason'];
  subject: string | null;
  serialRef: string | null;
  /** Presence the decision moved (to restore on annulment). */
  presence: { subject: string; to: 'inside' | 'outside' } | null;
}

const STAFF_UNLOCK_MS = 5 * 60_000;
const STAFF_MAX_FAILURES = 5;
const STAFF_LOCKOUT_MS = 60_000;
const PIN_TIMEOUT_MS = 30_000;
const RECENT_KEPT = 200;
const JOURNAL_SEAL_EVERY = 100;
const STATUS_REFRESH_MS = 30_000;

export class Terminal extends EventEmitter implements KioskCore {
  readonly config: KioskConfig;
  private site: Site;
  private readonly now: () => Date;
  private readonly env: NodeJS.ProcessEnv;
  private data: KioskData | null = null;
  private dataError: KioskError | null = null;
  private readonly prewarmAbort = new AbortController();
  private anchors: TrustAnchor[] = [];
  private hsm: Hsm | null = null;
  private authenticator: TerminalAuthenticator | null = null;
  private hsmError: KioskError | null = null;
  private readonly watcher: ReaderWatcher;
  private actuators: Actuators | null = null;
  private sync: SyncClient | null = null;
  private roster: ShelterRoster | null = null;
  private readonly wallet: DemoWallet | null;
  private readonly recentAdmits = new Map<string, number>();
  private readonly recent: RecentDecision[] = [];
  private readonly pendingGrants = new Map<
    string,
    { subject: string; to: 'inside' | 'outside'; decisionId: string }
  >();
  private busy = false;
  private pin: { request: PinRequest; resolve: (pin: string | null) => void; timer: NodeJS.Timeout } | null =
    null;
  private session: { sessionId: string; decisionId: string; timer: NodeJS.Timeout } | null = null;
  private staffUntil = 0;
  private staffFailures = 0;
  private staffLockedUntil = 0;
  private volume: number;
  private counters = { admitted: 0, refused: 0 };
  private lastHub: HubTimeObservation | null = null;
  private statusTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly autoCheck: boolean;
  private readonly softwareHid: HidBackend | null;

  constructor(options: TerminalOptions) {
    super();
    this.autoCheck = options.autoCheck ?? true;
    this.config = options.config;
    this.env = options.env ?? process.env;
    this.now = options.now ?? (() => new Date());
    this.wallet = options.wallet ?? null;
    this.softwareHid = options.softwareHid ?? null;
    this.volume = options.config.ui.volume;
    const s = options.config.site;
    this.site = { kind: s.kind, gateId: s.gateId, zone: s.zone, direction: s.direction };
    this.watcher = new ReaderWatcher({ settleMs: options.config.card.settleMs, ...options.watcher });
  }

  /** Opens everything; each part that fails becomes a visible state instead of stopping the terminal. */
  async start(): Promise<void> {
    // Trust anchors are configuration: an unreadable or test anchor outside the demo stops the start.
    this.anchors = loadTrustAnchors(this.config.trust.anchors, this.config.trust.allowTestCa);
    this.openData();
    await this.openHsm();
    this.watcher.on('state', () => this.emitStatus());
    this.watcher.on('reader-added', () => this.emitStatus());
    this.watcher.on('reader-removed', () => this.emitStatus());
    this.watcher.on('card-inserted', ({ reader }) => void this.onCard(reader));
    this.watcher.on('card-removed', () => {
      if (this.pin) this.closePin('card_removed', null);
      this.emitStatus();
    });
    this.watcher.start();
    await this.openActuators();
    this.openSync();
    this.statusTimer = setInterval(() => this.emitStatus(), STATUS_REFRESH_MS);
    this.statusTimer.unref();
    this.emitStatus();
  }

  private openData(): void {
    try {
      this.data = KioskData.fromConfig(this.config, this.env);
      const started = Date.now();
      void this.data
        .prewarm(this.prewarmAbort.signal)
        .then(({ bytes, error }) =>
          log.info({ mb: Math.round(bytes / 2 ** 20), ms: Date.now() - started, error }, 'stores prewarmed'),
        );
      if (this.site.kind === 'shelter' || this.config.source.profile === 'demo') {
        this.roster = ShelterRoster.inDir(`${this.config.data.dir}/store`);
      }
    } catch (error) {
      this.dataError = toKioskError(error, 'STORE_UNAVAILABLE');
      log.error({ code: this.dataError.code, err: this.dataError.message }, 'stores unavailable');
    }
  }

  /** The HSM signs terminal authentication, journal seals and hub requests; PIN mode without sync needs none. */
  private needsHsm(): boolean {
    return this.config.card.authMode === 'terminal' || this.config.sync.enabled;
  }

  private async openHsm(): Promise<void> {
    if (!this.needsHsm()) return;
    this.hsm = hsmFromConfig(this.config);
    this.hsm.on('state', (state) => {
      // Back after a loss: the authenticator still holds the same key and certificate.
      if (state === 'ready' && this.authenticator) this.hsmError = null;
      if (state === 'ready' && !this.authenticator) void this.prepareAuthenticator();
      if (state !== 'ready')
        this.hsmError = new KioskError(
          'HSM_UNAVAILABLE',
          this.hsm?.status().error?.message ?? `HSM ${state}`,
        );
      this.emitStatus();
    });
    const state = await this.hsm.start();
    if (state === 'ready') await this.prepareAuthenticator();
    else
      this.hsmError = new KioskError(
        'HSM_UNAVAILABLE',
        this.hsm.status().error?.message ?? 'HSM unavailable',
      );
  }

  private async prepareAuthenticator(): Promise<void> {
    if (!this.hsm || this.config.card.authMode !== 'terminal') {
      this.hsmError = null;
      return;
    }
    try {
      this.authenticator = await institutionAuthenticatorFromConfig(this.config, this.hsm, this.now());
      this.hsmError = null;
    } catch (error) {
      this.hsmError = toKioskError(error, 'HSM_FAILED');
      log.error(
        { code: this.hsmError.code, err: this.hsmError.message },
        'PIN-less authentication unavailable',
      );
    }
    this.emitStatus();
  }

  private async openActuators(): Promise<void> {
    const { gate, signal } = this.config.actuators;
    if (!gate && !signal) return;
    try {
      this.actuators = await createActuators(this.config.actuators, {
        recorder: this.passageRecorder(),
        resultHoldMs: this.config.ui.resultHoldMs,
        ...(this.softwareHid ? { softwareBackend: this.softwareHid } : {}),
      });
      this.actuators.on('status', () => this.emitStatus());
      this.actuators.start();
    } catch (error) {
      // A wrong actuator configuration is shown, not fatal: decisions still appear on screen.
      log.error({ err: (error as Error).message }, 'actuators unavailable');
    }
  }

  private openSync(): void {
    if (!this.config.sync.enabled || !this.data || !this.hsm) return;
    try {
      this.sync = syncFromConfig(
        this.config,
        this.data,
        hsmRequestSigner(this.hsm, this.config.site.terminalId, TERMINAL_KEY_LABEL),
      );
      this.sync?.onStatus((status) => {
        if (status.clockSkewMs !== null) {
          const local = Date.now();
          this.lastHub = { localTime: local, hubTime: local - status.clockSkewMs };
        }
        this.emitStatus();
      });
      this.sync?.start();
    } catch (error) {
      log.error({ err: (error as Error).message }, 'sync unavailable');
    }
  }

  // ------------------------------------------------------------------------------------------------
  // One tap

  private cardAuthentication(): CardAuthentication {
    if (this.config.card.authMode === 'pin') return { mode: 'pin', askPin: (r) => this.askPin(r) };
    if (!this.authenticator)
      throw this.hsmError ?? new KioskError('HSM_UNAVAILABLE', 'PIN-less authentication is not ready');
    return { mode: 'terminal', authenticator: this.authenticator };
  }

  /** Waits briefly for the watcher to tell whether the card in `reader` is still there. */
  private async cardStillPresent(reader: string, waitMs = 1000): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const present = this.watcher.list().find((r) => r.name === reader)?.cardPresent ?? false;
      if (!present || Date.now() >= deadline) return present;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private checkContext(auth: CardAuthentication, reader: string): CheckContext {
    return {
      config: this.config,
      site: this.site,
      anchors: this.anchors,
      data: this.data!,
      auth,
      buildTime: buildTime(),
      lastHub: () => this.lastHub,
      recentAdmits: this.recentAdmits,
      now: this.now,
      onPhase: (phase, progress) => this.emitEvent({ name: 'reading', payload: { phase, progress } }),
      cardStillPresent: () => this.cardStillPresent(reader),
    };
  }

  /** Runs the pipeline for a card in `reader` and returns the committed decision (CLI and UI alike). */
  async checkCard(reader: string): Promise<Decision> {
    if (!this.data) throw this.dataError ?? new KioskError('STORE_UNAVAILABLE', 'stores are not open');
    // An import or swap by another process since the last card; the card I/O that follows dwarfs it.
    this.data.refresh();
    const auth = this.cardAuthentication();
    this.emitEvent({ name: 'reading', payload: { phase: 'card_detected', progress: 0 } });
    const transport = await this.watcher.connect(reader, this.config.card.commandTimeoutMs);
    const result = await runCheck(this.checkContext(auth, reader), transport);
    return this.finish(result);
  }

  private async onCard(reader: string): Promise<void> {
    if (this.busy || this.closed || !this.autoCheck) return;
    if (this.config.card.reader && !reader.includes(this.config.card.reader)) return;
    if (this.outOfService()) return;
    this.busy = true;
    this.emitStatus();
    try {
      await this.checkCard(reader);
    } catch (error) {
      const typed = toKioskError(error);
      log.warn({ code: typed.code, err: typed.message }, 'tap failed before a decision');
      this.emitStatus();
    } finally {
      this.busy = false;
      this.emitStatus();
    }
  }

  private finish(result: CheckResult): Decision {
    const gateReportsPassage = Boolean(this.actuators?.gate) && this.site.kind === 'stadium-gate';
    const committed = commitDecision(
      {
        config: this.config,
        site: this.site,
        data: this.data!,
        recentAdmits: this.recentAdmits,
        gateReportsPassage,
      },
      result,
    );
    const decision = committed.decision;
    if (decision.outcome === 'admitted') this.counters.admitted++;
    else if (decision.outcome === 'refused') this.counters.refused++;
    const change =
      decision.outcome === 'admitted' && result.policy && !result.policy.repeat
        ? result.policy.presenceChange
        : null;
    this.remember({
      decision,
      annulled: false,
      annulReason: null,
      subject: result.subject,
      serialRef: result.serialRef,
      presence: change && result.subject ? { subject: result.subject, to: change.to } : null,
    });
    this.updateRoster(decision, result);
    this.emitEvent({ name: 'decision', payload: decision });
    if (
      this.site.kind === 'convenience-kiosk' &&
      decision.outcome === 'admitted' &&
      result.policy?.sessionSeconds
    ) {
      this.openSession(decision.id, result.policy.sessionSeconds);
    }
    if (committed.pendingGrant) {
      this.pendingGrants.set(String(committed.pendingGrant.seq), {
        subject: committed.pendingGrant.subject,
        to: committed.pendingGrant.to,
        decisionId: decision.id,
      });
    }
    if (this.actuators) {
      void this.actuators
        .actuate(decision, String(decision.journalSeq))
        .then((outcome) => this.onGateOutcome(outcome))
        .catch((error: unknown) => log.error({ err: (error as Error).message }, 'actuation failed'));
    }
    void this.sealJournal();
    // Other gates learn of an entry through the hub: send it now rather than at the next push timer.
    if (change) this.sync?.pushSoon();
    this.emitStatus();
    return decision;
  }

  private onGateOutcome(outcome: GateOutcome | null): void {
    if (!outcome) return;
    const entry = this.recent.find((r) => String(r.decision.journalSeq) === outcome.grantRef);
    if (entry && outcome.result === 'annulled') {
      entry.annulled = true;
      entry.annulReason = contractAnnulReason(outcome.reason);
    }
    this.emitStatus();
  }

  private passageRecorder(): PassageRecorder {
    const journalRef = (grantRef: string, kind: 'passage' | 'annulment', note?: string) => {
      const grant = this.pendingGrants.get(grantRef);
      const decision = this.recent.find((r) => String(r.decision.journalSeq) === grantRef)?.decision;
      this.data!.journal.append({
        kind,
        terminalId: this.config.site.terminalId,
        siteId: this.config.site.siteId,
        gateId: this.site.gateId,
        direction: decision?.direction ?? 'entry',
        ...(grant ? { subject: grant.subject } : {}),
        ref: Number(grantRef),
        ...(decision ? { decisionId: decision.id } : {}),
        ...(note ? { note } : {}),
      });
      return grant;
    };
    const movePresence = (grant: { subject: string; to: 'inside' | 'outside' } | undefined, at: string) => {
      if (!grant) return;
      this.data!.terminal.setPresence({
        subject: grant.subject,
        state: grant.to,
        terminalId: this.config.site.terminalId,
        gateId: this.site.gateId,
        zone: this.site.zone,
        at: Date.parse(at),
      });
    };
    return {
      recordPassage: (grantRef, detail) => {
        const grant = journalRef(
          grantRef,
          'passage',
          detail.evidence === 'assumed' ? 'passage assumed (no sensor)' : undefined,
        );
        movePresence(grant, detail.passedAt);
        this.pendingGrants.delete(grantRef);
        this.sync?.pushSoon();
      },
      recordAnnulment: (grantRef, reason) => {
        journalRef(grantRef, 'annulment', reason);
        // Presence does not move: the person never went through, so anti-passback must not lock them out.
      },
      recordAnnulmentReversal: (grantRef, detail) => {
        const grant = journalRef(grantRef, 'passage', `staff ${detail.staffRef} reversed the annulment`);
        movePresence(grant, detail.reversedAt);
        this.pendingGrants.delete(grantRef);
        const entry = this.recent.find((r) => String(r.decision.journalSeq) === grantRef);
        if (entry) {
          entry.annulled = false;
          entry.annulReason = null;
        }
      },
    };
  }

  private remember(entry: RecentDecision): void {
    this.recent.unshift(entry);
    if (this.recent.length > RECENT_KEPT) this.recent.length = RECENT_KEPT;
  }

  private updateRoster(decision: Decision, result: CheckResult): void {
    if (
      !this.roster ||
      this.site.kind !== 'shelter' ||
      decision.outcome !== 'admitted' ||
      result.policy?.repeat
    )
      return;
    const personRef = result.subject ?? result.serialRef;
    if (!personRef) return;
    const sv = decision.staffView;
    this.roster.record({
      personRef,
      ...(sv.displayName ? { displayName: sv.displayName } : {}),
      ...(sv.householdId ? { householdId: sv.householdId } : {}),
      ...(sv.careNeeds ? { careNeeds: sv.careNeeds } : {}),
      registered: Boolean(result.subject && sv.residentId),
      state: decision.direction === 'entry' ? 'inside' : 'out',
      at: Date.parse(decision.at),
    });
  }

  private journalSealer(): JournalSealer | null {
    const hsm = this.hsm;
    if (!hsm || hsm.status().state !== 'ready') return null;
    return {
      keyId: `${this.config.site.terminalId}/${TERMINAL_KEY_LABEL}`,
      sign: (bytes) => hsm.sign(TERMINAL_KEY_LABEL, bytes),
    };
  }

  private async sealJournal(): Promise<void> {
    const sealer = this.journalSealer();
    if (!sealer || !this.data) return;
    try {
      await this.data.journal.sealIfDue(sealer, JOURNAL_SEAL_EVERY);
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'journal seal failed; retried after the next decision');
    }
  }

  // ------------------------------------------------------------------------------------------------
  // PIN pad

  private askPin(request: { triesLeft: number; retry: boolean }): Promise<string | null> {
    return new Promise((resolve) => {
      const payload: PinRequest = {
        requestId: randomUUID(),
        triesLeft: request.triesLeft,
        retry: request.retry,
      };
      const timer = setTimeout(() => this.closePin('timeout', null), PIN_TIMEOUT_MS);
      this.pin = { request: payload, resolve, timer };
      this.emitEvent({ name: 'pinRequest', payload });
    });
  }

  private closePin(reason: 'answered' | 'cancelled' | 'card_removed' | 'timeout', pin: string | null): void {
    const pending = this.pin;
    if (!pending) return;
    this.pin = null;
    clearTimeout(pending.timer);
    this.emitEvent({ name: 'pinClosed', payload: { requestId: pending.request.requestId, reason } });
    pending.resolve(pin);
  }

  // ------------------------------------------------------------------------------------------------
  // Convenience-kiosk session

  private openSession(decisionId: string, seconds: number): void {
    this.closeSession('ended');
    const sessionId = randomUUID();
    const timer = setTimeout(() => this.closeSession('timeout'), seconds * 1000);
    this.session = { sessionId, decisionId, timer };
    this.emitEvent({
      name: 'session',
      payload: {
        state: 'open',
        sessionId,
        decisionId,
        endsAt: new Date(Date.now() + seconds * 1000).toISOString(),
      },
    });
  }

  private closeSession(reason: 'ended' | 'timeout' | 'card_removed'): void {
    const session = this.session;
    if (!session) return;
    this.session = null;
    clearTimeout(session.timer);
    // Nothing of the person stays: their decision leaves the staff list with its details.
    const index = this.recent.findIndex((r) => r.decision.id === session.decisionId);
    if (index >= 0) this.recent.splice(index, 1);
    this.emitEvent({ name: 'session', payload: { state: 'closed', sessionId: session.sessionId, reason } });
  }

  // ------------------------------------------------------------------------------------------------
  // Status

  private outOfService(): ErrorPayload | null {
    if (this.dataError) return this.dataError.toPayload();
    const readerState = this.readerState();
    if (readerState.state === 'unavailable')
      return readerState.error ?? { code: 'PCSC_UNAVAILABLE', message: 'PC/SC is unavailable' };
    if (readerState.state === 'no_reader')
      return { code: 'READER_NOT_FOUND', message: 'no card reader is connected' };
    if (this.config.card.authMode === 'terminal' && (this.hsmError || !this.authenticator)) {
      return (this.hsmError ?? new KioskError('HSM_UNAVAILABLE', 'HSM not ready')).toPayload();
    }
    const clock = clockFault({
      now: this.now().getTime(),
      buildTime: buildTime(),
      lastHub: this.lastHub,
      maxSkewSeconds: this.config.clock.maxSkewSeconds,
    });
    if (clock) return clock.toPayload();
    const gate = this.actuators?.status().gate;
    if (gate && (gate.device.state === 'missing' || gate.device.state === 'failed')) {
      return { code: 'HID_UNAVAILABLE', message: `gate device ${gate.device.state}` };
    }
    return null;
  }

  private readerState(): TerminalStatus['reader'] {
    const state = this.watcher.state;
    if (state !== 'ready') {
      return {
        state: 'unavailable',
        name: null,
        error:
          this.watcher.error?.toPayload() ??
          (state === 'stopped' ? null : { code: 'PCSC_UNAVAILABLE', message: `PC/SC ${state}` }),
      };
    }
    const readers = this.watcher
      .list()
      .filter((r) => !this.config.card.reader || r.name.includes(this.config.card.reader));
    if (readers.length === 0) return { state: 'no_reader', name: null, error: null };
    const withCard = readers.find((r) => r.cardPresent);
    return {
      state: this.busy ? 'busy' : withCard ? 'card_present' : 'ready',
      name: (withCard ?? readers[0]!).name,
      error: null,
    };
  }

  private insideCount(): number | null {
    if (!this.data) return null;
    if (this.site.kind === 'shelter' && this.roster) return this.roster.summary().inside;
    if (this.site.kind !== 'stadium-gate') return null;
    const row = this.data.terminal.db
      .prepare("SELECT count(*) AS n FROM presence WHERE state = 'inside'")
      .get() as { n: number };
    return row.n;
  }

  status(): TerminalStatus {
    const now = this.now().getTime();
    const freshness = this.data?.freshness(now);
    const revAge = freshness?.revocations.dataAgeMs ?? null;
    const stale = revAge === null || revAge > this.config.revocation.maxAgeHours * 3600_000;
    const syncStatus = this.sync?.status();
    const hsmState = !this.needsHsm()
      ? 'not_used'
      : this.hsm?.status().state === 'ready' && !this.hsmError
        ? 'ready'
        : 'unavailable';
    const journal = this.data?.journal;
    const pending = journal ? journal.pendingUpload() : 0;
    const actuatorStatus = this.actuators?.status();
    const gate = actuatorStatus?.gate;
    const signal = actuatorStatus?.signal;
    return {
      terminalId: this.config.site.terminalId,
      siteId: this.config.site.siteId,
      profile: this.config.source.profile,
      siteKind: this.site.kind,
      gateId: this.site.gateId,
      zone: this.site.zone,
      direction: this.site.direction,
      language: this.config.site.language,
      authMode: this.config.card.authMode,
      demo: this.config.demo.enabled,
      reader: this.readerState(),
      hsm: {
        state: hsmState,
        error:
          hsmState === 'unavailable'
            ? (this.hsmError ?? new KioskError('HSM_UNAVAILABLE', 'HSM not ready')).toPayload()
            : null,
      },
      sync: {
        state: !this.sync
          ? 'disabled'
          : syncStatus?.lastError
            ? 'failed'
            : syncStatus?.running
              ? 'idle'
              : 'idle',
        lastPullAt: isoOrNull(
          Math.max(...Object.values(syncStatus?.feeds ?? {}).map((f) => f?.lastSuccessAt ?? 0)),
        ),
        lastPushAt: isoOrNull(syncStatus?.push.lastSuccessAt ?? 0),
        error: syncStatus?.lastError ?? null,
      },
      data: {
        revocationAt: freshness?.revocations.asOf ?? null,
        whitelistAt: freshness?.whitelist.asOf ?? null,
        maxAgeHours: this.config.revocation.maxAgeHours,
        stale,
        stalePolicy: this.config.revocation.stalePolicy,
      },
      queue: { journalPending: pending, oldestPendingAt: null },
      gate: gateStateView(gate ?? null),
      signal: signalStateView(signal ?? null),
      outOfService: this.outOfService(),
      degraded: stale && this.config.revocation.stalePolicy === 'degraded',
      counters: { ...this.counters, inside: this.insideCount() },
      staff: {
        unlocked: this.staffUnlocked(),
        until: this.staffUnlocked() ? new Date(this.staffUntil).toISOString() : null,
      },
      ui: {
        volume: this.volume,
        resultHoldMs: this.config.ui.resultHoldMs,
        sessionTimeoutSeconds: this.config.policy.kiosk.sessionTimeoutSeconds,
      },
    };
  }

  private emitStatus(): void {
    if (this.closed) return;
    try {
      this.emitEvent({ name: 'status', payload: this.status() });
    } catch (error) {
      log.error({ err: (error as Error).message }, 'status failed');
    }
  }

  private emitEvent(event: KioskEvent): void {
    this.emit('kiosk-event', event);
  }

  subscribe(listener: (event: KioskEvent) => void): () => void {
    const wrapped = (event: KioskEvent) => {
      try {
        listener(event);
      } catch (error) {
        log.error({ err: (error as Error).message }, 'event listener threw');
      }
    };
    this.on('kiosk-event', wrapped);
    return () => this.off('kiosk-event', wrapped);
  }

  // ------------------------------------------------------------------------------------------------
  // Staff

  private staffUnlocked(): boolean {
    return Date.now() < this.staffUntil;
  }

  private requireStaff(): void {
    if (!this.staffUnlocked()) throw new KioskError('STAFF_LOCKED', 'staff mode is locked');
    this.staffUntil = Date.now() + STAFF_UNLOCK_MS;
  }

  private requireData(): KioskData {
    if (!this.data) throw this.dataError ?? new KioskError('STORE_UNAVAILABLE', 'stores are not open');
    return this.data;
  }

  private findRecent(decisionId: string): RecentDecision {
    const entry = this.recent.find((r) => r.decision.id === decisionId);
    if (!entry)
      throw new KioskError('INVALID_REQUEST', `decision ${decisionId} is not among the recent decisions`);
    return entry;
  }

  // ------------------------------------------------------------------------------------------------
  // Commands (the KioskCore contract)

  getStatus = async (): Promise<TerminalStatus> => this.status();

  answerPin = async ({ requestId, pin }: CommandRequest<'answerPin'>): Promise<{ ok: true }> => {
    if (!this.pin || this.pin.request.requestId !== requestId)
      throw new KioskError('INVALID_REQUEST', 'no such PIN request is open');
    this.closePin('answered', pin);
    return { ok: true };
  };

  cancelPin = async ({ requestId }: CommandRequest<'cancelPin'>): Promise<{ ok: true }> => {
    if (this.pin?.request.requestId === requestId) this.closePin('cancelled', null);
    return { ok: true };
  };

  endSession = async ({ sessionId }: CommandRequest<'endSession'>): Promise<{ ok: true }> => {
    if (this.session?.sessionId === sessionId) this.closeSession('ended');
    return { ok: true };
  };

  staffUnlock = async (request: CommandRequest<'staffUnlock'>): Promise<CommandResponse<'staffUnlock'>> => {
    if (request.method === 'card')
      throw new KioskError(
        'NOT_AVAILABLE',
        'staff cards are not configured on this terminal; use the staff PIN',
      );
    if (Date.now() < this.staffLockedUntil)
      throw new KioskError('STAFF_LOCKED', 'too many wrong staff PINs; wait a minute');
    const expected = Buffer.from(readSecret(this.config.ui.staffPin, 'staff PIN', this.env));
    const given = Buffer.from(request.pin);
    const match = expected.length === given.length && timingSafeEqual(expected, given);
    if (!match) {
      this.staffFailures++;
      if (this.staffFailures >= STAFF_MAX_FAILURES) {
        this.staffFailures = 0;
        this.staffLockedUntil = Date.now() + STAFF_LOCKOUT_MS;
      }
      log.warn('wrong staff PIN');
      throw new KioskError('STAFF_CREDENTIAL_WRONG', 'wrong staff PIN');
    }
    this.staffFailures = 0;
    this.staffUntil = Date.now() + STAFF_UNLOCK_MS;
    this.emitStatus();
    return { unlocked: true, until: new Date(this.staffUntil).toISOString() };
  };

  staffLock = async (): Promise<{ ok: true }> => {
    this.staffUntil = 0;
    this.emitStatus();
    return { ok: true };
  };

  recentDecisions = async ({
    limit,
  }: CommandRequest<'recentDecisions'>): Promise<CommandResponse<'recentDecisions'>> => {
    this.requireStaff();
    return this.recent
      .slice(0, limit)
      .map((r) => ({ decision: r.decision, annulled: r.annulled, annulReason: r.annulReason }));
  };

  annulEntry = async ({
    decisionId,
    reason,
    note,
  }: CommandRequest<'annulEntry'>): Promise<CommandResponse<'annulEntry'>> => {
    this.requireStaff();
    const data = this.requireData();
    const entry = this.findRecent(decisionId);
    if (entry.annulled) throw new KioskError('INVALID_REQUEST', 'this entry is already annulled');
    const record = data.journal.append({
      kind: 'staff-annul',
      terminalId: this.config.site.terminalId,
      siteId: this.config.site.siteId,
      gateId: this.site.gateId,
      direction: entry.decision.direction,
      ...(entry.subject ? { subject: entry.subject } : {}),
      ...(entry.serialRef ? { serialRef: entry.serialRef } : {}),
      decisionId,
      ...(entry.decision.journalSeq ? { ref: entry.decision.journalSeq } : {}),
      note: note ? `${reason}: ${note}` : reason,
    });
    if (entry.presence) {
      // Undo what the entry did to presence, so anti-passback does not hold an annulled entry against them.
      data.terminal.setPresence({
        subject: entry.presence.subject,
        state: entry.presence.to === 'inside' ? 'outside' : 'inside',
        terminalId: this.config.site.terminalId,
        gateId: this.site.gateId,
        zone: this.site.zone,
        at: Date.now(),
      });
    }
    if (entry.serialRef) this.recentAdmits.delete(entry.serialRef);
    entry.annulled = true;
    entry.annulReason = reason;
    this.emitStatus();
    return { decisionId, annulled: true, journalSeq: record.seq };
  };

  reverseAnnulment = async ({
    decisionId,
  }: CommandRequest<'reverseAnnulment'>): Promise<CommandResponse<'reverseAnnulment'>> => {
    this.requireStaff();
    const data = this.requireData();
    const entry = this.findRecent(decisionId);
    if (!entry.annulled) throw new KioskError('INVALID_REQUEST', 'this entry is not annulled');
    const grantRef = String(entry.decision.journalSeq);
    const gateAnnulment = this.actuators?.gate
      ?.annulments()
      .find((a) => a.grantRef === grantRef && !a.reversed);
    if (gateAnnulment && this.actuators?.gate) {
      await this.actuators.gate.reverseAnnulment(grantRef, 'staff');
    } else {
      data.journal.append({
        kind: 'passage',
        terminalId: this.config.site.terminalId,
        siteId: this.config.site.siteId,
        gateId: this.site.gateId,
        direction: entry.decision.direction,
        ...(entry.subject ? { subject: entry.subject } : {}),
        decisionId,
        ...(entry.decision.journalSeq ? { ref: entry.decision.journalSeq } : {}),
        note: 'staff reversed the annulment',
      });
      if (entry.presence) {
        data.terminal.setPresence({
          subject: entry.presence.subject,
          state: entry.presence.to,
          terminalId: this.config.site.terminalId,
          gateId: this.site.gateId,
          zone: this.site.zone,
          at: Date.now(),
        });
      }
      entry.annulled = false;
      entry.annulReason = null;
    }
    this.emitStatus();
    return { decisionId, annulled: false, journalSeq: data.journal.head().seq };
  };

  syncNow = async (): Promise<CommandResponse<'syncNow'>> => {
    this.requireStaff();
    if (!this.sync) throw new KioskError('NOT_AVAILABLE', 'sync is not enabled on this terminal');
    const report = await this.sync.syncNow();
    const pulled = Object.values(report.pulls).reduce((n, r) => n + (r && 'applied' in r ? r.applied : 0), 0);
    const pushed = report.push && 'acked' in report.push ? report.push.acked : 0;
    this.emitStatus();
    return { pulled, pushed, at: new Date().toISOString() };
  };

  listSiteOptions = async (): Promise<CommandResponse<'listSiteOptions'>> => {
    this.requireStaff();
    const demo = this.config.source.profile === 'demo';
    const configured = {
      gateId: this.config.site.gateId,
      zone: this.config.site.zone,
      direction: this.config.site.direction,
    };
    const demoGates = [
      { gateId: 'gate-a', zone: 'main', direction: 'entry' as const },
      { gateId: 'gate-a-exit', zone: 'main', direction: 'exit' as const },
      { gateId: 'gate-b', zone: 'main', direction: 'entry' as const },
    ];
    return {
      siteKinds: demo
        ? ['stadium-gate', 'hospital-reception', 'shelter', 'convenience-kiosk']
        : [this.config.site.kind],
      gates: demo ? demoGates : [configured],
    };
  };

  selectSite = async ({
    siteKind,
    gateId,
    direction,
  }: CommandRequest<'selectSite'>): Promise<TerminalStatus> => {
    this.requireStaff();
    const options = await this.listSiteOptions();
    if (!options.siteKinds.includes(siteKind))
      throw new KioskError('INVALID_REQUEST', `this terminal cannot act as ${siteKind}`);
    const gate = gateId ? options.gates.find((g) => g.gateId === gateId) : undefined;
    if (gateId && !gate) throw new KioskError('INVALID_REQUEST', `unknown gate ${gateId}`);
    const defaultDirection = siteKind === 'shelter' ? 'both' : 'entry';
    this.site = {
      kind: siteKind,
      gateId: gate?.gateId ?? this.site.gateId,
      zone: gate?.zone ?? this.site.zone,
      direction: direction ?? gate?.direction ?? defaultDirection,
    };
    this.closeSession('ended');
    log.info({ site: this.site }, 'site selected by staff');
    this.emitStatus();
    return this.status();
  };

  setVolume = async ({ volume }: CommandRequest<'setVolume'>): Promise<{ ok: true }> => {
    this.requireStaff();
    this.volume = volume;
    this.emitStatus();
    return { ok: true };
  };

  getRoster = async (): Promise<CommandResponse<'getRoster'>> => {
    this.requireStaff();
    if (!this.roster) throw new KioskError('NOT_AVAILABLE', 'this terminal keeps no shelter roster');
    return this.roster.summary();
  };

  /** Shelter roster as CSV in policy.shelter.rosterDir (works with no network). */
  exportRoster(): string {
    if (!this.roster) throw new KioskError('NOT_AVAILABLE', 'this terminal keeps no shelter roster');
    return this.roster.exportCsv(this.config.policy.shelter.rosterDir);
  }

  registerPerson = async ({
    decisionId,
    displayName,
    householdId,
    careNeeds,
  }: CommandRequest<'registerPerson'>): Promise<CommandResponse<'registerPerson'>> => {
    this.requireStaff();
    if (!this.roster) throw new KioskError('NOT_AVAILABLE', 'this terminal keeps no shelter roster');
    const entry = this.findRecent(decisionId);
    const personRef = entry.subject ?? entry.serialRef;
    if (!personRef) throw new KioskError('INVALID_REQUEST', 'this decision has no person to register');
    if (
      !this.roster.registerDetails(personRef, {
        displayName,
        ...(householdId ? { householdId } : {}),
        ...(careNeeds ? { careNeeds } : {}),
      })
    ) {
      throw new KioskError(
        'INVALID_REQUEST',
        'this person is not on the roster (was the card admitted here?)',
      );
    }
    this.emitStatus();
    return { personRef };
  };

  sendToReception = async ({
    decisionId,
  }: CommandRequest<'sendToReception'>): Promise<CommandResponse<'sendToReception'>> => {
    this.requireStaff();
    const entry = this.findRecent(decisionId);
    const resource = coverageFromDecision(entry.decision, this.config.site.terminalId);
    const out = this.config.policy.hospital;
    if (out.output === 'url' && out.url)
      return { decisionId, destination: out.url, reference: await postCoverage(resource, out.url) };
    if (out.output === 'none') throw new KioskError('NOT_AVAILABLE', 'no reception system is configured');
    const file = writeCoverageToFolder(resource, out.folder);
    return { decisionId, destination: out.folder, reference: file };
  };

  demoListCards = async (): Promise<DemoCard[]> => this.requireWallet().list();

  demoInsertCard = async ({ name }: CommandRequest<'demoInsertCard'>): Promise<{ ok: true }> => {
    await this.requireWallet().insert(name);
    return { ok: true };
  };

  demoRemoveCard = async (): Promise<{ ok: true }> => {
    await this.requireWallet().remove();
    return { ok: true };
  };

  private requireWallet(): DemoWallet {
    if (!this.wallet || !this.config.demo.enabled)
      throw new KioskError('NOT_AVAILABLE', 'the demo card wallet exists only in the demo profile');
    return this.wallet;
  }

  /** Waits for a card on the first (or configured) reader: `jpki-kiosk check --once`. */
  async waitForCard(timeoutMs: number): Promise<string> {
    await this.watcher.waitReady(Math.min(timeoutMs, 10_000));
    return this.watcher.waitForCard(this.config.card.reader, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.prewarmAbort.abort();
    if (this.statusTimer) clearInterval(this.statusTimer);
    this.closePin('cancelled', null);
    this.closeSession('ended');
    this.watcher.stop();
    await this.sync?.stop().catch(() => undefined);
    await this.actuators?.stop().catch(() => undefined);
    await this.wallet?.close().catch(() => undefined);
    await this.hsm?.close().catch(() => undefined);
    this.roster?.close();
    this.data?.close();
    this.removeAllListeners();
  }
}

function isoOrNull(ms: number): string | null {
  return ms > 0 && Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

export async function createTerminal(options: TerminalOptions): Promise<Terminal> {
  const terminal = new Terminal(options);
  await terminal.start();
  return terminal;
}
