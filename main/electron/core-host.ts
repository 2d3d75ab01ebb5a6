// Entry of the core's utility process (Electron `utilityProcess.fork`): loads the configuration, starts
// the terminal core, answers calls from the main process and forwards the core's events. It is plain
// Node code (no `electron` import); the parent port is what Electron gives a utility process.
import { dispatchCommand, eventToWire } from '../api/dispatch.js';
import type { KioskCore } from '../api/contract.js';
import { toKioskError } from '../../base/errors.js';
import type { CoreToMain, MainToCore } from './core-protocol.js';

export interface ParentPortLike {
  postMessage(message: CoreToMain): void;
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
}

export interface ClosableCore extends KioskCore {
  close?(): Promise<void>;
}

/** Serves one core over a parent port until told to shut down. */
export function serveCore(port: ParentPortLike, core: ClosableCore, onShutdown: () => void): void {
  core.subscribe((event) => {
    const wire = eventToWire(event);
    if ('channel' in wire) port.postMessage({ t: 'event', channel: wire.channel, payload: wire.payload });
  });
  port.on('message', ({ data }) => {
    const message = data as MainToCore | null;
    if (!message || typeof message !== 'object') return;
    if (message.t === 'shutdown') {
      void Promise.resolve(core.close?.()).finally(onShutdown);
      return;
    }
    if (message.t === 'call' && Number.isSafeInteger(message.id)) {
      void dispatchCommand(core, message.channel, message.payload).then((reply) =>
        port.postMessage({ t: 'result', id: message.id, reply }),
      );
    }
  });
  port.postMessage({ t: 'ready' });
}

/** Where a packaged kiosk keeps its site configuration (docs/operations.md). */
export function packagedConfigFile(
  platform: string = process.platform,
  env: NodeJS.ProcessEnv = process.env,
): string {
  return platform === 'win32'
    ? `${env.PROGRAMDATA ?? 'C:\\ProgramData'}\\jpki-kiosk\\config.json`
    : '/etc/jpki-kiosk/config.json';
}

async function main(port: ParentPortLike): Promise<void> {
  try {
    const [{ loadConfig }, { initLogging }, terminal] = await Promise.all([
      import('../../config/load.js'),
      import('../../base/log.js'),
      import('../compose.js'),
    ]);
    const packaged = process.env.JPKI_PACKAGED === '1';
    // A packaged kiosk reads its site's file from the one fixed place (environment overrides are ignored).
    const config = loadConfig({ packaged, file: packaged ? packagedConfigFile() : undefined });
    initLogging({
      level: config.log.level,
      mode: config.log.mode === 'pretty' ? 'json' : config.log.mode,
      dir: config.log.dir,
    });
    const core = await terminal.createKioskCore(config);
    serveCore(port, core, () => process.exit(0));
  } catch (error) {
    port.postMessage({ t: 'fatal', error: toKioskError(error).toPayload() });
    // Exit so the supervisor respawns with backoff (a missing reader is a state inside the core; only a
    // core that cannot start at all ends up here).
    setTimeout(() => process.exit(1), 100);
  }
}

const parentPort = (process as unknown as { parentPort?: ParentPortLike }).parentPort;
if (parentPort) void main(parentPort);
