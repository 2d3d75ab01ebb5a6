// Messages between the Electron main process and the core's utility process (structured clone over
// the utility process's parent port). No `electron` import: the core side runs as plain Node code.
import type { Reply } from '../api/wire.js';
import type { ErrorPayload } from '../../base/errors.js';

export type MainToCore = { t: 'call'; id: number; channel: string; payload: unknown } | { t: 'shutdown' };

export type CoreToMain =
  | { t: 'ready' }
  | { t: 'result'; id: number; reply: Reply<unknown> }
  | { t: 'event'; channel: string; payload: unknown }
  | { t: 'fatal'; error: ErrorPayload };
