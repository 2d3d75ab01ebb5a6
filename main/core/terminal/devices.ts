// The device set: opens and supervises every part the terminal needs — stores (and the shelter roster),
// trust anchors, the HSM with the PIN-less authenticator, the reader watcher, the actuators and sync —
// and reports them as one health snapshot. A part that fails becomes a visible state, never a crash;
// the terminal is out of service when a REQUIRED part is not working (`firstFault`).
import { EventEmitter } from 'node:events';
import type { Clock } from '../../../base/clock.js';
import { KioskError, toKioskError, type ErrorPayload } from '../../../base/errors.js';
import { getLogger } from '../../../base/log.js';
import type { Health } from '../../../base/supervisor.js';
import type { SiteKind } from '../../../base/site-kinds.js';
import type { KioskConfig } from '../../../config/load.js';
import type { Hsm } from '../../../hsm/client.js';
import { hsmFromConfig, TERMINAL_KEY_LABEL } from '../../../hsm/config.js';
import type { JournalSealer } from '../../../whitelist/journal.js';
import { KioskData, pinnedRootReader, storeDir } from '../../../whitelist/kiosk-data.js';
import {
  createActuators,
  type Actuators,
  type ActuatorsOptions,
  type HidBackend,
  type PassageRecorder,
} from '../actuators/index.js';
import { institutionAuthenticatorFromConfig } from '../card/institution-auth.js';
import { ReaderWatcher, type ReaderWatcherOptions } from '../card/reader-watcher.js';
import type { TerminalAuthenticator } from '../card/terminal-auth.js';
import { buildTime, clockFault, type HubTimeObservation } from '../clock.js';
import { openShelterRoster } from '../sites/index.js';
import type { ShelterRoster } from '../sites/shelter/roster.js';
import { wipePersonalData } from '../sync/retire.js';
import type { RemoteConfigSink } from '../sync/remote-config.js';
import { openRemoteConfig } from '../../../protocol/remote-config.js';
import { checkRemoteLayer, readRemoteConfig, saveRemoteConfig } from '../../../config/remote.js';
import { hsmRequestSigner, syncFromConfig, type SyncClient } from '../sync/index.js';
import { loadTrustAnchors, type TrustAnchor } from '../verify/certificate.js';
import { outOfServiceFrom } from './status-view.js';
import {
  authenticatorHealth,
  clockHealth,
  deviceHealth,
  hsmHealth,
  readerHealth,
  storesHealth,
  type DeviceHealth,
  type ReaderSnapshot,
} from './health.js';

const log = getLogger('devices');

export interface DeviceSetOptions {
  config: KioskConfig;
  env: NodeJS.ProcessEnv;
  clock: Clock;
  watcher?: ReaderWatcherOptions;
  /** Where the gate's passage and annulment reports go (the entry ledger). */
  recorder: PassageRecorder;
  /** The HID backend for driver "software" (the demo passes its software devices). */
  softwareHid?: HidBackend;
  /** The site kinds staff may select: the roster opens where a shelter may be served. */
  selectableKinds: readonly SiteKind[];
}

export class DeviceSet extends EventEmitter<{ change: []; card: [reader: string]; 'card-removed': [] }> {
  readonly config: KioskConfig;
  readonly watcher: ReaderWatcher;
  anchors: TrustAnchor[] = [];
  data: KioskData | null = null;
  roster: ShelterRoster | null = null;
  hsm: Hsm | null = null;
  authenticator: TerminalAuthenticator | null = null;
  actuators: Actuators | null = null;
  sync: SyncClient | null = null;
  /** Counts each exchange with the hub (the metrics, when enabled). */
  onSyncExchange: ((part: string, result: string) => void) | null = null;
  /** The hub's time as last seen, for the clock guard. */
  lastHub: HubTimeObservation | null = null;
  private dataError: KioskError | null = null;
  private hsmError: KioskError | null = null;
  private readonly prewarmAbort = new AbortController();

  constructor(private readonly options: DeviceSetOptions) {
    super();
    this.config = options.config;
    this.watcher = new ReaderWatcher({ settleMs: options.config.card.settleMs, ...options.watcher });
  }

  /** Opens everything; each part that fails becomes a visible state instead of stopping the terminal. */
  async start(): Promise<void> {
    // Trust anchors are configuration: an unreadable or test anchor outside the demo stops the start.
    this.anchors = loadTrustAnchors(this.config.trust.anchors, this.config.trust.allowTestCa);
    this.openStores();
    await this.openHsm();
    const changed = () => this.emit('change');
    this.watcher.on('state', changed);
    this.watcher.on('reader-added', changed);
    this.watcher.on('reader-removed', changed);
    this.watcher.on('card-inserted', ({ reader }) => this.emit('card', reader));
    this.watcher.on('card-removed', () => this.emit('card-removed'));
    this.watcher.start();
    await this.openActuators();
    this.openSync();
  }

  /** The stores, or the reason they are not open. */
  stores(): KioskData {
    if (!this.data) throw this.dataError ?? new KioskError('STORE_UNAVAILABLE', 'stores are not open');
    return this.data;
  }

  /** The HSM signs terminal authentication, journal seals and hub requests; PIN mode without sync needs none. */
  needsHsm(): boolean {
    return (
      this.config.card.authMode !== 'pin' ||
      this.config.sync.enabled ||
      // Kiosk service requests are signed with the terminal key.
      this.config.policy.kiosk.services.length > 0
    );
  }

  /** The PIN-less authenticator while it and its HSM are ready ('auto' falls back without it). */
  readyAuthenticator(): TerminalAuthenticator | null {
    if (!this.authenticator || !this.hsm || this.hsm.status().state !== 'ready') return null;
    return this.authenticator;
  }

  /** The PIN-less authenticator, or the reason it is not ready. */
  requireAuthenticator(): TerminalAuthenticator {
    if (!this.authenticator)
      throw this.hsmError ?? new KioskError('HSM_UNAVAILABLE', 'PIN-less authentication is not ready');
    return this.authenticator;
  }

  /** The HSM's signer for journal seals, while the HSM works. */
  journalSealer(): JournalSealer | null {
    const hsm = this.hsm;
    if (!hsm || hsm.status().state !== 'ready') return null;
    return {
      keyId: `${this.config.site.terminalId}/${TERMINAL_KEY_LABEL}`,
      sign: (bytes) => hsm.sign(TERMINAL_KEY_LABEL, bytes),
    };
  }

  readerSnapshot(): ReaderSnapshot {
    const wanted = this.config.card.reader;
    return {
      watcher: this.watcher.state,
      error: this.watcher.error?.toPayload() ?? null,
      readers: this.watcher
        .list()
        .filter((r) => !wanted || r.name.includes(wanted))
        .map((r) => ({ name: r.name, cardPresent: r.cardPresent })),
    };
  }

  health(): DeviceHealth {
    const hsm = this.hsm ? hsmHealth(this.hsm.health(), this.hsmError?.toPayload() ?? null) : null;
    const actuators = this.actuators?.status();
    return {
      stores: storesHealth(this.data ? null : (this.dataError?.toPayload() ?? null)),
      reader: readerHealth(this.readerSnapshot()),
      hsm: this.needsHsm() ? (hsm ?? unopenedHsm(this.hsmError)) : null,
      authenticator:
        this.config.card.authMode === 'terminal'
          ? authenticatorHealth(hsm ?? unopenedHsm(this.hsmError), this.authenticator !== null)
          : null,
      clock: clockHealth(
        clockFault({
          now: this.options.clock.now(),
          buildTime: buildTime(),
          lastHub: this.lastHub,
          maxSkewSeconds: this.config.clock.maxSkewSeconds,
        })?.toPayload() ?? null,
      ),
      gate: actuators?.gate ? deviceHealth(actuators.gate.device) : null,
      signal: actuators?.signal ? deviceHealth(actuators.signal.device) : null,
      sync: this.sync ? { ...this.sync.health(), name: 'sync' } : null,
    };
  }

  outOfService(): ErrorPayload | null {
    // A missing device first (staff can fix it); then the hub operator's order (disabled, retired).
    return outOfServiceFrom(this.health()) ?? this.sync?.status().outOfService ?? null;
  }

  // ------------------------------------------------------------------------------------------------

  private openStores(): void {
    try {
      this.data = KioskData.fromConfig(this.config, this.options.env);
      const started = this.options.clock.now();
      void this.data
        .prewarm(this.prewarmAbort.signal)
        .then(({ bytes, error }) =>
          log.info(
            { mb: Math.round(bytes / 2 ** 20), ms: this.options.clock.now() - started, error },
            'stores prewarmed',
          ),
        );
      this.roster = openShelterRoster(this.config, this.options.selectableKinds, this.data.indexKey);
    } catch (error) {
      this.dataError = toKioskError(error, 'STORE_UNAVAILABLE');
      log.error({ code: this.dataError.code, err: this.dataError.message }, 'stores unavailable');
    }
  }

  /** The HSM that holds the terminal key, for enrolment: opened now if nothing needed it before. */
  async terminalKeyHsm(): Promise<Hsm> {
    if (!this.hsm) await this.openHsm(true);
    if (!this.hsm || this.hsm.status().state !== 'ready')
      throw this.hsmError ?? new KioskError('HSM_UNAVAILABLE', 'the terminal key is not available');
    return this.hsm;
  }

  private async openHsm(force = false): Promise<void> {
    if (!force && !this.needsHsm()) return;
    const hsm = hsmFromConfig(this.config);
    this.hsm = hsm;
    hsm.on('state', (state) => {
      // Back after a loss: the authenticator still holds the same key and certificate.
      if (state === 'ready' && this.authenticator) this.hsmError = null;
      if (state === 'ready' && !this.authenticator) void this.prepareAuthenticator();
      if (state !== 'ready')
        this.hsmError = new KioskError('HSM_UNAVAILABLE', hsm.status().error?.message ?? `HSM ${state}`);
      this.emit('change');
    });
    const state = await hsm.start();
    if (state === 'ready') await this.prepareAuthenticator();
    else this.hsmError = new KioskError('HSM_UNAVAILABLE', hsm.status().error?.message ?? 'HSM unavailable');
  }

  private async prepareAuthenticator(): Promise<void> {
    if (!this.hsm || this.config.card.authMode === 'pin') {
      this.hsmError = null;
      return;
    }
    try {
      this.authenticator = await institutionAuthenticatorFromConfig(
        this.config,
        this.hsm,
        new Date(this.options.clock.now()),
        () => this.options.clock.now(),
      );
      this.hsmError = null;
    } catch (error) {
      this.hsmError = toKioskError(error, 'HSM_FAILED');
      log.error(
        { code: this.hsmError.code, err: this.hsmError.message },
        'PIN-less authentication unavailable',
      );
    }
    this.emit('change');
  }

  private async openActuators(): Promise<void> {
    const { gate, signal } = this.config.actuators;
    if (!gate && !signal) return;
    try {
      this.actuators = await createActuators(this.config.actuators, this.actuatorOptions());
      this.actuators.on('status', () => this.emit('change'));
      this.actuators.start();
    } catch (error) {
      // A wrong actuator configuration is shown, not fatal: decisions still appear on screen.
      log.error({ err: (error as Error).message }, 'actuators unavailable');
    }
  }

  /** The actuators' options; `softwareBackend` drives driver "software" (the demo's simulated devices). */
  private actuatorOptions(): ActuatorsOptions {
    return {
      recorder: this.options.recorder,
      resultHoldMs: this.config.ui.resultHoldMs,
      ...(this.options.softwareHid ? { softwareBackend: this.options.softwareHid } : {}),
    };
  }

  /**
   * After enrolment: sync again under the configuration the enrolment implies (the hub, its root and
   * the terminal id the hub now knows), without a restart. True when sync runs again.
   */
  async followEnrolment(config: KioskConfig): Promise<boolean> {
    const old = this.sync;
    this.sync = null;
    await old?.stop().catch(() => undefined);
    // The hub's root kept at enrolment, where the configuration pinned none before.
    if (this.data && config.sync.rootPath && config.sync.rootPath !== this.config.sync.rootPath)
      this.data.roots.repin(pinnedRootReader(config.sync.rootPath));
    this.openSync(config);
    this.emit('change');
    return this.sync !== null;
  }

  private openSync(config: KioskConfig = this.config): void {
    if (!config.sync.enabled || !this.data || !this.hsm) return;
    try {
      const sync = syncFromConfig(
        config,
        this.data,
        hsmRequestSigner(this.hsm, config.site.terminalId, TERMINAL_KEY_LABEL),
        {
          // The terminal's one clock: data age and hub skew are read on the same "now" as decisions.
          clock: this.options.clock,
          onExchange: (part, result) => {
            this.onSyncExchange?.(part, result);
            if (part === 'push' && result === 'ok') this.applyRetention();
          },
          onRetire: () => this.retire(),
          remoteConfig: this.remoteConfigSink(),
        },
      );
      if (!sync) return;
      this.sync = sync;
      sync.onStatus((status) => {
        if (status.clockSkewMs !== null) {
          const local = this.options.clock.now();
          this.lastHub = { localTime: local, hubTime: local - status.clockSkewMs };
        }
        this.emit('change');
      });
      sync.start();
    } catch (error) {
      log.error({ err: (error as Error).message }, 'sync unavailable');
    }
  }

  /** The remote configuration applied live: the terminal takes the site's gate, zone and direction. */
  onRemoteConfig: ((layer: Record<string, unknown>, version: number) => void) | null = null;
  private remoteVersion: number | null = null;

  /**
   * Verifies a signed remote configuration with the root of trust, checks it against the merge rules and
   * the schema over the running configuration, keeps it as the last good one (atomically, in the data
   * folder, where the next start reads it) and applies what can change live. Anything that fails leaves
   * the last good one in place.
   */
  private remoteConfigSink(): RemoteConfigSink {
    this.remoteVersion = readRemoteConfig(this.config.data.dir)?.version ?? null;
    return {
      version: () => this.remoteVersion,
      accept: (signed, expect) => {
        const data = this.stores();
        const c = openRemoteConfig(signed, data.requireTrust(this.options.clock.now()), expect);
        if (c.version === (this.remoteVersion ?? 0)) return { version: c.version, applied: false };
        if (c.version < (this.remoteVersion ?? 0))
          throw new KioskError(
            'CONFIG_INVALID',
            `remote configuration ${c.version} is older than the one running (${this.remoteVersion})`,
          );
        checkRemoteLayer(this.config, c.layer);
        saveRemoteConfig(this.config.data.dir, { version: c.version, layer: c.layer });
        this.remoteVersion = c.version;
        log.info({ version: c.version }, 'remote configuration applied');
        this.onRemoteConfig?.(c.layer, c.version);
        this.emit('change');
        return { version: c.version, applied: true };
      },
    };
  }

  private lastRetention = 0;

  /** data.journalRetentionDays: after a push the hub acknowledged, at most once an hour. */
  private applyRetention(): void {
    const days = this.config.data.journalRetentionDays;
    const now = this.options.clock.now();
    if (days === null || !this.data || now - this.lastRetention < 3600_000) return;
    this.lastRetention = now;
    try {
      const r = this.data.journal.prune(new Date(now - days * 86_400_000).toISOString());
      if (r.removed > 0) log.info({ removed: r.removed, from: r.from }, 'journal retention applied');
    } catch (error) {
      log.error({ err: (error as Error).message }, 'journal retention failed');
    }
  }

  /**
   * The hub retired this terminal and holds its whole journal: close the stores (it stops deciding) and
   * wipe the personal data (sync/retire.ts).
   */
  private retire(): void {
    this.roster?.close();
    this.roster = null;
    this.data?.close();
    this.data = null;
    this.dataError = new KioskError('TERMINAL_RETIRED', 'this terminal was retired by the hub operator');
    wipePersonalData(this.config, storeDir(this.config));
    this.emit('change');
  }

  async close(): Promise<void> {
    this.prewarmAbort.abort();
    this.watcher.stop();
    await this.sync?.stop().catch(() => undefined);
    await this.actuators?.stop().catch(() => undefined);
    await this.hsm?.close().catch(() => undefined);
    this.roster?.close();
    this.data?.close();
    this.removeAllListeners();
  }
}

/** The HSM the configuration needs but the terminal could not even create. */
function unopenedHsm(error: KioskError | null): Health {
  return {
    name: 'hsm',
    state: 'failed',
    error: error?.toPayload() ?? { code: 'HSM_UNAVAILABLE', message: 'HSM not ready' },
    failures: 0,
    retryAt: null,
    since: null,
  };
}
