// Staff mode: locked until the staff PIN (ui.staffPin) or a staff card unlocks it in the core. Every
// staff command is also refused by the core while locked (STAFF_LOCKED), so this panel is a convenience,
// not the lock itself.
import { useEffect, useState } from 'preact/hooks';
import type { Decision } from '../../../base/decision.js';
import {
  AnnulReasons,
  type CommandResponse,
  type Language,
  type Roster,
  type TerminalStatus,
} from '../../../main/api/contract.js';
import { SiteKinds, siteFeatures } from '../../../base/site-kinds.js';
import { KioskError } from '../../../base/errors.js';
import { useApi } from '../api/provider.js';
import { annulReasonWords, errorText, reasonHeadline, siteKindWords, t } from '../i18n.js';
import { DigitPad } from './public.js';

type Recent = CommandResponse<'recentDecisions'>;

function useErrorText(language: Language) {
  return (error: unknown) =>
    error instanceof KioskError ? `${errorText(error.code, language)} (${error.code})` : String(error);
}

export function StaffPanel(props: { status: TerminalStatus; language: Language; onClose(): void }) {
  const api = useApi();
  const { status, language } = props;
  const describe = useErrorText(language);
  const [message, setMessage] = useState<string | null>(null);
  const [waitingCard, setWaitingCard] = useState(false);

  const close = () => {
    void api.staffLock(undefined).catch(() => undefined);
    props.onClose();
  };

  // The core's unlock expires on its own; past `until` the panel relocks even before the next status.
  const unlocked =
    status.staff.unlocked && (status.staff.until === null || Date.parse(status.staff.until) > Date.now());
  if (!unlocked) {
    return (
      <div
        class="overlay"
        role="dialog"
        aria-modal="true"
        aria-labelledby="staff-title"
        data-testid="staff-locked"
      >
        <div class="sheet narrow">
          <h2 id="staff-title">{t('staff', language)}</h2>
          <p>{t('staffLocked', language)}</p>
          {message ? (
            <p class="error" role="alert" data-testid="staff-error">
              {message}
            </p>
          ) : null}
          <DigitPad
            testId="staff-pinpad"
            language={language}
            minLength={4}
            maxLength={12}
            onSubmit={(pin) => {
              setMessage(null);
              api.staffUnlock({ method: 'pin', pin }).catch((e: unknown) => setMessage(describe(e)));
            }}
          />
          <button
            type="button"
            class="wide alt"
            disabled={waitingCard}
            onClick={() => {
              setWaitingCard(true);
              setMessage(t('staffWaitCard', language));
              api
                .staffUnlock({ method: 'card' })
                .then(() => setMessage(null))
                .catch((e: unknown) => setMessage(describe(e)))
                .finally(() => setWaitingCard(false));
            }}
          >
            {t('staffUseCard', language)}
          </button>
          <button type="button" class="wide" data-testid="staff-close" onClick={props.onClose}>
            {t('staffClose', language)}
          </button>
        </div>
      </div>
    );
  }
  return (
    <div
      class="overlay"
      role="dialog"
      aria-modal="true"
      aria-labelledby="staff-title"
      data-testid="staff-panel"
    >
      <div class="sheet">
        <div class="sheet-head">
          <h2 id="staff-title">{t('staff', language)}</h2>
          <button type="button" data-testid="staff-lock" onClick={close}>
            {t('staffLock', language)}
          </button>
        </div>
        {message ? (
          <p class="error" role="alert" data-testid="staff-error">
            {message}
          </p>
        ) : null}
        <StatusTable status={status} language={language} />
        <Actions status={status} language={language} onMessage={setMessage} />
        <RecentDecisions status={status} language={language} onMessage={setMessage} />
        {siteFeatures[status.siteKind].keepsRoster ? (
          <RosterView language={language} onMessage={setMessage} />
        ) : null}
      </div>
    </div>
  );
}

function ago(iso: string | null, language: Language): string {
  if (!iso) return t('never', language);
  const minutes = Math.round((Date.now() - Date.parse(iso)) / 60_000);
  if (!Number.isFinite(minutes)) return iso;
  if (minutes < 60) return language === 'ja' ? `${minutes}分前` : `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  return language === 'ja' ? `${hours}時間前` : `${hours} h ago`;
}

function StatusTable({ status, language }: { status: TerminalStatus; language: Language }) {
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

function Actions(props: { status: TerminalStatus; language: Language; onMessage(m: string | null): void }) {
  const api = useApi();
  const { status, language } = props;
  const describe = useErrorText(language);
  const run = (p: Promise<unknown>, done: string) =>
    p.then(() => props.onMessage(done)).catch((e: unknown) => props.onMessage(describe(e)));
  const volume = Math.round(status.ui.volume * 10) / 10;
  return (
    <section aria-labelledby="staff-actions">
      <h3 id="staff-actions">{t('staffSite', language)}</h3>
      <div class="row wrap">
        {SiteKinds.map((kind) => (
          <button
            type="button"
            key={kind}
            data-site={kind}
            aria-pressed={status.siteKind === kind}
            onClick={() => run(api.selectSite({ siteKind: kind }), t('done', language))}
          >
            {siteKindWords[kind][language]}
          </button>
        ))}
      </div>
      <div class="row wrap">
        <button
          type="button"
          data-testid="staff-sync"
          onClick={() => run(api.syncNow(undefined), t('done', language))}
        >
          {t('staffSync', language)}
        </button>
        <span class="label">
          {t('staffVolume', language)} {Math.round(volume * 100)}%
        </span>
        <button
          type="button"
          aria-label={`${t('staffVolume', language)} −`}
          onClick={() => run(api.setVolume({ volume: Math.max(0, volume - 0.1) }), t('done', language))}
        >
          −
        </button>
        <button
          type="button"
          aria-label={`${t('staffVolume', language)} +`}
          onClick={() => run(api.setVolume({ volume: Math.min(1, volume + 0.1) }), t('done', language))}
        >
          +
        </button>
      </div>
    </section>
  );
}

function DecisionDetails(props: {
  decision: Decision;
  language: Language;
  onMessage(m: string | null): void;
}) {
  const api = useApi();
  const { decision, language } = props;
  const describe = useErrorText(language);
  const sv = decision.staffView;
  const ins = sv.insurance;
  // Admitted at a site that registers people the list does not know, and not a listed resident.
  const unlisted =
    siteFeatures[decision.site].registersUnlisted && decision.outcome === 'admitted' && !sv.residentId;
  const [name, setName] = useState('');
  const [household, setHousehold] = useState('');
  return (
    <div class="details" data-testid="decision-details">
      <h4>{t('staffDetails', language)}</h4>
      <dl>
        {sv.displayName ? (
          <>
            <dt>{t('staffName', language)}</dt>
            <dd>{sv.displayName}</dd>
          </>
        ) : null}
        {sv.ticket ? (
          <>
            <dt>{t('seat', language)}</dt>
            <dd>
              {sv.ticket.eventId} {sv.ticket.seat ?? ''} {(sv.ticket.zones ?? []).join(', ')}
            </dd>
          </>
        ) : null}
        {ins ? (
          <>
            <dt>{t('insuranceStatus', language)}</dt>
            <dd data-testid="insurance-status">{ins.status}</dd>
            <dt>{t('insurer', language)}</dt>
            <dd>{ins.insurerNumber ?? '—'}</dd>
            <dt>{t('symbolNumber', language)}</dt>
            <dd>{[ins.symbol, ins.number, ins.branch].filter(Boolean).join(' / ') || '—'}</dd>
            <dt>{t('copay', language)}</dt>
            <dd>{ins.copayRatio === undefined ? '—' : `${Math.round(ins.copayRatio * 100)}%`}</dd>
            <dt>{t('validity', language)}</dt>
            <dd>
              {ins.validFrom ?? '…'} – {ins.validTo ?? '…'}
            </dd>
          </>
        ) : null}
        {sv.householdId ? (
          <>
            <dt>{t('staffHouseholdId', language)}</dt>
            <dd>{sv.householdId}</dd>
          </>
        ) : null}
      </dl>
      {siteFeatures[decision.site].sendsToReception && ins ? (
        <button
          type="button"
          data-testid="send-reception"
          onClick={() =>
            api
              .sendToReception({ decisionId: decision.id })
              .then((r) => props.onMessage(`${t('staffSent', language)}: ${r.reference}`))
              .catch((e: unknown) => props.onMessage(describe(e)))
          }
        >
          {t('staffReception', language)}
        </button>
      ) : null}
      {unlisted ? (
        <form
          class="register"
          data-testid="register-form"
          onSubmit={(e) => {
            e.preventDefault();
            api
              .registerPerson({
                decisionId: decision.id,
                displayName: name.trim(),
                ...(household.trim() ? { householdId: household.trim() } : {}),
              })
              .then(() => props.onMessage(t('done', language)))
              .catch((err: unknown) => props.onMessage(describe(err)));
          }}
        >
          <label>
            {t('staffName', language)}
            <input
              value={name}
              required
              maxLength={100}
              onInput={(e) => setName((e.target as HTMLInputElement).value)}
            />
          </label>
          <label>
            {t('staffHouseholdId', language)}
            <input
              value={household}
              maxLength={64}
              onInput={(e) => setHousehold((e.target as HTMLInputElement).value)}
            />
          </label>
          <button type="submit">{t('staffRegister', language)}</button>
        </form>
      ) : null}
    </div>
  );
}

function RecentDecisions(props: {
  status: TerminalStatus;
  language: Language;
  onMessage(m: string | null): void;
}) {
  const api = useApi();
  const { language } = props;
  const describe = useErrorText(language);
  const [recent, setRecent] = useState<Recent>([]);
  const [selected, setSelected] = useState<string | null>(null);
  const [reason, setReason] = useState<(typeof AnnulReasons)[number]>('turnstile_not_turned');
  const refresh = () =>
    api
      .recentDecisions({ limit: 20 })
      .then((list) => {
        setRecent(list);
        setSelected((s) => s ?? list[0]?.decision.id ?? null);
      })
      .catch((e: unknown) => props.onMessage(describe(e)));
  // Refresh whenever the counters move (a new decision) or staff change something.
  useEffect(() => {
    void refresh();
  }, [props.status.counters.admitted, props.status.counters.refused, props.status.queue.journalPending]);
  const current = recent.find((r) => r.decision.id === selected) ?? null;
  return (
    <section aria-labelledby="staff-recent">
      <h3 id="staff-recent">{t('staffRecent', language)}</h3>
      {recent.length === 0 ? <p>{t('staffNoDecision', language)}</p> : null}
      <ul class="recent" data-testid="recent-list">
        {recent.map(({ decision, annulled }) => (
          <li
            key={decision.id}
            class={decision.id === selected ? 'selected' : ''}
            data-outcome={decision.outcome}
          >
            <button type="button" class="link" onClick={() => setSelected(decision.id)}>
              {new Date(decision.at).toLocaleTimeString(language === 'ja' ? 'ja-JP' : 'en-GB')} ·{' '}
              {decision.outcome} · {reasonHeadline(decision.publicView.headline, language)}
              {decision.staffView.displayName ? ` · ${decision.staffView.displayName}` : ''}
              {annulled ? ` · ${t('staffAnnulled', language)}` : ''}
            </button>
            {decision.outcome === 'admitted' ? (
              annulled ? (
                <button
                  type="button"
                  onClick={() =>
                    api
                      .reverseAnnulment({ decisionId: decision.id })
                      .then(refresh)
                      .catch((e: unknown) => props.onMessage(describe(e)))
                  }
                >
                  {t('staffReverse', language)}
                </button>
              ) : (
                <button
                  type="button"
                  data-testid="annul"
                  onClick={() =>
                    api
                      .annulEntry({ decisionId: decision.id, reason })
                      .then(refresh)
                      .catch((e: unknown) => props.onMessage(describe(e)))
                  }
                >
                  {t('staffAnnul', language)}
                </button>
              )
            ) : null}
          </li>
        ))}
      </ul>
      {recent.length > 0 ? (
        <label class="row">
          {t('staffAnnul', language)}:
          <select
            value={reason}
            onChange={(e) => setReason((e.target as HTMLSelectElement).value as typeof reason)}
          >
            {AnnulReasons.map((r) => (
              <option key={r} value={r}>
                {annulReasonWords[r][language]}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      {current ? (
        <DecisionDetails decision={current.decision} language={language} onMessage={props.onMessage} />
      ) : null}
    </section>
  );
}

function RosterView(props: { language: Language; onMessage(m: string | null): void }) {
  const api = useApi();
  const { language } = props;
  const describe = useErrorText(language);
  const [roster, setRoster] = useState<Roster | null>(null);
  useEffect(() => {
    api
      .getRoster(undefined)
      .then(setRoster)
      .catch((e: unknown) => props.onMessage(describe(e)));
  }, [api]);
  if (!roster) return null;
  return (
    <section aria-labelledby="staff-roster">
      <h3 id="staff-roster">
        {t('staffRoster', language)} — {t('occupancy', language)} {roster.inside}
      </h3>
      <table class="status-table" data-testid="roster">
        <tbody>
          {roster.entries.map((e) => (
            <tr key={e.personRef}>
              <th scope="row">{e.displayName ?? e.personRef}</th>
              <td>
                {e.state} · {e.householdId ?? '—'} · {e.registered ? '' : 'unregistered'}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
