// The terminal core: a facade over its parts that implements the KioskCore contract both shells serve.
//   devices  — opens and supervises stores, reader, HSM, actuators, sync; one health snapshot;
//   ledger   — the only writer of journal records and presence; the recent decisions staff act on;
//   taps     — card → pipeline → commit → effects;
//   staff    — staff PIN, lockout and expiry; every `staff: true` command goes through the staff gate;
//   pinPad, session — the patron's PIN request and the convenience-kiosk session;
//   sites    — the selected kind's module (policy, after-commit step, staff commands, occupancy).
// Every timer and every "now" comes from one injected Clock.
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from '../../../base/clock.js';
import type { Decision } from '../../../base/decision.js';
import { KioskError } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import type { SiteKind } from '../../../base/site-kinds.js';
import { loadConfig, readSyncCa, type KioskConfig } from '../../../config/load.js';
import type { EnrolmentRecord } from '../../../config/enrolment.js';
import { parseEnrolmentInput } from '../../../protocol/enrolment.js';
import { enrolTerminal, hsmMessageSigner } from '../sync/enrol.js';
import { readSecret, readStaffPin } from '../../../config/secrets.js';
import type {
  CommandResponse,
  DemoCard,
  KioskCommands,
  KioskCore,
  KioskEvent,
  TerminalStatus,
} from '../../api/contract.js';
import { eventForUi, withStaffGate } from '../../api/staff-gate.js';
import type { CodeScanner } from '../scanner/scanner.js';
import { HidScanner } from '../scanner/hid-scanner.js';
import { NodeHidBackend } from '../actuators/index.js';
import type { HidBackend } from '../actuators/index.js';
import { taBinding } from '../card/terminal-auth.js';
import type { ReaderWatcherOptions } from '../card/reader-watcher.js';
import { exportShelterRoster, siteModules, siteStaffCommands, type SitePorts } from '../sites/index.js';
import { DeviceSet } from './devices.js';
import { EntryLedger } from './entry-ledger.js';
import { PatronSession } from './patron-session.js';
import { PinPad } from './pin-pad.js';
import { StaffSession } from './staff-session.js';
import { statusView, type TerminalSite } from './status-view.js';
import { TapLoop } from './tap-loop.js';
import { hsmRequestSigner } from '../sync/index.js';
import { TERMINAL_KEY_LABEL } from '../../../hsm/config.js';
import { printerFromConfig, type Printer } from '../printing/index.js';
import { slipPdf, type SlipContent } from '../printing/slips.js';
import { ServiceDesk } from '../services/desk.js';
import { PosHandoff } from '../services/pos-handoff.js';
import { ProviderClient } from '../services/provider-client.js';
import { verifyCardSignature, verifyUserCertificate } from '../verify/certificate.js';
import { JpkiClient } from '../card/jpki-client.js';
import { bindCompanionAtHub } from '../sync/companion.js';
import { createHash, randomBytes } from 'node:crypto';
import type { RequestSigner } from '../../../protocol/http-signature.js';
import { terminalMetrics, type TerminalMetrics } from '../metrics/terminal-metrics.js';
import { startMetricsServer, type MetricsServer } from '../metrics/http.js';

const log = getLogger('terminal');
const STATUS_REFRESH_MS = 30_000;

/** The demo's card wallet (implemented in main/demo/wallet.ts): inserts virtual cards. */
export interface DemoWallet {
  list(): DemoCard[];
  /** `pinless: false` puts the card in as today's cards behave: no PIN-less terminal authentication. */
  insert(name: string, options?: { pinless?: boolean }): Promise<void>;
  remove(): Promise<void>;
  close(): Promise<void>;
}

export interface TerminalOptions {
  config: KioskConfig;
  env?: NodeJS.ProcessEnv;
  wallet?: DemoWallet | null;
  watcher?: ReaderWatcherOptions;
  /** Time and timers for every part; the system clock when absent. */
  clock?: Clock;
  /** Only the time (timers stay the clock's): tests that hold or shift the terminal's "now". */
  now?: () => Date;
  /** Decide on every card that arrives (the kiosk). The one-shot CLI turns it off and asks itself. */
  autoCheck?: boolean;
  /** The HID backend for actuator driver "software" (the demo composition passes its devices). */
  softwareHid?: HidBackend;
  /** A barcode scanner for QR tickets (a USB HID scanner, or the software scanner of tests and demo). */
  scanner?: CodeScanner;
  /** Provider id → URL, replacing the configured one (the demo's reference provider on a free port). */
  providerUrls?: Record<string, string>;
  /** A printer instead of the configured one (tests: a backend of their own). */
  printer?: Printer | null;
  /** The signer of provider requests instead of the HSM's terminal key (tests without a token). */
  requestSigner?: RequestSigner;
}

/** The USB scanner the site configures for QR tickets, read through node-hid; none unless tickets are accepted. */
function configuredScanner(config: KioskConfig, clock: Clock): CodeScanner | null {
  const { accept, scanner } = config.site.tickets;
  if (!accept || scanner.driver !== 'hid') return null;
  return new HidScanner({
    backend: new NodeHidBackend(),
    match: { vendorId: scanner.vendorId, productId: scanner.productId, serial: null, path: null },
    reportId: scanner.reportId,
    clock,
  });
}

/** What staff may switch the terminal to: site.selectable, or only what is configured. */
export function selectableSites(config: KioskConfig): CommandResponse<'listSiteOptions'> {
  const s = config.site;
  return {
    siteKinds: [...(s.selectable?.kinds ?? [s.kind])],
    gates: (s.selectable?.gates ?? [{ gateId: s.gateId, zone: s.zone, direction: s.direction }]).map((g) => ({
      ...g,
    })),
  };
}

// The contract's commands are installed on each instance (through the staff gate) by the constructor.
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface Terminal extends KioskCommands {}

// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class Terminal extends EventEmitter implements KioskCore {
  readonly config: KioskConfig;
  readonly clock: Clock;
  readonly devices: DeviceSet;
  readonly ledger: EntryLedger;
  readonly taps: TapLoop;
  readonly staff: StaffSession;
  readonly pinPad: PinPad;
  readonly session: PatronSession;
  readonly printer: Printer | null;
  readonly providers: Map<string, ProviderClient>;
  readonly services: ServiceDesk;
  private site: TerminalSite;
  private volume: number;
  private readonly wallet: DemoWallet | null;
  private readonly scanner: CodeScanner | null;
  private readonly sitePorts: SitePorts;
  private statusTimer: unknown = null;
  private closed = false;
  private readonly env: NodeJS.ProcessEnv;
  private metrics: TerminalMetrics | null = null;
  private metricsServer: MetricsServer | null = null;
  /** The hub's binding after enrolment at this screen; the configuration says it from the next start. */
  private enrolled: EnrolmentRecord | null = null;
  private readonly signer: () => RequestSigner;

  constructor(options: TerminalOptions) {
    super();
    const { config } = options;
    const env = options.env ?? process.env;
    this.env = env;
    const base = options.clock ?? systemClock;
    const now = options.now;
    this.clock = now ? { ...base, now: () => now().getTime() } : base;
    this.config = config;
    this.wallet = options.wallet ?? null;
    this.scanner = options.scanner ?? configuredScanner(config, this.clock);
    this.volume = config.ui.volume;
    this.site = {
      kind: config.site.kind,
      gateId: config.site.gateId,
      zone: config.site.zone,
      direction: config.site.direction,
    };
    const changed = () => this.emitStatus();
    const emit = (event: KioskEvent) => this.emitEvent(event);

    this.ledger = new EntryLedger({
      config,
      clock: this.clock,
      stores: () => this.devices.stores(),
      site: () => this.site,
      presenceMoved: () => this.devices.sync?.pushSoon(),
      identity: () => this.identity(),
    });
    this.devices = new DeviceSet({
      config,
      env,
      clock: this.clock,
      ...(options.watcher ? { watcher: options.watcher } : {}),
      recorder: this.ledger.passageRecorder(),
      ...(options.softwareHid ? { softwareHid: options.softwareHid } : {}),
      selectableKinds: selectableSites(config).siteKinds,
    });
    this.staff = new StaffSession({
      clock: this.clock,
      expectedPin: () => readStaffPin(config, env),
      onChange: changed,
      // Kept in terminal.db once the stores are open; before that (or without them) in memory.
      store: {
        load: () => this.devices.data?.terminal.staffLockout() ?? null,
        save: (state) => this.devices.data?.terminal.setStaffLockout(state),
        lockedOut: ({ lockouts, untilMs }) => {
          const data = this.devices.data;
          if (!data) return;
          const minutes = Math.round((untilMs - this.clock.now()) / 60_000);
          data.journal.append({
            kind: 'staff-lockout',
            ...this.identity(),
            gateId: this.site.gateId,
            direction: this.site.direction === 'exit' ? 'exit' : 'entry',
            note: `wrong staff PINs: lockout ${lockouts}, ${minutes} min`,
            wall: new Date(this.clock.now()).toISOString(),
          });
          this.devices.sync?.pushSoon();
        },
      },
    });
    this.pinPad = new PinPad(this.clock, {
      request: (payload) => emit({ name: 'pinRequest', payload }),
      closed: (payload) => emit({ name: 'pinClosed', payload }),
    });
    this.session = new PatronSession({
      clock: this.clock,
      emit: (payload) => emit({ name: 'session', payload }),
      forget: (decisionId) => this.ledger.forget(decisionId),
    });
    this.printer = options.printer !== undefined ? options.printer : printerFromConfig(config, this.clock);
    const signer = (): RequestSigner => {
      if (options.requestSigner) return options.requestSigner;
      const hsm = this.devices.hsm;
      if (!hsm) throw new KioskError('HSM_UNAVAILABLE', 'the terminal key is not available');
      return hsmRequestSigner(hsm, this.identity().terminalId, TERMINAL_KEY_LABEL);
    };
    this.signer = signer;
    this.providers = new Map(
      Object.entries(config.policy.kiosk.providers).map(([id, p]) => [
        id,
        new ProviderClient({ id, ...p, url: options.providerUrls?.[id] ?? p.url }, signer, this.clock),
      ]),
    );
    let servicePinRequest: string | null = null;
    this.services = new ServiceDesk({
      terminalId: config.site.terminalId,
      siteId: config.site.siteId,
      services: config.policy.kiosk.services,
      providers: this.providers,
      printer: this.printer,
      clock: this.clock,
      session: this.session,
      askPin: (r) => {
        const answer = this.pinPad.ask(r);
        servicePinRequest = this.pinPad.openRequestId;
        return answer;
      },
      // Only the desk's own PIN request: the next person's (a tap being decided) is not the desk's to close.
      cancelPin: () => {
        if (servicePinRequest !== null && this.pinPad.openRequestId === servicePinRequest)
          this.pinPad.close('cancelled', null);
      },
      connectCard: () => this.connectSessionCard(),
      commandTimeoutMs: config.card.commandTimeoutMs,
      identify: async (der) => {
        const verdict = await verifyUserCertificate(der, {
          anchors: this.devices.anchors,
          now: new Date(this.clock.now()),
          requiredPolicy: config.trust.requiredPolicy,
        });
        if (!verdict.ok)
          return {
            ok: false,
            refusal: verdict.reason === 'cert_expired' ? 'card_expired' : 'card_untrusted',
          };
        const c = verdict.certificate;
        const found = this.devices
          .stores()
          .lookup({ issuerKeyId: c.issuerKeyId, serial: c.serialHex, spkiSha256: c.spkiSha256 });
        if (found.revoked) return { ok: false, refusal: 'card_revoked' };
        return { ok: true, serialRef: found.serialRef };
      },
      unlockWithoutPin: async (client, bound) => {
        await this.devices
          .requireAuthenticator()
          .authenticate(
            { transmit: (apdu) => client.transmit(apdu) },
            taBinding(bound.certificate, bound.digest),
          );
      },
      journal: (entry) => {
        this.ledger.service(entry);
      },
      pos: config.policy.kiosk.posHandoffDir ? new PosHandoff(config.policy.kiosk.posHandoffDir) : null,
      emit: (payload) => emit({ name: 'service', payload }),
    });
    this.sitePorts = {
      config,
      now: () => this.clock.now(),
      stores: () => this.devices.stores(),
      roster: () => this.devices.roster,
      findRecent: (decisionId) => this.ledger.find(decisionId),
      openSession: (decisionId, seconds, serialRef) => this.session.open(decisionId, seconds, serialRef),
      changed,
      printSlip: (content, tag, decisionId) => this.printSlip(content, tag, decisionId),
    };
    this.taps = new TapLoop({
      clock: this.clock,
      devices: this.devices,
      ledger: this.ledger,
      pinPad: this.pinPad,
      sitePorts: this.sitePorts,
      site: () => this.site,
      emit,
      changed,
      autoCheck: options.autoCheck ?? true,
    });
    Object.assign(this, withStaffGate(this.commands(), this.staff));
  }

  /** The terminal and site the journal names: the hub's binding once enrolled at this screen. */
  private identity(): { terminalId: string; siteId: string } {
    return this.enrolled
      ? { terminalId: this.enrolled.terminalId, siteId: this.enrolled.siteId }
      : { terminalId: this.config.site.terminalId, siteId: this.config.site.siteId };
  }

  /** Opens every part; each that fails becomes a visible state instead of stopping the terminal. */
  async start(): Promise<void> {
    const changed = () => this.emitStatus();
    // Remote configuration: the site's gate, zone and direction change at once (the next decision uses
    // them); everything else of it takes effect at the next start, from the kept file.
    this.devices.onRemoteConfig = (layer) => {
      const site = (layer.site ?? {}) as Partial<TerminalSite>;
      this.site = {
        ...this.site,
        ...(typeof site.gateId === 'string' ? { gateId: site.gateId } : {}),
        ...(typeof site.zone === 'string' ? { zone: site.zone } : {}),
        ...(site.direction ? { direction: site.direction } : {}),
      };
    };
    this.devices.on('change', () => this.emitStatus());
    this.devices.on('card', (reader) => void this.taps.onCard(reader));
    this.scanner?.start((text) => void this.taps.onScan(text));
    this.devices.on('card-removed', () => {
      this.pinPad.close('card_removed', null);
      // The session is bound to the card that opened it: the card leaving ends it.
      this.session.close('card_removed');
      this.emitStatus();
    });
    await this.devices.start();
    for (const provider of this.providers.values()) {
      provider.supervisor.on('state', changed);
      void provider.start();
    }
    if (this.printer) {
      this.printer.supervisor.on('state', changed);
      await this.printer.start();
    }
    this.scheduleStatusRefresh();
    this.emitStatus();
    if (this.config.metrics.enabled) await this.startMetrics();
  }

  /** /healthz and /metrics (main/core/metrics/): a port that cannot be bound is logged, never fatal. */
  private async startMetrics(): Promise<void> {
    const m = this.config.metrics;
    this.metrics = terminalMetrics({
      subscribe: (listener) => this.subscribe(listener),
      status: () => this.status(),
      now: () => this.clock.now(),
    });
    this.devices.onSyncExchange = this.metrics.syncExchange;
    try {
      this.metricsServer = await startMetricsServer({
        host: m.host,
        port: m.port,
        token: m.token ? readSecret(m.token, 'metrics token', this.env) : null,
        registry: this.metrics.registry,
        status: () => this.status(),
      });
      log.info({ host: m.host, port: this.metricsServer.port }, 'serving /healthz and /metrics');
    } catch (error) {
      log.error({ err: (error as Error).message }, 'metrics endpoint unavailable');
    }
  }

  /** Where /metrics is served (null when off or not bound). */
  metricsPort(): number | null {
    return this.metricsServer?.port ?? null;
  }

  status(): TerminalStatus {
    const { devices } = this;
    const now = this.clock.now();
    const view = statusView({
      config: this.config,
      site: this.site,
      health: devices.health(),
      reader: devices.readerSnapshot(),
      busy: this.taps.busy,
      freshness: devices.data?.freshness(now) ?? null,
      now,
      journalPending: devices.data?.journal.pendingUpload() ?? 0,
      sync: devices.sync?.status() ?? null,
      actuators: devices.actuators?.status() ?? null,
      counters: { ...this.taps.counters },
      inside: devices.data ? siteModules[this.site.kind].occupancy(this.sitePorts) : null,
      staffUntil: this.staff.expiresAt(),
      volume: this.volume,
    });
    if (this.enrolled) {
      view.terminalId = this.enrolled.terminalId;
      view.siteId = this.enrolled.siteId;
    }
    if (this.site.kind === 'convenience-kiosk' && this.config.policy.kiosk.services.length > 0)
      view.services = this.services.menu();
    if (this.printer) {
      const h = this.printer.health();
      const up = h.state === 'ready' || h.state === 'running';
      view.printer = { state: up ? 'ready' : 'unavailable', error: up ? null : h.error };
    }
    return view;
  }

  /** The card of the open session, in the configured reader (or the first reader with a card). */
  private async connectSessionCard() {
    const wanted = this.config.card.reader;
    const reader = this.devices.watcher
      .list()
      .find((r) => r.cardPresent && (!wanted || r.name.includes(wanted)));
    if (!reader) throw new KioskError('CARD_ABSENT', 'no card in the reader');
    return this.devices.watcher.connect(reader.name, this.config.card.commandTimeoutMs);
  }

  /**
   * A registration desk (staff mode, online): the card in the reader takes the seat of `code` at the hub.
   * The card proves it holds its certificate's key (PIN-less terminal authentication, then a signature
   * over a fresh challenge, as at a gate) so that a copied certificate on another card takes no seat; its
   * reference (issuer, serial, SPKI hash) then goes to the hub in a request signed with the HSM key.
   */
  private async bindCompanionCard(code: string): Promise<{ eventId: string; seat: string }> {
    const sync = this.config.sync;
    if (!sync.enabled || !sync.hubUrl)
      throw new KioskError('NOT_AVAILABLE', 'a registration desk needs the hub (sync is not enabled)');
    const transport = await this.connectSessionCard();
    const client = new JpkiClient(transport, { timeoutMs: this.config.card.commandTimeoutMs });
    let reference: { issuerKeyId: string; serial: string; spkiSha256: string };
    try {
      await client.selectApplet();
      const der = await client.readAuthCertificate();
      const verdict = await verifyUserCertificate(der, {
        anchors: this.devices.anchors,
        now: new Date(this.clock.now()),
        requiredPolicy: this.config.trust.requiredPolicy,
      });
      if (!verdict.ok)
        throw new KioskError('CARD_SECURITY_STATUS', `the card's certificate is refused: ${verdict.reason}`);
      const nonce = randomBytes(32);
      const digest = createHash('sha256').update(nonce).digest();
      await this.devices
        .requireAuthenticator()
        .authenticate({ transmit: (apdu) => client.transmit(apdu) }, taBinding(der, digest));
      const signature = await client.signSha256(digest);
      if (!verifyCardSignature(verdict.certificate.publicKey, nonce, signature))
        throw new KioskError('CARD_SECURITY_STATUS', 'the card does not hold its certificate’s key');
      const c = verdict.certificate;
      reference = {
        issuerKeyId: c.issuerKeyId.toLowerCase(),
        serial: c.serialHex.replace(/:/g, '').toLowerCase(),
        spkiSha256: c.spkiSha256.toLowerCase(),
      };
    } finally {
      await client.close().catch(() => undefined);
    }
    const answer = await bindCompanionAtHub({
      hubUrl: sync.hubUrl,
      signer: this.signer(),
      request: { code, ...reference },
      ...(sync.caFile ? { ca: readSyncCa(sync.caFile) } : {}),
    });
    log.info({ seat: answer.seat, eventId: answer.eventId }, 'companion bound to a seat at the hub');
    // The desk's own whitelist learns it like every gate: with the next pull (now, if it can).
    void this.devices.sync?.syncNow().catch(() => undefined);
    return { eventId: answer.eventId, seat: answer.seat };
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

  /** Runs the pipeline for a card in `reader` and returns the committed decision (CLI and UI alike). */
  checkCard(reader: string): Promise<Decision> {
    return this.taps.checkCard(reader);
  }

  /** Shelter roster as CSV in policy.shelter.rosterDir (works with no network). */
  exportRoster(): string {
    return exportShelterRoster(this.sitePorts);
  }

  /** Waits for a card on the first (or configured) reader: `jpki-kiosk check --once`. */
  async waitForCard(timeoutMs: number): Promise<string> {
    await this.devices.watcher.waitReady(Math.min(timeoutMs, 10_000));
    return this.devices.watcher.waitForCard(this.config.card.reader, timeoutMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.taps.close();
    if (this.statusTimer !== null) this.clock.clearTimeout(this.statusTimer);
    this.pinPad.close('cancelled', null);
    this.session.close('ended');
    await Promise.all([...this.providers.values()].map((p) => p.stop().catch(() => undefined)));
    await this.printer?.stop().catch(() => undefined);
    await this.wallet?.close().catch(() => undefined);
    await this.scanner?.close().catch(() => undefined);
    await this.metricsServer?.close().catch(() => undefined);
    this.metrics?.close();
    await this.devices.close();
    this.removeAllListeners();
  }

  // ------------------------------------------------------------------------------------------------

  /** The contract's commands, before the staff gate; none checks staff mode itself. */
  private commands(): KioskCommands {
    const { ledger, devices } = this;
    return {
      getStatus: async () => this.status(),
      answerPin: async ({ requestId, pin }) => {
        if (this.pinPad.openRequestId !== requestId)
          throw new KioskError('INVALID_REQUEST', 'no such PIN request is open');
        this.pinPad.close('answered', pin);
        return { ok: true };
      },
      cancelPin: async ({ requestId }) => {
        if (this.pinPad.openRequestId === requestId) this.pinPad.close('cancelled', null);
        return { ok: true };
      },
      endSession: async ({ sessionId }) => {
        if (this.session.sessionId === sessionId) this.session.close('ended');
        return { ok: true };
      },
      staffUnlock: async (request) => {
        const until = this.staff.unlockWithPin(request.pin);
        return { unlocked: true, until: new Date(until).toISOString() };
      },
      staffLock: async () => {
        this.staff.lock();
        return { ok: true };
      },
      recentDecisions: async ({ limit }) =>
        ledger
          .recent(limit)
          .map((r) => ({ decision: r.decision, annulled: r.annulled, annulReason: r.annulReason })),
      annulEntry: async ({ decisionId, reason, note }) => {
        const { journalSeq } = ledger.annul(decisionId, reason, note);
        this.emitStatus();
        return { decisionId, annulled: true, journalSeq };
      },
      reverseAnnulment: async ({ decisionId }) => {
        const grantRef = ledger.annulledGrantRef(decisionId);
        const gate = devices.actuators?.gate;
        const held = gate?.annulments().find((a) => a.grantRef === grantRef && !a.reversed);
        // The gate holds its own annulment: it reverses it and reports the passage to the ledger.
        if (gate && held) await gate.reverseAnnulment(grantRef, 'staff');
        else ledger.reverseAnnulment(decisionId);
        this.emitStatus();
        return { decisionId, annulled: false, journalSeq: devices.stores().journal.head().seq };
      },
      syncNow: async () => {
        const sync = devices.sync;
        if (!sync) throw new KioskError('NOT_AVAILABLE', 'sync is not enabled on this terminal');
        const report = await sync.syncNow();
        const pulled = Object.values(report.pulls).reduce(
          (n, r) => n + (r && 'applied' in r ? r.applied : 0),
          0,
        );
        const pushed = report.push && 'acked' in report.push ? report.push.acked : 0;
        this.emitStatus();
        return { pulled, pushed, at: new Date(this.clock.now()).toISOString() };
      },
      bindCompanion: async ({ code }) => this.bindCompanionCard(code),
      listSiteOptions: async () => selectableSites(this.config),
      selectSite: async ({ siteKind, gateId, direction }) => {
        this.applySite(siteKind, gateId, direction);
        return this.status();
      },
      setVolume: async ({ volume }) => {
        this.volume = volume;
        this.emitStatus();
        return { ok: true };
      },
      ...siteStaffCommands(this.sitePorts),
      enrol: async ({ hubUrl, code }) => this.enrolAt(hubUrl ?? null, code),
      rosterExport: async () => {
        const file = exportShelterRoster(this.sitePorts);
        return { file, rows: this.devices.roster?.summary().entries.length ?? 0 };
      },
      lookupTicket: async ({ ticketNumber }) => this.taps.lookupTicket(ticketNumber),
      requestService: async ({ sessionId, serviceId }) => this.services.request(sessionId, serviceId),
      demoListCards: async () => this.requireWallet().list(),
      demoInsertCard: async ({ name }) => {
        await this.requireWallet().insert(name);
        return { ok: true };
      },
      demoRemoveCard: async () => {
        await this.requireWallet().remove();
        return { ok: true };
      },
    };
  }

  /** Staff mode "enrol": the CLI's enrolment path with the HSM's terminal key, then sync under it. */
  private async enrolAt(hubUrl: string | null, code: string): Promise<CommandResponse<'enrol'>> {
    const url = hubUrl ?? parseEnrolmentInput(code)?.hubUrl ?? this.config.sync.hubUrl;
    if (!url)
      throw new KioskError('INVALID_REQUEST', 'enrol needs the hub URL (or a QR code that carries it)');
    const hsm = await this.devices.terminalKeyHsm();
    const record = await enrolTerminal({
      config: this.config,
      hubUrl: url,
      code,
      key: {
        publicKeyPem: (await hsm.publicKey(TERMINAL_KEY_LABEL)).pem,
        sign: hsmMessageSigner(hsm, TERMINAL_KEY_LABEL),
      },
      ...(this.config.sync.caFile ? { ca: readSyncCa(this.config.sync.caFile) } : {}),
      // Inside the screen's own wait for an answer (15 s), so a slow hub is shown as SYNC_UNREACHABLE.
      timeoutMs: 10_000,
    });
    log.info({ terminalId: record.terminalId, siteId: record.siteId, hub: record.hubUrl }, 'enrolled at hub');
    this.enrolled = record;
    this.site = {
      kind: record.kind,
      gateId: record.gateId,
      zone: record.zone,
      direction: this.site.direction,
    };
    let syncing = false;
    try {
      // The same loader as the next start: the site's file with the enrolment laid over it.
      const next = loadConfig({ file: this.config.source.file, packaged: this.config.source.packaged });
      syncing = await this.devices.followEnrolment(next);
    } catch (error) {
      log.error({ err: (error as Error).message }, 'enrolled, but sync waits for a restart');
    }
    this.emitStatus();
    return {
      terminalId: record.terminalId,
      siteId: record.siteId,
      gateId: record.gateId,
      zone: record.zone,
      siteKind: record.kind,
      hubUrl: record.hubUrl,
      syncing,
    };
  }

  private applySite(siteKind: SiteKind, gateId?: string, direction?: TerminalSite['direction']): void {
    const options = selectableSites(this.config);
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
    this.session.close('ended');
    log.info({ site: this.site }, 'site selected by staff');
    this.emitStatus();
  }

  private requireWallet(): DemoWallet {
    if (!this.wallet || !this.config.demo.enabled)
      throw new KioskError('NOT_AVAILABLE', 'the demo card wallet exists only in the demo profile');
    return this.wallet;
  }

  private scheduleStatusRefresh(): void {
    this.statusTimer = this.clock.setTimeout(() => {
      this.emitStatus();
      if (!this.closed) this.scheduleStatusRefresh();
    }, STATUS_REFRESH_MS);
  }

  private emitStatus(): void {
    if (this.closed) return;
    try {
      this.emitEvent({ name: 'status', payload: this.status() });
    } catch (error) {
      log.error({ err: (error as Error).message }, 'status failed');
    }
  }

  /** Every event to the shells passes here: staff details leave only while staff mode is unlocked. */
  private emitEvent(event: KioskEvent): void {
    this.emit('kiosk-event', eventForUi(event, this.staff.unlocked()));
  }

  /** A site's slip (seat receipt, reception, shelter check-in) in the background; never throws. */
  private printSlip(content: SlipContent, tag: string, decisionId: string): void {
    const printer = this.printer;
    if (!printer) return;
    const media = this.config.printing.slipMedia;
    void (async () => {
      const outcome = await printer.print({
        document: await slipPdf(content, media),
        title: `slip:${tag}:${decisionId}`,
        sessionId: null,
        media,
      });
      if (!outcome.ok) log.warn({ code: outcome.error.code, tag }, 'slip not printed');
    })().catch((error: unknown) => log.warn({ err: (error as Error).message, tag }, 'slip failed'));
  }
}

export async function createTerminal(options: TerminalOptions): Promise<Terminal> {
  const terminal = new Terminal(options);
  await terminal.start();
  return terminal;
}
