// Staff mode: the terminal's parts and data at a glance (reader, HSM, sync and its alarm, data age, gate).
// Every value is shown in words of the staff language, with the error code kept for a support call.
import { type TerminalStatus } from '../../../main/api/contract.js';
import type { StaffLanguage } from '../../../base/languages.js';
import { ago, errorText, formatDateTime, t, value } from '../i18n.js';

export function StatusTable({ status, language }: { status: TerminalStatus; language: StaffLanguage }) {
  const now = Date.now();
  const err = (e: { code: string } | null) => (e ? ` — ${e.code}` : '');
  const data = status.data;
  const staleText = data.stale
    ? ` · ${t('stale', language)} (${data.staleReasons.map((r) => value('staleReason', r, language)).join(', ')})`
    : '';
  const crl = data.crlNextUpdate
    ? ` · ${t('crlNextUpdate', language, { at: formatDateTime(data.crlNextUpdate, language), n: data.crlGraceHours })}`
    : '';
  // Which hub answered last, e.g. the venue hub (1/2) or, failed over, the central one (2/2).
  const hub = status.sync.hub
    ? ` · ${status.sync.hub.origin} (${status.sync.hub.index + 1}/${status.sync.hub.of})`
    : '';
  const rows: [string, string, string][] = [
    [
      'reader',
      t('reader', language),
      `${value('reader', status.reader.state, language)}${status.reader.name ? ` (${status.reader.name})` : ''}${err(status.reader.error)}`,
    ],
    ['hsm', t('hsm', language), `${value('hsm', status.hsm.state, language)}${err(status.hsm.error)}`],
    [
      'sync',
      t('sync', language),
      `${value('sync', status.sync.state, language)} · ${ago(status.sync.lastPullAt, now, language)}${hub}${err(status.sync.error)}`,
    ],
    // Sync v2: an answer refused as an attack stays visible here (and at the hub) until the terminal restarts.
    ...(status.sync.alarm
      ? [
          [
            'sync-alarm',
            t('syncAlarm', language),
            `⚠ ${status.sync.alarm.code} · ${ago(status.sync.alarm.at, now, language)} — ${errorText(status.sync.alarm.code, language)}`,
          ] as [string, string, string],
        ]
      : []),
    [
      'data',
      t('dataAge', language),
      `${ago(data.revocationAt, now, language)}${staleText} (${t('maxAge', language, { n: data.maxAgeHours })}, ${value('stalePolicy', data.stalePolicy, language)})${crl}`,
    ],
    ['queue', t('queue', language), String(status.queue.journalPending)],
    ['gate', t('gateDevice', language), value('gate', status.gate, language)],
    ['signal', t('signal', language), value('signal', status.signal, language)],
    [
      'site',
      t('staffSite', language),
      `${value('profile', status.profile, language)} · ${value('profile', status.siteKind, language)} · ${status.gateId} · ${value('direction', status.direction, language)} · ${value('authMode', status.authMode, language)}`,
    ],
  ];
  return (
    <section aria-labelledby="staff-status">
      <h3 id="staff-status">{t('staffStatus', language)}</h3>
      <table class="status-table" data-testid="staff-status">
        <tbody>
          {rows.map(([key, label, text]) => (
            <tr key={key} data-row={key}>
              <th scope="row">{label}</th>
              <td>{text}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
