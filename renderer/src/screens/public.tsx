// What the patron sees. Large type, one message and one next step per screen, no names on the public
// side, nothing typed by the patron (the PIN pad is touch buttons).
import { useState } from 'preact/hooks';
import type { Decision } from '../../../base/decision.js';
import type {
  Language,
  PinRequest,
  ServiceEvent,
  ServiceView,
  TerminalStatus,
} from '../../../main/api/contract.js';
import { useApi } from '../api/provider.js';
import { errorText, formatNumber, plainText, reasonHeadline, reasonHint, t } from '../i18n.js';
import { Phrase } from '../phrase.js';
import { secondsLeft, type Screen } from '../model.js';

interface Props {
  screen: Screen;
  status: TerminalStatus | null;
  language: Language;
  now: number;
  onEndSession(): void;
  onServiceDismissed(): void;
}

export function PublicScreen({ screen, status, language, now, onEndSession, onServiceDismissed }: Props) {
  switch (screen.kind) {
    case 'connecting':
      return (
        <section class="panel neutral" data-testid="screen-connecting">
          <h1>
            <Phrase text={t('connecting', language)} />
          </h1>
          <p class="hint">
            <Phrase text={t('connectingHint', language)} />
          </p>
        </section>
      );
    case 'out_of_service':
      return (
        <section class="panel stop" data-testid="screen-out-of-service">
          <h1>
            <Phrase text={t('outOfService', language)} />
          </h1>
          <p class="reason">
            <Phrase text={errorText(screen.error.code, language)} />
          </p>
          <p class="hint">
            <Phrase text={t('outOfServiceHint', language)} />
          </p>
          <p class="code" data-testid="error-code">
            <Phrase text={t('errorCode', language)} />: {screen.error.code}
          </p>
        </section>
      );
    case 'waiting':
      return <Waiting status={status} language={language} />;
    case 'reading':
      return (
        <section class="panel neutral" data-testid="screen-reading" aria-busy="true">
          <h1>
            <Phrase text={t('reading', language)} />
          </h1>
          <div
            class="progress"
            role="progressbar"
            aria-label={plainText(t('reading', language))}
            aria-valuemin={0}
            aria-valuemax={100}
            aria-valuenow={Math.round(screen.reading.progress * 100)}
          >
            <div class="progress-fill" style={{ width: `${Math.round(screen.reading.progress * 100)}%` }} />
          </div>
        </section>
      );
    case 'pin':
      return <PinPad request={screen.request} language={language} />;
    case 'result':
      return <Result decision={screen.decision} status={status} language={language} />;
    case 'session':
      if (screen.pin) return <PinPad request={screen.pin} language={language} />;
      return (
        <KioskSession
          sessionId={screen.sessionId}
          secondsLeft={secondsLeft(screen.endsAt, now)}
          language={language}
          services={status?.services ?? []}
          service={screen.service}
          onEnd={onEndSession}
          onDismiss={onServiceDismissed}
        />
      );
  }
}

function Counters({ status, language }: { status: TerminalStatus; language: Language }) {
  if (status.siteKind === 'shelter') {
    return (
      <p class="counters" data-testid="occupancy">
        <Phrase text={t('occupancy', language)} />:{' '}
        <strong>
          <Phrase text={t('personCount', language, { n: status.counters.inside ?? 0 })} />
        </strong>
      </p>
    );
  }
  if (status.siteKind !== 'stadium-gate') return null;
  return (
    <p class="counters" data-testid="counters">
      <Phrase text={t('admittedCount', language)} />{' '}
      <strong>{formatNumber(status.counters.admitted, language)}</strong> ·{' '}
      <Phrase text={t('refusedCount', language)} />{' '}
      <strong>{formatNumber(status.counters.refused, language)}</strong>
      {status.counters.inside === null ? null : (
        <>
          {' '}
          · <Phrase text={t('insideCount', language)} />{' '}
          <strong>{formatNumber(status.counters.inside, language)}</strong>
        </>
      )}
    </p>
  );
}

function Waiting({ status, language }: { status: TerminalStatus | null; language: Language }) {
  const title =
    status?.siteKind === 'convenience-kiosk'
      ? t('kioskTitle', language)
      : status?.siteKind === 'hospital-reception'
        ? t('receptionWelcome', language)
        : status?.siteKind === 'shelter'
          ? status.direction === 'exit'
            ? t('checkOut', language)
            : t('checkIn', language)
          : null;
  return (
    <section class="panel neutral" data-testid="screen-waiting">
      {title ? (
        <p class="eyebrow">
          <Phrase text={title} />
        </p>
      ) : null}
      <h1>
        <Phrase text={t('touchCard', language)} />
      </h1>
      <div class="card-target" aria-hidden="true">
        <div class="card-shape" />
      </div>
      <p class="hint">
        <Phrase text={t('touchHint', language)} />
      </p>
      {status ? <Counters status={status} language={language} /> : null}
    </section>
  );
}

function Result({
  decision,
  status,
  language,
}: {
  decision: Decision;
  status: TerminalStatus | null;
  language: Language;
}) {
  const headline = decision.publicView.headline;
  const tone =
    decision.outcome === 'admitted' && !decision.reasons.includes('unregistered_admitted')
      ? 'go'
      : decision.outcome === 'refused'
        ? 'stop'
        : 'attention';
  const site = decision.site;
  const pv = decision.publicView;
  return (
    <section
      class={`panel ${tone}`}
      data-testid="screen-result"
      data-decision={decision.id}
      data-outcome={decision.outcome}
      data-reason={headline}
      aria-live="assertive"
    >
      {site === 'stadium-gate' ? (
        <BigMark text={decision.outcome === 'admitted' ? t('ok', language) : t('ng', language)} />
      ) : null}
      {site === 'shelter' && decision.outcome !== 'refused' ? (
        <p class="eyebrow">
          <Phrase text={decision.direction === 'exit' ? t('checkOut', language) : t('checkIn', language)} />
        </p>
      ) : null}
      <h1 data-testid="result-headline">
        <Phrase
          text={
            site === 'hospital-reception' && decision.outcome === 'admitted'
              ? t('receptionDone', language)
              : reasonHeadline(headline, language)
          }
        />
      </h1>
      <p class="hint" data-testid="result-hint">
        <Phrase text={reasonHint(headline, language)} />
      </p>
      {pv.seat || pv.zone ? (
        <p class="seat" data-testid="seat">
          {pv.zone ? (
            <>
              <Phrase text={t('zone', language)} /> {pv.zone}
            </>
          ) : null}
          {pv.zone && pv.seat ? ' · ' : ''}
          {pv.seat ? (
            <>
              <Phrase text={t('seat', language)} /> {pv.seat}
            </>
          ) : null}
        </p>
      ) : null}
      {pv.householdSize ? (
        <p class="seat" data-testid="household">
          <Phrase text={t('household', language)} />:{' '}
          <Phrase text={t('personCount', language, { n: pv.householdSize })} />
        </p>
      ) : null}
      {status ? <Counters status={status} language={language} /> : null}
    </section>
  );
}

/** OK / NG as big as the words allow: a long "no entry" in some languages must stay on one line. */
function BigMark({ text }: { text: string }) {
  const long = plainText(text).length > 8;
  return (
    <p class={long ? 'bigmark long' : 'bigmark'} aria-hidden="true">
      <Phrase text={text} />
    </p>
  );
}

const digits = ['1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** A touch PIN pad: `length` digits, masked; used for the card PIN (4) and the staff PIN (4–12). */
export function DigitPad(props: {
  language: Language;
  minLength: number;
  maxLength: number;
  disabled?: boolean;
  onSubmit(value: string): void;
  onCancel?(): void;
  testId: string;
}) {
  const [value, setValue] = useState('');
  const { language } = props;
  const press = (d: string) => setValue((v) => (v.length < props.maxLength ? v + d : v));
  return (
    <div class="pinpad" data-testid={props.testId}>
      <div
        class="pin-dots"
        role="img"
        aria-label={`${value.length} / ${props.maxLength}`}
        data-testid="pin-dots"
      >
        {Array.from({ length: Math.max(props.minLength, value.length) }, (_, i) => (
          <span class={i < value.length ? 'dot full' : 'dot'} key={i} />
        ))}
      </div>
      <div class="keys">
        {[...digits, 'del', '0', 'ok'].map((key) =>
          key === 'del' ? (
            <button
              type="button"
              class="key alt"
              key={key}
              disabled={props.disabled}
              onClick={() => setValue((v) => v.slice(0, -1))}
            >
              <Phrase text={t('pinDelete', language)} />
            </button>
          ) : key === 'ok' ? (
            <button
              type="button"
              class="key ok"
              key={key}
              data-testid="pin-ok"
              disabled={props.disabled || value.length < props.minLength}
              onClick={() => {
                const v = value;
                setValue('');
                props.onSubmit(v);
              }}
            >
              <Phrase text={t('pinOk', language)} />
            </button>
          ) : (
            <button
              type="button"
              class="key"
              key={key}
              data-key={key}
              disabled={props.disabled}
              onClick={() => press(key)}
            >
              {key}
            </button>
          ),
        )}
      </div>
      {props.onCancel ? (
        <button type="button" class="wide alt" data-testid="pin-cancel" onClick={props.onCancel}>
          <Phrase text={t('pinCancel', language)} />
        </button>
      ) : null}
    </div>
  );
}

function PinPad({ request, language }: { request: PinRequest; language: Language }) {
  const api = useApi();
  const [busy, setBusy] = useState(false);
  const blocked = request.triesLeft === 0;
  return (
    <section
      class={`panel ${blocked ? 'stop' : 'neutral'}`}
      data-testid="screen-pin"
      data-tries={request.triesLeft}
    >
      <h1>
        <Phrase text={blocked ? t('pinBlocked', language) : t('pinTitle', language)} />
      </h1>
      {request.retry && !blocked ? (
        <p class="reason">
          <Phrase text={t('pinRetry', language)} />
        </p>
      ) : null}
      <p class="hint" data-testid="pin-tries">
        <Phrase
          text={
            blocked
              ? reasonHint('pin_blocked', language)
              : t('pinTriesLeft', language, { n: request.triesLeft })
          }
        />
      </p>
      {blocked ? (
        <button
          type="button"
          class="wide alt"
          data-testid="pin-cancel"
          onClick={() => void api.cancelPin({ requestId: request.requestId })}
        >
          <Phrase text={t('pinCancel', language)} />
        </button>
      ) : (
        <DigitPad
          key={request.requestId}
          testId="card-pinpad"
          language={language}
          minLength={4}
          maxLength={4}
          disabled={busy}
          onSubmit={(pin) => {
            setBusy(true);
            api
              .answerPin({ requestId: request.requestId, pin })
              .catch(() => undefined)
              .finally(() => setBusy(false));
          }}
          onCancel={() => void api.cancelPin({ requestId: request.requestId }).catch(() => undefined)}
        />
      )}
    </section>
  );
}

function KioskSession(props: {
  sessionId: string;
  secondsLeft: number;
  language: Language;
  services: ServiceView[];
  service: ServiceEvent | null;
  onEnd(): void;
  onDismiss(): void;
}) {
  const api = useApi();
  const { language, service } = props;
  const [asking, setAsking] = useState<string | null>(null);
  const [refused, setRefused] = useState<string | null>(null);
  const end = (
    <button
      type="button"
      class="wide end"
      data-testid="session-end"
      onClick={() => {
        // Ask the core first: the screen forgets the session (and this button) right after.
        void api.endSession({ sessionId: props.sessionId }).catch(() => undefined);
        props.onEnd();
      }}
    >
      <Phrase text={t('kioskEnd', language)} />
    </button>
  );
  const timer = (
    <p class="timer" data-testid="session-timer" role="timer">
      <Phrase text={t('kioskTimeLeft', language)} />:{' '}
      <Phrase text={t('secondsLeft', language, { n: props.secondsLeft })} />
    </p>
  );
  if (service?.state === 'working') {
    const step =
      service.step === 'printing'
        ? t('kioskWorkingPrinting', language)
        : service.step === 'provider'
          ? t('kioskWorkingProvider', language)
          : t('kioskWorkingCard', language);
    return (
      <section
        class="panel neutral session"
        data-testid="service-working"
        data-step={service.step}
        aria-busy="true"
      >
        {timer}
        <h1 aria-live="polite">{step}</h1>
        <p class="hint">{t('kioskDontLeave', language)}</p>
      </section>
    );
  }
  if (service?.state === 'done') {
    return (
      <section class="panel go session" data-testid="service-done" aria-live="assertive">
        {timer}
        <h1>{service.printed ? t('kioskTakeDocument', language) : reasonHeadline('ok', language)}</h1>
        {service.feeYen ? (
          <p class="hint" data-testid="service-fee">
            {t('kioskPayAtRegister', language, { n: service.feeYen })}
          </p>
        ) : null}
        <button type="button" class="wide" data-testid="service-back" onClick={props.onDismiss}>
          {t('kioskBackToMenu', language)}
        </button>
        {end}
      </section>
    );
  }
  if (service?.state === 'failed') {
    const code = service.error?.code ?? 'INTERNAL';
    const printing = code === 'PRINT_FAILED' || code === 'PRINTER_UNAVAILABLE';
    return (
      <section
        class="panel stop session"
        data-testid="service-failed"
        data-code={code}
        data-refusal={service.refusal ?? ''}
        aria-live="assertive"
      >
        {timer}
        <h1>{printing ? t('kioskPrintFailed', language) : t('kioskFailed', language)}</h1>
        <p class="reason">{service.paperOut ? t('kioskPaperOut', language) : errorText(code, language)}</p>
        <p class="hint" data-testid="service-hint">
          {service.staffNote
            ? t('kioskStaffNote', language)
            : service.refusal
              ? t('kioskRefusedHint', language)
              : t('kioskTryLater', language)}
        </p>
        <button type="button" class="wide" data-testid="service-back" onClick={props.onDismiss}>
          {t('kioskBackToMenu', language)}
        </button>
        {end}
      </section>
    );
  }
  return (
    <section class="panel neutral session" data-testid="screen-session">
      {timer}
      <h1>
        <Phrase text={t('kioskMenu', language)} />
      </h1>
      <div class="menu">
        {props.services.length === 0 ? <p class="hint">{t('kioskNoServices', language)}</p> : null}
        {props.services.map((s) => (
          <button
            type="button"
            class="wide"
            key={s.id}
            data-service={s.id}
            data-available={String(s.available)}
            disabled={!s.available || asking !== null}
            onClick={() => {
              setAsking(s.id);
              setRefused(null);
              api
                .requestService({ sessionId: props.sessionId, serviceId: s.id })
                .catch((error: { code?: string }) => setRefused(error.code ?? 'INTERNAL'))
                .finally(() => setAsking(null));
            }}
          >
            <span class="service-name">
              <Phrase text={s.names[language] ?? (language === 'ja-easy' ? s.names.ja : s.names.en)} />
            </span>
            <span class="service-fee">
              {s.feeYen > 0 ? t('kioskFee', language, { n: s.feeYen }) : t('kioskFree', language)}
            </span>
            {s.available ? null : (
              <span class="service-unavailable" data-testid={`unavailable-${s.id}`}>
                {s.unavailableReason === 'printer'
                  ? t('kioskUnavailablePrinter', language)
                  : t('kioskUnavailableOffline', language)}
              </span>
            )}
          </button>
        ))}
      </div>
      {refused ? (
        <p class="reason" role="alert" data-testid="service-request-error">
          {errorText(refused as Parameters<typeof errorText>[0], language)}
        </p>
      ) : (
        <p class="hint">
          <Phrase text={t('kioskDontLeave', language)} />
        </p>
      )}
      {end}
    </section>
  );
}
