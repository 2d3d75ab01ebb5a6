// The kiosk: the public screen (driven by the model), the DEGRADED banner, the language switch, the
// staff panel behind its credential and, on demo terminals, the demo card wallet.
import { useEffect, useReducer, useRef, useState } from 'preact/hooks';
import { useApi } from './api/provider.js';
import { initialModel, isDegraded, reduce, screenOf, toneFor } from './model.js';
import { playTone } from './sound.js';
import { t } from './i18n.js';
import { PublicScreen } from './screens/public.js';
import { StaffPanel } from './screens/staff.js';
import { DemoWallet } from './screens/demo.js';
import type { Language } from '../../main/api/contract.js';

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
    document.documentElement.lang = language;
    document.documentElement.dataset.screen = screen.kind;
  }, [language, screen.kind]);

  const other: Language = language === 'ja' ? 'en' : 'ja';
  const status = state.status;

  return (
    <div class={`kiosk site-${status?.siteKind ?? 'none'}`}>
      <header class="topbar">
        <span class="site-label" data-testid="site-label">
          {status ? `${status.siteId} · ${t('gate', language)} ${status.gateId}` : ''}
        </span>
        <button
          type="button"
          class="lang"
          lang={other}
          aria-label={t('switchLanguageLabel', language)}
          onClick={() => dispatch({ type: 'language', language: other })}
        >
          {t('switchLanguage', language)}
        </button>
      </header>
      {isDegraded(state) && screen.kind !== 'connecting' ? (
        <div class="banner degraded" role="status" data-testid="degraded-banner">
          {t('degraded', language)}
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
            {t('demoWallet', language)}
          </button>
        ) : (
          <span />
        )}
        {status ? (
          <button type="button" class="quiet" data-testid="open-staff" onClick={() => setStaffOpen(true)}>
            {t('staff', language)}
          </button>
        ) : null}
      </footer>
      {/* The wallet drawer steps aside while the patron uses the PIN pad or a kiosk session. */}
      {walletOpen && status?.demo && screen.kind !== 'pin' && screen.kind !== 'session' ? (
        <DemoWallet language={language} onClose={() => setWalletOpen(false)} />
      ) : null}
      {staffOpen && status ? (
        <StaffPanel status={status} language={language} onClose={() => setStaffOpen(false)} />
      ) : null}
    </div>
  );
}
