// Shared pieces of the kiosk-service tests: a demo configuration for a convenience kiosk with services,
// an event recorder on a terminal, and the journal's service records.
import type { KioskConfig } from '../../config/load.js';
import type { KioskEvent } from '../../main/api/contract.js';
import type { Terminal } from '../../main/core/terminal/index.js';
import { writeDemoConfig } from '../../main/demo/config.js';
import type { JournalRecord } from '../../protocol/journal-record.js';

export function servicesConfig(
  dataDir: string,
  name: string,
  vpcdPort: number,
  extra: {
    printing?: Record<string, unknown>;
    services?: unknown[];
    timeoutMs?: number;
    retries?: number;
  } = {},
): KioskConfig {
  return writeDemoConfig(dataDir, name, {
    site: { kind: 'convenience-kiosk', terminalId: `kiosk-${name}`, siteId: 'store-1' },
    demo: { enabled: true, vpcdPort },
    actuators: { gate: null, signal: null },
    ui: { staffPin: { file: '${data}/demo/staff-pin' }, resultHoldMs: 500 },
    policy: {
      kiosk: {
        sessionTimeoutSeconds: 120,
        services: extra.services ?? [
          {
            id: 'residence-certificate',
            names: { ja: '住民票の写し', en: 'Residence certificate' },
            pinRequired: true,
            feeYen: 200,
            provider: 'city',
          },
          {
            id: 'library-card',
            names: { ja: '図書館カード', en: 'Library card' },
            pinRequired: false,
            feeYen: 0,
            provider: 'city',
          },
          {
            id: 'tax-certificate',
            names: { ja: '課税証明書', en: 'Tax certificate' },
            pinRequired: true,
            feeYen: 300,
            provider: 'city',
          },
        ],
        providers: {
          city: {
            url: 'http://127.0.0.1:9/',
            timeoutMs: extra.timeoutMs ?? 3000,
            retries: extra.retries ?? 1,
            healthEverySeconds: 1,
          },
        },
        posHandoffDir: '${data}/pos',
      },
    },
    printing: extra.printing ?? { driver: 'folder', folder: '${data}/printed' },
  });
}

export class EventLog {
  readonly events: KioskEvent[] = [];
  private waiters: Array<{ test: (e: KioskEvent) => boolean; resolve: (e: KioskEvent) => void }> = [];

  constructor(terminal: Pick<Terminal, 'subscribe'>) {
    terminal.subscribe((e) => {
      this.events.push(e);
      this.waiters = this.waiters.filter((w) => {
        if (!w.test(e)) return true;
        w.resolve(e);
        return false;
      });
    });
  }

  /** The next event (from now, or already seen after `from`) that passes `test`. */
  waitFor<T extends KioskEvent>(
    test: (e: KioskEvent) => e is T,
    timeoutMs?: number,
    from?: number,
  ): Promise<T>;
  waitFor(test: (e: KioskEvent) => boolean, timeoutMs?: number, from?: number): Promise<KioskEvent>;
  waitFor(
    test: (e: KioskEvent) => boolean,
    timeoutMs = 20_000,
    from = this.events.length,
  ): Promise<KioskEvent> {
    const seen = this.events.slice(from).find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `event not seen in ${timeoutMs} ms; since: ${JSON.stringify(this.events.slice(from).map((e) => (e.name === 'status' ? { s: e.payload.reader, o: e.payload.outOfService, h: e.payload.hsm } : e)))}`,
            ),
          ),
        timeoutMs,
      );
      this.waiters.push({
        test,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }
}

export function serviceRecords(terminal: Terminal): JournalRecord[] {
  return terminal.devices
    .stores()
    .journal.readSince(0, 100_000)
    .map((r) => JSON.parse(r.body) as JournalRecord)
    .filter((r) => r.kind === 'service');
}
