// The terminal's Prometheus metrics (prom-client, text exposition format): decisions by outcome and
// reason, tap latency per pipeline stage, data age per feed, journal queue length, device states, sync
// exchanges by result. Counters move with the terminal's own events (decisions, sync exchanges); the
// gauges are read from the status at scrape time, so a scrape always shows the present state.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Decision } from '../../../base/decision.js';
import type { KioskEvent, TerminalStatus } from '../../api/contract.js';

export interface TerminalMetricsSource {
  subscribe(listener: (event: KioskEvent) => void): () => void;
  status(): TerminalStatus;
  now(): number;
}

export interface TerminalMetrics {
  registry: Registry;
  /** Counts one sync exchange: `part` a feed or `push`, `result` ok or the error code. */
  syncExchange(part: string, result: string): void;
  close(): void;
}

const DEVICE_STATES: Record<string, readonly string[]> = {
  reader: ['ready', 'card_present', 'busy', 'no_reader', 'unavailable'],
  hsm: ['ready', 'unavailable', 'not_used'],
  sync: ['disabled', 'idle', 'running', 'failed'],
};

export function terminalMetrics(source: TerminalMetricsSource): TerminalMetrics {
  const registry = new Registry();
  const decisions = new Counter({
    name: 'jpki_terminal_decisions_total',
    help: 'Decisions committed, by outcome and reason (a decision with two reasons counts under both)',
    labelNames: ['outcome', 'reason'] as const,
    registers: [registry],
  });
  const stages = new Histogram({
    name: 'jpki_terminal_tap_stage_seconds',
    help: 'Time spent in each stage of the decision pipeline (stage "total": card to decision)',
    labelNames: ['stage'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5],
    registers: [registry],
  });
  const sync = new Counter({
    name: 'jpki_terminal_sync_exchanges_total',
    help: 'Exchanges with the hub, by part (feed or push) and result (ok, or the error code)',
    labelNames: ['part', 'result'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'jpki_terminal_data_age_seconds',
    help: 'Seconds since the data of each feed was current at the hub (absent before the first sync)',
    labelNames: ['feed'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const s = source.status();
      const now = source.now();
      const asOf = { revocations: s.data.revocationAt, whitelist: s.data.whitelistAt };
      for (const [feed, at] of Object.entries(asOf))
        if (at !== null) this.set({ feed }, Math.max(0, (now - Date.parse(at)) / 1000));
    },
  });
  new Gauge({
    name: 'jpki_terminal_journal_queue_length',
    help: 'Journal records not yet acknowledged by the hub',
    registers: [registry],
    collect() {
      this.set(source.status().queue.journalPending);
    },
  });
  new Gauge({
    name: 'jpki_terminal_device_state',
    help: "Each part's state: 1 for the state it is in, 0 for the others",
    labelNames: ['device', 'state'] as const,
    registers: [registry],
    collect() {
      const s = source.status();
      const now: Record<string, string> = { reader: s.reader.state, hsm: s.hsm.state, sync: s.sync.state };
      for (const [device, states] of Object.entries(DEVICE_STATES))
        for (const state of states) this.set({ device, state }, now[device] === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'jpki_terminal_out_of_service',
    help: 'Out of service (1) with the reason code, or in service (0)',
    labelNames: ['code'] as const,
    registers: [registry],
    collect() {
      this.reset();
      const o = source.status().outOfService;
      this.set({ code: o?.code ?? 'none' }, o ? 1 : 0);
    },
  });
  const unsubscribe = source.subscribe((event) => {
    if (event.name !== 'decision') return;
    const d = event.payload as Decision;
    for (const reason of d.reasons.length > 0 ? d.reasons : ['none'])
      decisions.inc({ outcome: d.outcome, reason });
    for (const t of d.timings) stages.observe({ stage: t.stage }, t.ms / 1000);
  });
  return {
    registry,
    syncExchange: (part, result) => sync.inc({ part, result }),
    close: unsubscribe,
  };
}
