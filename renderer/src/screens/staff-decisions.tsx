// Staff mode: the recent decisions, each with its details and what staff may do with it (annul, reverse,
// register a person, send to reception).
import { useEffect, useState } from 'preact/hooks';
import type { Decision } from '../../../base/decision.js';
import { AnnulReasons, type CommandResponse, type TerminalStatus } from '../../../main/api/contract.js';
import type { StaffLanguage } from '../../../base/languages.js';
import { siteFeatures } from '../../../base/site-kinds.js';
import { useApi } from '../api/provider.js';
import { annulReasonWords, formatTime, reasonHeadline, t, value } from '../i18n.js';
import { useErrorText } from './staff-error-text.js';

type Recent = CommandResponse<'recentDecisions'>;

const AUTH_PATH_WORDS = {
  pinless: 'authPathPinless',
  pin: 'authPathPin',
  'staff-visual': 'authPathStaffVisual',
} as const satisfies Record<NonNullable<Decision['authPath']>, string>;

function DecisionDetails(props: {
  decision: Decision;
  language: StaffLanguage;
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
        {decision.authPath ? (
          <>
            <dt>{t('staffAuthPath', language)}</dt>
            <dd data-testid="auth-path" data-auth-path={decision.authPath}>
              {t(AUTH_PATH_WORDS[decision.authPath], language)}
            </dd>
          </>
        ) : null}
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
            <dd data-testid="insurance-status">{value('insurance', ins.status, language)}</dd>
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

export function RecentDecisions(props: {
  status: TerminalStatus;
  language: StaffLanguage;
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
              {formatTime(decision.at, language)} · {value('outcome', decision.outcome, language)} ·{' '}
              {reasonHeadline(decision.publicView.headline, language)}
              {decision.credential === 'qr_ticket' ? ` · ${t('credentialTicket', language)}` : ''}
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
