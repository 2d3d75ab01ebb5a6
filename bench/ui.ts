// The UI transport's cost: a command's round trip and an event's delivery through the browser shell's
// WebSocket (a `ws` client speaking the wire protocol, as the renderer does), the boundary validation in
// process, and the renderer's bundle size. Metrics: ui.ws_call_{p50,p99}_ms, ui.event_{p50,p99}_ms, ui.dispatch_validate_us,
// ui.renderer_js_kb.
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { loadConfig } from '../config/load.js';
import { projectRoot } from '../config/paths.js';
import {
  Channels,
  CommandNames,
  type KioskCore,
  type KioskEvent,
  type TerminalStatus,
} from '../main/api/contract.js';
import { dispatchCommand } from '../main/api/dispatch.js';
import { KioskError } from '../base/errors.js';
import { launchTicketOf, WsPath } from '../main/api/wire.js';
import { startBrowserShell } from '../main/browser/server.js';
import { measure, summarize, type BenchContext, type Metrics } from './harness.js';

const status: TerminalStatus = {
  terminalId: 'bench',
  siteId: 'bench',
  profile: 'demo',
  siteKind: 'stadium-gate',
  gateId: 'gate-a',
  zone: 'main',
  direction: 'entry',
  language: 'ja',
  authMode: 'terminal',
  demo: false,
  reader: { state: 'ready', name: 'bench', error: null },
  hsm: { state: 'ready', error: null },
  sync: { state: 'disabled', lastPullAt: null, lastPushAt: null, error: null, alarm: null, hub: null },
  data: {
    revocationAt: null,
    whitelistAt: null,
    maxAgeHours: 26,
    stale: false,
    stalePolicy: 'degraded',
    staleReasons: [],
    crlNextUpdate: null,
    crlGraceHours: 6,
  },
  queue: { journalPending: 0, oldestPendingAt: null },
  gate: 'none',
  signal: 'none',
  outOfService: null,
  degraded: false,
  counters: { admitted: 0, refused: 0, inside: null },
  staff: { unlocked: false, until: null },
  ui: { volume: 0.8, resultHoldMs: 3000, sessionTimeoutSeconds: 120 },
};

/** A core that answers getStatus and answerPin and can emit events; every other command is NOT_AVAILABLE. */
function benchCore(): KioskCore & { emit(event: KioskEvent): void } {
  const listeners = new Set<(event: KioskEvent) => void>();
  const core: Record<string, unknown> = Object.fromEntries(
    CommandNames.map((name) => [
      name,
      async () => {
        throw new KioskError('NOT_AVAILABLE', `${name} is not part of the benchmark`);
      },
    ]),
  );
  core.getStatus = async () => status;
  core.answerPin = async () => ({ ok: true });
  core.subscribe = (listener: (event: KioskEvent) => void) => {
    listeners.add(listener);
    return () => listeners.delete(listener);
  };
  core.emit = (event: KioskEvent) => {
    for (const l of listeners) l(event);
  };
  return core as unknown as KioskCore & { emit(event: KioskEvent): void };
}

function jsKilobytes(): number | string {
  const assets = join(projectRoot(), 'dist', 'renderer', 'assets');
  if (!existsSync(assets)) return 'not built';
  const bytes = readdirSync(assets)
    .filter((f) => f.endsWith('.js'))
    .reduce((sum, f) => sum + statSync(join(assets, f)).size, 0);
  return Math.round(bytes / 102.4) / 10;
}

export async function run(ctx: BenchContext): Promise<Metrics> {
  const iterations = ctx.quick ? 50 : 500;
  const core = benchCore();
  const dir = mkdtempSync(join(tmpdir(), 'jpki-bench-ui-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>bench</title>');
  const shell = await startBrowserShell({
    config: loadConfig({ profile: 'demo', env: {} }),
    core,
    port: 0,
    rendererDir: dir,
  });
  const origin = shell.url.replace(/\/$/, '');
  const socket = new WebSocket(`${origin.replace('http', 'ws')}${WsPath}`, { origin });
  const waiting = new Map<number, () => void>();
  let onEvent: ((at: number) => void) | null = null;
  socket.on('message', (raw) => {
    const at = performance.now();
    const message = JSON.parse(String(raw)) as { t: string; id?: number };
    if (message.t === 'event') onEvent?.(at);
    else if (message.id !== undefined) waiting.get(message.id)?.();
  });
  let nextId = 1;
  const call = (channel: string, payload?: unknown) =>
    new Promise<void>((resolve) => {
      const id = nextId++;
      waiting.set(id, () => {
        waiting.delete(id);
        resolve();
      });
      socket.send(JSON.stringify({ t: 'call', id, channel, payload }));
    });
  try {
    await new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.once('error', reject);
    });
    // The shell answers nothing until the connection shows a launch ticket.
    await new Promise<void>((resolve) => {
      socket.once('message', () => resolve());
      socket.send(JSON.stringify({ t: 'hello', key: launchTicketOf(shell.launchUrl()) }));
    });
    const roundTrip = await measure(() => call(Channels.commands.getStatus), { warmup: 20, iterations });

    // Event delivery: emit in the core (validated in the shell), receive on the socket.
    const samples: number[] = [];
    for (let i = 0; i < iterations + 20; i++) {
      const received = new Promise<number>((resolve) => (onEvent = resolve));
      const sent = performance.now();
      core.emit({ name: 'reading', payload: { phase: 'deciding', progress: i / (iterations + 20) } });
      const at = await received;
      if (i >= 20) samples.push(at - sent);
    }
    const events = summarize(samples);

    // Boundary validation alone, in process (channel lookup + schema + dispatch to an instant core).
    const validate = await measure(
      () => dispatchCommand(core, Channels.commands.answerPin, { requestId: 'bench', pin: '1234' }),
      { warmup: 200, iterations: iterations * 10 },
    );
    ctx.log(
      `ui: WebSocket call p50 ${roundTrip.p50.toFixed(3)} ms, event p50 ${events.p50.toFixed(3)} ms, dispatch ${(validate.p50 * 1000).toFixed(1)} µs`,
    );
    return {
      'ui.ws_call_p50_ms': roundTrip.p50,
      'ui.ws_call_p99_ms': roundTrip.p99,
      'ui.event_p50_ms': events.p50,
      'ui.event_p99_ms': events.p99,
      'ui.dispatch_validate_us': validate.p50 * 1000,
      'ui.renderer_js_kb': jsKilobytes(),
    };
  } finally {
    socket.close();
    await shell.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
