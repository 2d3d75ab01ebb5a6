// The one place the renderer gets its API from. Screens call `useApi()`; they never see a transport.
import { createContext, type ComponentChildren } from 'preact';
import { useContext } from 'preact/hooks';
import type { ApiClient } from './client.js';
import { createApiClient } from './client.js';
import { createIpcTransport, findBridge } from './ipc-transport.js';
import { createWsTransport, memoryKeyStore, type KeyStore } from './ws-transport.js';
import { launchTicketOf, WsPath } from '../../../main/api/wire.js';

const ApiContext = createContext<ApiClient | null>(null);

export function ApiProvider(props: { api: ApiClient; children: ComponentChildren }) {
  return <ApiContext.Provider value={props.api}>{props.children}</ApiContext.Provider>;
}

export function useApi(): ApiClient {
  const api = useContext(ApiContext);
  if (!api) throw new Error('useApi outside ApiProvider');
  return api;
}

/** Electron's preload bridge when present, else the WebSocket of the page's own origin. */
export function connectApi(): ApiClient {
  const bridge = findBridge();
  const log = (message: string) => console.warn(`jpki-kiosk api: ${message}`);
  if (bridge) return createApiClient(createIpcTransport(bridge), log);
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return createApiClient(
    createWsTransport({ url: `${scheme}//${location.host}${WsPath}`, keys: pageKeyStore() }),
    log,
  );
}

const SessionKeyItem = 'jpki-kiosk-key';

/**
 * The browser shell's key: the launch ticket from the URL fragment (removed from the address at once),
 * then the session key the server gives, kept in sessionStorage so a reload of this tab reconnects.
 */
function pageKeyStore(): KeyStore {
  const ticket = launchTicketOf(location.href);
  if (ticket) history.replaceState(null, '', location.pathname + location.search);
  let stored: string | null = null;
  try {
    stored = sessionStorage.getItem(SessionKeyItem);
  } catch {
    stored = null;
  }
  const memory = memoryKeyStore(ticket ?? stored);
  return {
    get: memory.get,
    set(key) {
      memory.set(key);
      try {
        sessionStorage.setItem(SessionKeyItem, key);
      } catch {
        // no storage: the key lives as long as the page
      }
    },
  };
}
