// The one place the renderer gets its API from. Screens call `useApi()`; they never see a transport.
import { createContext, type ComponentChildren } from 'preact';
import { useContext } from 'preact/hooks';
import type { ApiClient } from './client.js';
import { createApiClient } from './client.js';
import { createIpcTransport, findBridge } from './ipc-transport.js';
import { createWsTransport } from './ws-transport.js';
import { WsPath } from '../../../main/api/wire.js';

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
  return createApiClient(createWsTransport({ url: `${scheme}//${location.host}${WsPath}` }), log);
}
