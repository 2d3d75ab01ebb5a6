// The terminal status the screens show, computed from a snapshot of the parts: a pure function, so
// every combination of part states can be tested without devices.
import type { ErrorPayload } from '../../../base/errors.js';
import { firstFault, type Health } from '../../../base/supervisor.js';
import type { KioskConfig } from '../../../config/load.js';
import type { TerminalStatus } from '../../api/contract.js';
import { gateStateView, signalStateView, type ActuatorsStatus } from '../actuators/index.js';
import type { SyncStatus } from '../sync/index.js';
import { requiredParts, type DeviceHealth, type ReaderSnapshot } from './health.js';
import { revocationStaleness, type CrlFreshness } from '../../../whitelist/crl-status.js';

export interface TerminalSite {
  kind: TerminalStatus['siteKind'];
  gateId: string;
  zone: string;
  direction: TerminalStatus['direction'];
}

export interface StatusSnapshot {
  config: KioskConfig;
  site: TerminalSite;
  health: DeviceHealth;
  reader: ReaderSnapshot;
  /** A tap is being decided. */
  busy: boolean;
  /** Revocation and whitelist freshness from the stores (null: stores not open). */
  freshness: {
    revocations: { asOf: string | null; dataAgeMs: number | null; crl?: CrlFreshness };
    whitelist: { asOf: string | null };
  } | null;
  /** The terminal clock (epoch ms) the freshness was read at: the CRL's nextUpdate is compared with it. */
  now: number;
  journalPending: number;
  sync: SyncStatus | null;
  actuators: ActuatorsStatus | null;
  counters: { admitted: number; refused: number };
  /** People inside, where the site kind counts them. */
  inside: number | null;
  /** When staff mode locks (epoch ms), or null while locked. */
  staffUntil: number | null;
  volume: number;
}

function isoOrNull(ms: number): string | null {
  return ms > 0 && Number.isFinite(ms) ? new Date(ms).toISOString() : null;
}

function readerView(s: StatusSnapshot): TerminalStatus['reader'] {
  const { reader } = s;
  if (reader.watcher !== 'ready') {
    return {
      state: 'unavailable',
      name: null,
      error:
        reader.error ??
        (reader.watcher === 'stopped'
          ? null
          : { code: 'PCSC_UNAVAILABLE', message: `PC/SC ${reader.watcher}` }),
    };
  }
  if (reader.readers.length === 0) return { state: 'no_reader', name: null, error: null };
  const withCard = reader.readers.find((r) => r.cardPresent);
  return {
    state: s.busy ? 'busy' : withCard ? 'card_present' : 'ready',
    name: (withCard ?? reader.readers[0]!).name,
    error: null,
  };
}

function hsmView(hsm: Health | null): TerminalStatus['hsm'] {
  if (!hsm) return { state: 'not_used', error: null };
  if (hsm.state === 'ready' || hsm.state === 'running') return { state: 'ready', error: null };
  return {
    state: 'unavailable',
    error: hsm.error ?? { code: 'HSM_UNAVAILABLE', message: 'HSM not ready' },
  };
}

function syncView(health: Health | null, status: SyncStatus | null): TerminalStatus['sync'] {
  const pulls = Object.values(status?.feeds ?? {}).map((f) => f?.lastSuccessAt ?? 0);
  return {
    state: !health ? 'disabled' : health.error ? 'failed' : health.state === 'running' ? 'running' : 'idle',
    lastPullAt: isoOrNull(Math.max(...pulls)),
    lastPushAt: isoOrNull(status?.push.lastSuccessAt ?? 0),
    error: health?.error ?? null,
    alarm: status?.alarm ?? null,
    hub: status?.hub
      ? {
          origin: new URL(status.hub.url).origin,
          index: status.hub.index,
          of: status.hub.of,
          answeredAt: new Date(status.hub.answeredAt).toISOString(),
        }
      : null,
  };
}

/** Why the terminal cannot decide now, or null. */
export function outOfServiceFrom(health: DeviceHealth): ErrorPayload | null {
  return firstFault(requiredParts(health));
}

export function statusView(s: StatusSnapshot): TerminalStatus {
  const { config, site } = s;
  const staleness = revocationStaleness(s.freshness?.revocations, config.revocation, s.now);
  const stale = staleness.stale;
  return {
    terminalId: config.site.terminalId,
    siteId: config.site.siteId,
    profile: config.source.profile,
    siteKind: site.kind,
    gateId: site.gateId,
    zone: site.zone,
    direction: site.direction,
    language: config.site.language,
    authMode: config.card.authMode,
    demo: config.demo.enabled,
    reader: readerView(s),
    hsm: hsmView(s.health.hsm),
    sync: syncView(s.health.sync, s.sync),
    data: {
      revocationAt: s.freshness?.revocations.asOf ?? null,
      whitelistAt: s.freshness?.whitelist.asOf ?? null,
      maxAgeHours: config.revocation.maxAgeHours,
      stale,
      stalePolicy: config.revocation.stalePolicy,
      staleReasons: staleness.reasons,
      crlNextUpdate: staleness.crlNextUpdate,
      crlGraceHours: config.revocation.crlGraceHours,
    },
    queue: { journalPending: s.journalPending, oldestPendingAt: null },
    gate: gateStateView(s.actuators?.gate ?? null),
    signal: signalStateView(s.actuators?.signal ?? null),
    outOfService: outOfServiceFrom(s.health) ?? s.sync?.outOfService ?? null,
    degraded: stale && config.revocation.stalePolicy === 'degraded',
    counters: { ...s.counters, inside: s.inside },
    staff: {
      unlocked: s.staffUntil !== null,
      until: s.staffUntil !== null ? new Date(s.staffUntil).toISOString() : null,
    },
    ui: {
      volume: s.volume,
      resultHoldMs: config.ui.resultHoldMs,
      sessionTimeoutSeconds: config.policy.kiosk.sessionTimeoutSeconds,
    },
  };
}
