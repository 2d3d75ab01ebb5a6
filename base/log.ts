// One pino root for the process; components take a child (`getLogger('card')`).
// Secrets never reach a log: PINs and APDU payloads are censored, certificate serials are replaced by
// a short keyed hash so that a log can still correlate two lines about the same card.
import { createHmac, randomBytes } from 'node:crypto';
import { pino, type Logger, type LoggerOptions } from 'pino';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface LogSettings {
  level: LogLevel;
  /** 'pretty' for a developer's terminal, 'json' to stdout, 'file' for a rotating file in production. */
  mode: 'pretty' | 'json' | 'file';
  dir?: string;
  /** Rotation: a new file at this size (e.g. '10m') and this many files kept. */
  rotateSize?: string;
  rotateKeep?: number;
}

const SECRET_KEYS = [
  'pin',
  'userPin',
  'soPin',
  'staffPin',
  'password',
  'secret',
  'apdu',
  'command',
  'response',
  'data',
  'privateKey',
];
const SERIAL_KEYS = ['serial', 'serialHex', 'certSerial'];

export const redactPaths = [
  ...SECRET_KEYS.flatMap((k) => [k, `*.${k}`]),
  ...SERIAL_KEYS.flatMap((k) => [k, `*.${k}`]),
];

// A per-process key: log references correlate within one run but cannot be joined to a whitelist
// by someone who reads the log file.
let refKey = randomBytes(32);

/** Short, keyed reference for a certificate serial, for logs only. */
export function logRef(value: string | Uint8Array): string {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
  return createHmac('sha256', refKey).update(bytes).digest('hex').slice(0, 12);
}

/** Lets a deployment keep references stable across restarts (key from the secret store). */
export function setLogRefKey(key: Uint8Array): void {
  refKey = Buffer.from(key);
}

function censor(value: unknown, path: string[]): unknown {
  const last = path[path.length - 1] ?? '';
  if (SERIAL_KEYS.includes(last) && (typeof value === 'string' || value instanceof Uint8Array)) {
    return `ref:${logRef(value)}`;
  }
  return '[redacted]';
}

export function loggerOptions(level: LogLevel): LoggerOptions {
  return {
    level,
    base: { pid: process.pid },
    redact: { paths: redactPaths, censor },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
}

let root: Logger | undefined;

export function initLogging(settings: LogSettings): Logger {
  const options = loggerOptions(settings.level);
  if (settings.mode === 'pretty') {
    root = pino(
      options,
      pino.transport({ target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } }),
    );
  } else if (settings.mode === 'file') {
    const dir = settings.dir ?? 'var/log';
    root = pino(
      options,
      pino.transport({
        target: 'pino-roll',
        options: {
          file: `${dir}/kiosk`,
          extension: '.log',
          size: settings.rotateSize ?? '10m',
          limit: { count: settings.rotateKeep ?? 10 },
          mkdir: true,
        },
      }),
    );
  } else {
    root = pino(options);
  }
  return root;
}

function defaultRoot(): Logger {
  // Tests and one-shot CLI commands that did not call initLogging: quiet unless asked.
  const level = (process.env.JPKI_LOG_LEVEL as LogLevel | undefined) ?? 'silent';
  root = pino(loggerOptions(level), pino.destination(2));
  return root;
}

/** Every component logger handed out, so that a level chosen later (setLogLevel) reaches them all. */
const components: Array<WeakRef<Logger>> = [];

export function getLogger(component: string): Logger {
  const child = (root ?? defaultRoot()).child({ component });
  // Weak: some parts take a logger per instance, and a logger of a part that is gone need not be kept.
  if (components.length > 256)
    components.splice(0, components.length, ...components.filter((r) => r.deref()));
  components.push(new WeakRef(child));
  return child;
}

/**
 * Sets the level of the root and of every component logger made so far: modules take their logger when
 * they are loaded, before a command line has been read (`hub serve --log-level`).
 */
export function setLogLevel(level: LogLevel): void {
  (root ?? defaultRoot()).level = level;
  for (const ref of components) {
    const c = ref.deref();
    if (c) c.level = level;
  }
}

/** A logger that writes into a caller's stream: used by tests to prove redaction. */
export function createLoggerTo(stream: NodeJS.WritableStream, level: LogLevel = 'trace'): Logger {
  return pino(loggerOptions(level), stream);
}
