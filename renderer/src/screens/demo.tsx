// The demo card wallet: lists the virtual cards the core provisioned and puts one on the virtual reader
// (through the real pcscd + vpcd stack, in the core) or takes it away. Shown only on demo terminals.
import { useEffect, useState } from 'preact/hooks';
import type { DemoCard } from '../../../main/api/contract.js';
import type { StaffLanguage } from '../../../base/languages.js';
import { KioskError } from '../../../base/errors.js';
import { useApi } from '../api/provider.js';
import { errorText, reasonHeadline, siteKindWords, t } from '../i18n.js';

export function DemoWallet(props: { language: StaffLanguage; onClose(): void }) {
  const api = useApi();
  const { language } = props;
  const [cards, setCards] = useState<DemoCard[]>([]);
  const [message, setMessage] = useState<string | null>(null);
  const fail = (e: unknown) =>
    setMessage(e instanceof KioskError ? `${errorText(e.code, language)} (${e.code})` : String(e));
  const refresh = () => api.demoListCards(undefined).then(setCards).catch(fail);
  useEffect(() => {
    void refresh();
  }, [api]);
  return (
    <aside class="wallet" aria-labelledby="wallet-title" data-testid="demo-wallet">
      <div class="sheet-head">
        <h2 id="wallet-title">{t('demoWallet', language)}</h2>
        <button type="button" onClick={props.onClose}>
          {t('staffClose', language)}
        </button>
      </div>
      {message ? (
        <p class="error" role="alert">
          {message}
        </p>
      ) : null}
      <ul>
        {cards.map((card) => (
          <li key={card.name} class={card.inserted ? 'inserted' : ''}>
            <button
              type="button"
              data-card={card.name}
              onClick={() => api.demoInsertCard({ name: card.name }).then(refresh).catch(fail)}
            >
              {t('demoInsert', language)}: {card.name}
            </button>
            <span class="expect">
              {card.siteKind ? siteKindWords[card.siteKind][language] : '*'} →{' '}
              {reasonHeadline(card.expect, language)}
              {card.pin ? ` (PIN ${card.pin})` : ''}
            </span>
          </li>
        ))}
      </ul>
      <button
        type="button"
        class="wide alt"
        data-testid="demo-remove"
        onClick={() => api.demoRemoveCard(undefined).then(refresh).catch(fail)}
      >
        {t('demoRemove', language)}
      </button>
    </aside>
  );
}
