// Staff mode: the terminal's parts and data at a glance (reader, HSM, sync and its alarm, data age, gate).
import { type Language, type TerminalStatus } from '../../../main/api/contract.js';
import { errorText, t } from '../i18n.js';

function ago(iso: string | null, language: Language): string {
  if (!iso) return t('never', language);
  const minutes = Math.round((Date.now() - Date.parse(iso)) / 60_000);
  if (!Number.isFinite(minutes)) return iso;
  if (minutes < 60) return language === 'ja' ? `${minutes}分前` : `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  return language === 'ja' ? `${hours}時間前` : `${hours} h ago`;
}

export function StatusTable({ status, language }: { status: TerminalStatus; language: Language }) {
  const err = (e: { code: string } | null) => (e ? ` — ${e.code}` : '');
  const rows: [string, string, string][] = [
    [
      'reader',
      t('reader', language),
      `${status.reader.state}${status.reader.name ? ` (${status.reader.name})` : ''}${err(status.reader.error)}`,
    ],
    ['hsm', t('hsm', language), `${status.hsm.state}${err(status.hsm.error)}`],
    [
      'sync',
      t('sync', language),
      `${status.sync.state} · ${ago(status.sync.lastPullAt, language)}${err(status.sync.error)}`,
    ],
    // Sync v2: an answer refused as an attack stays visible here (and at the hub) until the terminal restarts.
    ...(status.sync.alarm
      ? [
          [
            'sync-alarm',
            t('syncAlarm', language),
            `⚠ ${status.sync.alarm.code} · ${ago(status.sync.alarm.at, language)} — ${errorText(status.sync.alarm.code, language)}`,
          ] as [string, string, string],
        ]
      : []),
    [
      'data',
      t('dataAge', language),
      `${ago(status.data.revocationAt, language)}${status.data.stale ? ` · STALE (${status.data.staleReasons.join(', ')})` : ''} (max ${status.data.maxAgeHours} h, ${status.data.stalePolicy})${status.data.crlNextUpdate ? ` · CRL next update ${status.data.crlNextUpdate} + ${status.data.crlGraceHours} h` : ''}`,
    ],
    ['queue', t('queue', language), String(status.queue.journalPending)],
    ['gate', t('gateDevice', language), status.gate],
    ['signal', t('signal', language), status.signal],
    [
      'site',
      t('staffSite', language),
      `${status.profile} · ${status.siteKind} · ${status.gateId} · ${status.direction} · ${status.authMode}`,
    ],
  ];
  return (
    <section aria-labelledby="staff-status">
      <h3 id="staff-status">{t('staffStatus', language)}</h3>
      <table class="status-table" data-testid="staff-status">
        <tbody>
          {rows.map(([key, label, value]) => (
            <tr key={key} data-row={key}>
              <th scope="row">{label}</th>
              <td>{value}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
