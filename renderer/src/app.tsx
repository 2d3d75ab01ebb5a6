// The kiosk: the public screen (driven by the model), the DEGRADED banner, the always-visible language
// choice, the staff panel behind its credential and, on demo terminals, the demo card wallet.
import { useEffect, useReducer, useRef, useState } from 'preact/hooks';
import { useApi } from './api/provider.js';
import { initialModel, isDegraded, reduce, screenOf, toneFor } from './model.js';
import { playTone } from './sound.js';
import { plainText, t } from './i18n.js';
import { PublicScreen } from './screens/public.js';
import { StaffPanel } from './screens/staff.js';
import { DemoWallet } from './screens/demo.js';
import { Languages, languageInfo, staffLanguageFor } from '../../base/languages.js';
import { Phrase } from './phrase.js';

export function App() {
  const api = useApi();
  const [state, dispatch] = useReducer(reduce, initialModel);
  const [staffOpen, setStaffOpen] = useState(false);
  const [walletOpen, setWalletOpen] = useState(false);
  const [now, setNow] = useState(Date.now());
  const lastSound = useRef<string | null>(null);

  useEffect(() => api.subscribe((event) => dispatch({ type: 'event', event, now: Date.now() })), [api]);
  useEffect(
    () =>
      api.onConnection((connected, error) => {
        dispatch(connected ? { type: 'connected' } : { type: 'disconnected', ...(error ? { error } : {}) });
        if (connected) {
          api
            .getStatus(undefined)
            .then((payload) =>
              dispatch({ type: 'event', event: { name: 'status', payload }, now: Date.now() }),
            )
            .catch(() => dispatch({ type: 'disconnected' }));
        }
      }),
    [api],
  );
  useEffect(() => {
    const timer = setInterval(() => {
      const at = Date.now();
      setNow(at);
      dispatch({ type: 'tick', now: at });
    }, 250);
    return () => clearInterval(timer);
  }, []);

  const screen = screenOf(state);
  const language = state.language;
  const volume = state.status?.ui.volume ?? 0.8;

  // One sound per decision and per PIN request; none for repeated renders of the same screen.
  useEffect(() => {
    const key =
      screen.kind === 'result'
        ? `d:${screen.decision.id}`
        : screen.kind === 'pin'
          ? `p:${screen.request.requestId}`
          : screen.kind === 'out_of_service'
            ? `o:${screen.error.code}`
            : null;
    if (!key || key === lastSound.current) return;
    lastSound.current = key;
    playTone(screen.kind === 'result' ? toneFor(screen.decision) : 'attention', volume);
  }, [screen, volume]);

  useEffect(() => {
    document.documentElement.lang = languageInfo[language].locale;
    document.documentElement.dataset.language = language;
    document.documentElement.dataset.screen = screen.kind;
  }, [language, screen.kind]);

  const status = state.status;
  const staffLanguage = staffLanguageFor(language);

  return (
    <div class={`kiosk site-${status?.siteKind ?? 'none'}`}>
      <header class="topbar">
        <span class="site-label" data-testid="site-label">
          {status ? `${status.siteId} · ${plainText(t('gate', language))} ${status.gateId}` : ''}
        </span>
      </header>
      {/* Large and always there: each language named in itself, so a visitor finds their own. */}
      <nav class="languages" aria-label={plainText(t('languageChoice', language))} data-testid="languages">
        {Languages.map((l) => (
          <button
            type="button"
            key={l}
            class="lang"
            lang={languageInfo[l].locale}
            data-language={l}
            aria-pressed={l === language}
            onClick={() => dispatch({ type: 'language', language: l })}
          >
            {languageInfo[l].name}
          </button>
        ))}
      </nav>
      {isDegraded(state) && screen.kind !== 'connecting' ? (
        <div class="banner degraded" role="status" data-testid="degraded-banner">
          <Phrase text={t('degraded', language)} />
        </div>
      ) : null}
      <main class="stage">
        <PublicScreen
          screen={screen}
          status={status}
          language={language}
          now={now}
          onEndSession={() => dispatch({ type: 'session_end_requested' })}
          onServiceDismissed={() => dispatch({ type: 'service_dismissed' })}
        />
      </main>
      <footer class="bottombar">
        {status?.demo ? (
          <button
            type="button"
            class="quiet"
            data-testid="open-wallet"
            onClick={() => setWalletOpen(!walletOpen)}
          >
            {t('demoWallet', staffLanguage)}
          </button>
        ) : (
          <span />
        )}
        {status ? (
          <button type="button" class="quiet" data-testid="open-staff" onClick={() => setStaffOpen(true)}>
            <Phrase text={t('staff', language)} />
          </button>
        ) : null}
      </footer>
      {/* The wallet drawer steps aside while the patron uses the PIN pad or a kiosk session. */}
      {walletOpen && status?.demo && screen.kind !== 'pin' && screen.kind !== 'session' ? (
        <DemoWallet language={staffLanguage} onClose={() => setWalletOpen(false)} />
      ) : null}
      {staffOpen && status ? (
        <StaffPanel status={status} language={staffLanguage} onClose={() => setStaffOpen(false)} />
      ) : null}
    </div>
  );
}
