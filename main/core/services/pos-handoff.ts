// The fee hand-off to the store's register: the kiosk takes no payment. Each fee is one JSON file (0600,
// written atomically: a temp name, then a rename) in the folder the store's POS reads, named by request
// id so that a retried write cannot charge twice. Ids and the amount only: nothing that names the person.
import { mkdirSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export interface PosHandoffRecord {
  format: 'jpki-kiosk/pos-handoff/v1';
  requestId: string;
  sessionId: string;
  serviceId: string;
  amountYen: number;
  terminalId: string;
  siteId: string;
  at: string;
}

export class PosHandoff {
  constructor(private readonly dir: string) {}

  /** Writes the record; returns its path. A record for the same request is kept, not rewritten. */
  write(record: PosHandoffRecord): string {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const path = join(this.dir, `${record.requestId}.json`);
    if (existsSync(path)) return path;
    const temp = `${path}.tmp`;
    writeFileSync(temp, `${JSON.stringify(record)}\n`, { mode: 0o600 });
    renameSync(temp, path);
    return path;
  }
}
