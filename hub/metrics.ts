// The hub's Prometheus metrics (prom-client, text exposition format): request rates and durations per
// route, terminals by state, journal records accepted, enrolments by result. One registry per hub (not
// prom-client's global one), so that several hubs in one process (tests, benchmarks) count apart.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { TerminalStates, type HubStore } from './store.js';

export interface HubMetrics {
  registry: Registry;
  requests: Counter<'route' | 'method' | 'status'>;
  duration: Histogram<'route'>;
  journalRecords: Counter<'result'>;
  enrolments: Counter<'result'>;
}

export function hubMetrics(store: HubStore, now: () => number): HubMetrics {
  const registry = new Registry();
  const requests = new Counter({
    name: 'jpki_hub_requests_total',
    help: 'HTTP requests answered, by route, method and status',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'jpki_hub_request_duration_seconds',
    help: 'Time to answer a request, by route (a long-polled pull counts its wait)',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const journalRecords = new Counter({
    name: 'jpki_hub_journal_records_total',
    help: 'Journal records pushed by terminals, by result (accepted, duplicate)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  const enrolments = new Counter({
    name: 'jpki_hub_enrolments_total',
    help: 'Enrolment requests, by result (ok or the refusal code)',
    labelNames: ['result'] as const,
    registers: [registry],
  });
  // Read from the store at scrape time: the numbers are the store's, not this process's memory.
  new Gauge({
    name: 'jpki_hub_terminals',
    help: 'Registered terminals by state',
    labelNames: ['state'] as const,
    registers: [registry],
    collect() {
      const counts = new Map<string, number>(TerminalStates.map((s) => [s, 0]));
      for (const t of store.terminals())
        counts.set(t.state ?? 'active', (counts.get(t.state ?? 'active') ?? 0) + 1);
      for (const [state, n] of counts) this.set({ state }, n);
    },
  });
  new Gauge({
    name: 'jpki_hub_terminal_last_contact_age_seconds',
    help: 'Seconds since each terminal last contacted the hub (absent before its first contact)',
    labelNames: ['terminal', 'site'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const t0 = now();
      for (const t of store.terminals())
        if (t.lastSeenAt !== null)
          this.set({ terminal: t.terminalId, site: t.siteId }, Math.max(0, (t0 - t.lastSeenAt) / 1000));
    },
  });
  return { registry, requests, duration, journalRecords, enrolments };
}
