// Staff mode: locked until the staff PIN (ui.staffPin) unlocks it in the core. Every
// staff command is also refused by the core while locked (STAFF_LOCKED), so this panel is a convenience,
// not the lock itself.
import { useEffect, useState } from 'preact/hooks';
import type { Roster, TerminalStatus } from '../../../main/api/contract.js';
import type { StaffLanguage } from '../../../base/languages.js';
import { SiteKinds, siteFeatures } from '../../../base/site-kinds.js';
import { useApi } from '../api/provider.js';
import { reasonHeadline, siteKindWords, t, value } from '../i18n.js';
import { DigitPad } from './public.js';
import { StatusTable } from './staff-status.js';
import { useErrorText } from './staff-error-text.js';
import { RecentDecisions } from './staff-decisions.js';

export function StaffPanel(props: { status: TerminalStatus; language: StaffLanguage; onClose(): void }) {
  const api = useApi();
  const { status, language } = props;
  const describe = useErrorText(language);
  const [message, setMessage] = useState<string | null>(null);

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
        {siteFeatures[status.siteKind].tracksPresence ? (
          <TicketLookup language={language} onMessage={setMessage} />
        ) : null}
        <RecentDecisions status={status} language={language} onMessage={setMessage} />
        {siteFeatures[status.siteKind].bindsCompanions && status.sync !== null ? (
          <CompanionDesk language={language} onMessage={setMessage} />
        ) : null}
        {siteFeatures[status.siteKind].keepsRoster ? (
          <RosterView language={language} onMessage={setMessage} />
        ) : null}
        <EnrolForm language={language} />
      </div>
    </div>
  );
}

function Actions(props: {
  status: TerminalStatus;
  language: StaffLanguage;
  onMessage(m: string | null): void;
}) {
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

function RosterView(props: { language: StaffLanguage; onMessage(m: string | null): void }) {
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
  const exportCsv = () =>
    api
      .rosterExport(undefined)
      .then(({ file, rows }) => props.onMessage(t('staffRosterExported', language, { n: rows, file })))
      .catch((e: unknown) => props.onMessage(describe(e)));
  return (
    <section aria-labelledby="staff-roster">
      <h3 id="staff-roster">
        {t('staffRoster', language)} — {t('occupancy', language)} {roster.inside}
      </h3>
      <div class="row wrap">
        <button type="button" data-testid="roster-export" onClick={exportCsv}>
          {t('staffRosterExport', language)}
        </button>
      </div>
      <table class="status-table" data-testid="roster">
        <tbody>
          {roster.entries.map((e) => (
            <tr key={e.personRef}>
              <th scope="row">{e.displayName ?? e.personRef}</th>
              <td>
                {value('roster', e.state, language)} · {e.householdId ?? '—'}
                {e.registered ? '' : ` · ${t('unregistered', language)}`}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/**
 * Staff mode "enrol": the hub's address and the one-time code from the hub operator. The core enrols
 * with the HSM's terminal key; a refusal shows its words and code here, beside the form.
 */
function EnrolForm(props: { language: StaffLanguage }) {
  const api = useApi();
  const { language } = props;
  const describe = useErrorText(language);
  const [hubUrl, setHubUrl] = useState('');
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<{ ok: boolean; text: string } | null>(null);
  const submit = (event: Event) => {
    event.preventDefault();
    if (busy || code.trim() === '') return;
    setBusy(true);
    setResult(null);
    const url = hubUrl.trim();
    api
      .enrol({ code: code.trim(), ...(url ? { hubUrl: url } : {}) })
      .then((r) => {
        const vars = { id: r.terminalId, site: r.siteId, gate: r.gateId };
        setResult({
          ok: true,
          text: t(r.syncing ? 'staffEnrolled' : 'staffEnrolledRestart', language, vars),
        });
        setCode('');
      })
      .catch((e: unknown) => setResult({ ok: false, text: describe(e) }))
      .finally(() => setBusy(false));
  };
  return (
    <section aria-labelledby="staff-enrol">
      <h3 id="staff-enrol">{t('staffEnrol', language)}</h3>
      <form class="row wrap" data-testid="enrol-form" onSubmit={submit}>
        <label>
          {t('staffEnrolHub', language)}
          <input
            type="url"
            data-testid="enrol-hub"
            value={hubUrl}
            placeholder="https://"
            aria-describedby="enrol-hub-hint"
            onInput={(e) => setHubUrl((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          {t('staffEnrolCode', language)}
          <input
            type="text"
            data-testid="enrol-code"
            value={code}
            autocomplete="off"
            autocapitalize="characters"
            spellcheck={false}
            onInput={(e) => setCode((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" data-testid="enrol-submit" disabled={busy}>
          {t('staffEnrolSubmit', language)}
        </button>
      </form>
      <p id="enrol-hub-hint" class="label">
        {t('staffEnrolHubHint', language)}
      </p>
      {result ? (
        <p
          class={result.ok ? undefined : 'error'}
          role={result.ok ? 'status' : 'alert'}
          data-testid="enrol-result"
          data-ok={String(result.ok)}
        >
          {result.text}
        </p>
      ) : null}
    </section>
  );
}

/**
 * A forgotten card: staff type the holder's ticket number; the core decides with the card's rules and
 * journals a staff decision. The result shows here (its headline) and on the public screen as any decision.
 */
function TicketLookup(props: { language: StaffLanguage; onMessage(m: string | null): void }) {
  const api = useApi();
  const { language } = props;
  const describe = useErrorText(language);
  const [number, setNumber] = useState('');
  const submit = (e: Event) => {
    e.preventDefault();
    props.onMessage(null);
    api
      .lookupTicket({ ticketNumber: number })
      .then((d) => {
        props.onMessage(`${number.trim()}: ${reasonHeadline(d.publicView.headline, language)}`);
        setNumber('');
      })
      .catch((error: unknown) => props.onMessage(describe(error)));
  };
  return (
    <section aria-labelledby="staff-ticket-lookup">
      <h3 id="staff-ticket-lookup">{t('staffTicketLookup', language)}</h3>
      <form class="row wrap" onSubmit={submit} data-testid="staff-ticket-lookup">
        <label>
          {t('staffTicketNumber', language)}{' '}
          <input
            type="text"
            data-testid="staff-ticket-number"
            value={number}
            maxLength={32}
            autocomplete="off"
            onInput={(e) => setNumber((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" data-testid="staff-ticket-check" disabled={number.trim().length < 4}>
          {t('staffTicketCheck', language)}
        </button>
      </form>
    </section>
  );
}

/** A registration desk: the companion's card in the reader takes the seat of the code staff type or scan. */
function CompanionDesk(props: { language: StaffLanguage; onMessage(m: string | null): void }) {
  const api = useApi();
  const { language } = props;
  const describe = useErrorText(language);
  const [code, setCode] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = (e: Event) => {
    e.preventDefault();
    if (busy || code.trim() === '') return;
    setBusy(true);
    props.onMessage(null);
    api
      .bindCompanion({ code: code.trim() })
      .then((r) => {
        setCode('');
        props.onMessage(t('staffCompanionDone', language, { seat: r.seat }));
      })
      .catch((err: unknown) => props.onMessage(describe(err)))
      .finally(() => setBusy(false));
  };
  return (
    <section aria-labelledby="staff-companion">
      <h3 id="staff-companion">{t('staffCompanion', language)}</h3>
      <p>{t('staffCompanionHint', language)}</p>
      <form class="row wrap" onSubmit={submit}>
        <label>
          {t('staffCompanionCode', language)}{' '}
          <input
            data-testid="companion-code"
            value={code}
            maxLength={64}
            autocomplete="off"
            spellcheck={false}
            onInput={(e) => setCode((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" data-testid="companion-bind" disabled={busy || code.trim() === ''}>
          {t('staffCompanionBind', language)}
        </button>
      </form>
    </section>
  );
}
