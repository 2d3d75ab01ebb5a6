// The read-only status page for a site or municipality: terminals (last seen, data age, queue, version)
// and, for shelters, live occupancy and the roster; open double-entry conflicts per site. Server-rendered
// HTML, no script, refreshes itself.
import { Feeds, type FeedName } from '../protocol/sync.js';
import { relativeTime } from '../base/relative-time.js';
import type { EntryConflict } from './conflicts.js';
import type { HubStore, TerminalState } from './store.js';
import type { CrlIssuerStatus } from '../protocol/crl-status.js';
import { createHash } from 'node:crypto';

/** The page's only style sheet, inline; the CSP allows exactly this text by its hash. */
const StatusStyle =
  'body{font-family:sans-serif;margin:1.5rem}table{border-collapse:collapse}td,th{border:1px solid #999;padding:.3rem .6rem;text-align:left}';

/**
 * Headers of the status page and status.json: a content security policy that allows no script, no
 * request, no frame and only the page's own style sheet, and no MIME sniffing (the page shows text that
 * terminals report).
 */
export function statusPageHeaders(): Record<string, string> {
  const styleHash = createHash('sha256').update(StatusStyle, 'utf8').digest('base64');
  return {
    'content-security-policy': [
      "default-src 'none'",
      `style-src 'sha256-${styleHash}'`,
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  };
}

export interface StatusModel {
  hubTime: number;
  feeds: Array<{ feed: FeedName; head: number; rows: number }>;
  /** The CRL status terminals were last sent, per issuer; `expired`: nextUpdate is past (import a new CRL). */
  crl: Array<CrlIssuerStatus & { expired: boolean }>;
  terminals: Array<{
    terminalId: string;
    siteId: string;
    gateId: string;
    lastSeenSecondsAgo: number | null;
    dataAgeSeconds: number | null;
    queueLength: number | null;
    version: string | null;
    journalAcked: number;
    lastError: string | null;
    /** v2: the last answer the terminal refused as an attack (rollback, freeze, mix-and-match, …). */
    alarm: { code: string; message: string; at: string } | null;
    /** What the operator set (hub terminals disable|enable|retire) and why. */
    state: TerminalState;
    stateReason: string | null;
    /** The configuration version the terminal reports it runs (remote configuration). */
    configVersion: number | null;
  }>;
  shelters: Array<{
    siteId: string;
    occupancy: number;
    roster: Array<{ subject: string; since: number; gateId: string }>;
  }>;
  /** Sites with open conflicts only; `recent` is capped so a flood of conflicts keeps the page small. */
  conflicts: Array<{ siteId: string; open: number; recent: EntryConflict[] }>;
}

const RECENT_CONFLICTS_SHOWN = 10;

function openConflictsBySite(store: HubStore): StatusModel['conflicts'] {
  const bySite = new Map<string, EntryConflict[]>();
  for (const c of store.conflicts({ openOnly: true })) {
    const list = bySite.get(c.siteId) ?? [];
    list.push(c);
    bySite.set(c.siteId, list);
  }
  return [...bySite.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([siteId, list]) => ({
      siteId,
      open: list.length,
      recent: list.slice(0, RECENT_CONFLICTS_SHOWN),
    }));
}

export function statusModel(store: HubStore, now: number): StatusModel {
  const terminals = store.terminals();
  const shelterSites = [
    ...new Set(terminals.filter((t) => t.siteKind === 'shelter').map((t) => t.siteId)),
  ].sort();
  return {
    hubTime: now,
    // Peer entries are kept per site; the page shows the operator's feeds.
    feeds: Feeds.filter((f) => f !== 'peer-entries').map((f) => {
      const i = store.feedInfo(f);
      return { feed: f, head: i.head, rows: i.rows };
    }),
    crl: store.crlStatuses().map((c) => ({ ...c, expired: Date.parse(c.nextUpdate) <= now })),
    terminals: terminals.map((t) => ({
      terminalId: t.terminalId,
      siteId: t.siteId,
      gateId: t.gateId,
      lastSeenSecondsAgo: t.lastSeenAt === null ? null : Math.max(0, Math.round((now - t.lastSeenAt) / 1000)),
      dataAgeSeconds: t.status?.dataAgeSeconds ?? null,
      queueLength: t.status?.queueLength ?? null,
      version: t.status?.version ?? null,
      journalAcked: t.acked,
      lastError: t.status?.lastError ?? null,
      alarm: t.status?.alarm ?? null,
      state: t.state ?? 'active',
      stateReason: t.stateReason ?? null,
      configVersion: t.status?.configVersion ?? null,
    })),
    shelters: shelterSites.map((siteId) => {
      const inside = store.presence(siteId).filter((p) => p.state === 'inside');
      return {
        siteId,
        occupancy: inside.length,
        roster: inside.map((p) => ({ subject: p.subject, since: p.at, gateId: p.gateId })),
      };
    }),
    conflicts: openConflictsBySite(store),
  };
}

/** Data older than this at a terminal is an alarm on the fleet view. */
export const STALE_DATA_SECONDS = 24 * 3600;

/** One terminal as the fleet view (`hub terminals list`, the status page) shows it. */
export interface FleetRow {
  terminalId: string;
  siteId: string;
  gateId: string;
  state: TerminalState;
  version: string | null;
  configVersion: number | null;
  lastSeenSecondsAgo: number | null;
  dataAgeSeconds: number | null;
  queueLength: number | null;
  /** Why the terminal is out of service (the operator's state and reason), null when in service. */
  outOfService: string | null;
  /** Stale data, a refused sync answer, the last sync error. */
  alarms: string[];
}

export function fleetRow(t: StatusModel['terminals'][number]): FleetRow {
  const alarms: string[] = [];
  if (t.dataAgeSeconds !== null && t.dataAgeSeconds > STALE_DATA_SECONDS)
    alarms.push(`stale data (${Math.round(t.dataAgeSeconds / 3600)} h old)`);
  if (t.alarm) alarms.push(`refused sync answer ${t.alarm.code} at ${t.alarm.at}`);
  if (t.lastError) alarms.push(`last sync error ${t.lastError}`);
  return {
    terminalId: t.terminalId,
    siteId: t.siteId,
    gateId: t.gateId,
    state: t.state,
    version: t.version,
    configVersion: t.configVersion,
    lastSeenSecondsAgo: t.lastSeenSecondsAgo,
    dataAgeSeconds: t.dataAgeSeconds,
    queueLength: t.queueLength,
    outOfService: t.state === 'active' ? null : `${t.state}${t.stateReason ? `: ${t.stateReason}` : ''}`,
    alarms,
  };
}

export function fleetView(store: HubStore, now: number, siteId?: string): FleetRow[] {
  return statusModel(store, now)
    .terminals.filter((t) => siteId === undefined || t.siteId === siteId)
    .map(fleetRow);
}

const esc = (v: unknown): string =>
  String(v ?? '—').replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

/** How long ago, through the one relative-time helper (English: the page is for operators). */
function age(seconds: number | null): string {
  if (seconds === null) return '—';
  return relativeTime(-seconds * 1000, 0, 'en');
}

export function renderStatusPage(m: StatusModel): string {
  const rows = m.terminals
    .map(
      (t) =>
        `<tr><td>${esc(t.terminalId)}</td><td>${esc(t.siteId)}</td><td>${esc(t.gateId)}</td>` +
        `<td class="${t.state === 'active' ? '' : 'alarm'}">${esc(fleetRow(t).outOfService ?? 'in service')}</td><td>${esc(t.configVersion)}</td>` +
        `<td>${age(t.lastSeenSecondsAgo)}</td>` +
        `<td>${age(t.dataAgeSeconds)}</td><td>${esc(t.queueLength)}</td><td>${esc(t.version)}</td><td>${esc(t.journalAcked)}</td><td>${esc(t.lastError)}</td>` +
        `<td class="${t.alarm ? 'alarm' : ''}">${t.alarm ? `${esc(t.alarm.code)} ${esc(t.alarm.at)}: ${esc(t.alarm.message)}` : '—'}</td></tr>`,
    )
    .join('\n');
  const shelters = m.shelters
    .map(
      (s) =>
        `<section><h2>${esc(s.siteId)} — ${s.occupancy} inside</h2><table><thead><tr><th>Subject</th><th>Since</th><th>Gate</th></tr></thead><tbody>` +
        s.roster
          .map(
            (r) =>
              `<tr><td>${esc(r.subject)}</td><td>${esc(new Date(r.since).toISOString())}</td><td>${esc(r.gateId)}</td></tr>`,
          )
          .join('') +
        `</tbody></table></section>`,
    )
    .join('\n');
  const time = (at: number) => esc(new Date(at).toISOString());
  const conflicts = m.conflicts
    .map(
      (s) =>
        `<section><h2>${esc(s.siteId)} — ${s.open} open conflicts</h2><table><thead><tr><th>#</th><th>Subject</th><th>First entry (gate, terminal, time)</th><th>Second entry (gate, terminal, time)</th><th>Detected</th></tr></thead><tbody>` +
        s.recent
          .map(
            (c) =>
              `<tr><td>${esc(c.id)}</td><td>${esc(c.subject)}</td>` +
              `<td>${esc(c.earlier.gateId)}, ${esc(c.earlier.terminalId)}, ${time(c.earlier.at)}</td>` +
              `<td>${esc(c.later.gateId)}, ${esc(c.later.terminalId)}, ${time(c.later.at)}</td><td>${time(c.detectedAt)}</td></tr>`,
          )
          .join('') +
        `</tbody></table></section>`,
    )
    .join('\n');
  const feeds =
    m.feeds.map((f) => `<li>${esc(f.feed)}: sequence ${f.head}, ${f.rows} rows</li>`).join('') +
    m.crl
      .map(
        (c) =>
          `<li>CRL ${esc(c.crlNumber)} of ${esc(c.issuerKeyId)}${c.partition ? ` (${esc(c.partition)})` : ''}: next update ${esc(c.nextUpdate)}${c.expired ? ' — <strong>EXPIRED: import the new CRL</strong>' : ''}</li>`,
      )
      .join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="10">
<title>jpki-kiosk hub</title>
<style>${StatusStyle}</style>
</head><body>
<h1>jpki-kiosk hub</h1>
<p>Hub time ${esc(new Date(m.hubTime).toISOString())}. Read-only; refreshes every 10 s.</p>
<ul>${feeds}</ul>
<h2>Terminals</h2>
<table><thead><tr><th>Terminal</th><th>Site</th><th>Gate</th><th>State</th><th>Config</th><th>Last seen</th><th>Data age</th><th>Queue</th><th>Version</th><th>Journal</th><th>Last error</th><th>Sync alarm</th></tr></thead>
<tbody>
${rows}
</tbody></table>
${shelters ? `<h2>Shelters</h2>\n${shelters}` : ''}
${conflicts ? `<h2>Double entries (open conflicts)</h2>\n${conflicts}` : ''}
</body></html>
`;
}
