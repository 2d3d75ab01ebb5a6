// Staff mode: locked until the staff PIN (ui.staffPin) unlocks it in the core. Every
// staff command is also refused by the core while locked (STAFF_LOCKED), so this panel is a convenience,
// not the lock itself.
import { useEffect, useState } from 'preact/hooks';
import type { Roster, TerminalStatus } from '../../../main/api/contract.js';
import type { StaffLanguage } from '../../../base/languages.js';
import { SiteKinds, siteFeatures } from '../../../base/site-kinds.js';
import { useApi } from '../api/provider.js';
import { siteKindWords, t, value } from '../i18n.js';
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
        <RecentDecisions status={status} language={language} onMessage={setMessage} />
        {siteFeatures[status.siteKind].bindsCompanions && status.sync !== null ? (
          <CompanionDesk language={language} onMessage={setMessage} />
        ) : null}
        {siteFeatures[status.siteKind].keepsRoster ? (
          <RosterView language={language} onMessage={setMessage} />
        ) : null}
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
