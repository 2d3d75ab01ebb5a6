// The printing layer's entry: a Printer for the configuration's `printing` section, or null.
import type { KioskConfig } from '../../../config/load.js';
import type { Clock } from '../../../base/clock.js';
import { CupsBackend } from './cups.js';
import { FolderBackend } from './folder.js';
import { Printer } from './printer.js';

export { Printer, type PrintOutcome } from './printer.js';
export type { PrintBackend, PrintJobRequest, JobState } from './backend.js';
export { CupsBackend } from './cups.js';
export { FolderBackend } from './folder.js';

export function printerFromConfig(config: KioskConfig, clock?: Clock): Printer | null {
  const p = config.printing;
  const completionTimeoutMs = p.completionTimeoutMs;
  switch (p.driver) {
    case 'none':
      return null;
    case 'folder':
      return new Printer({
        backend: new FolderBackend(p.folder),
        completionTimeoutMs,
        ...(clock ? { clock } : {}),
      });
    case 'cups':
      return new Printer({
        backend: new CupsBackend({ queue: p.queue, server: p.server }),
        completionTimeoutMs,
        ...(clock ? { clock } : {}),
      });
  }
}
