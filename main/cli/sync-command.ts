// `jpki-kiosk sync --once | status`: the operator's view of the terminal's sync (docs/sync.md). `--once` runs
// one pull of every feed and one push against the configured hub with the terminal's HSM key; `status` reads
// the same from the stored state without contacting the hub. Per feed: the result, the trusted position
// (epoch, sequence, as-of, and the signed checkpoint once the stores keep one), data age and any error code.
import { parseArgs } from 'node:util';
import { loadConfig, type KioskConfig } from '../../config/load.js';
import { KioskError, toKioskError, type ErrorPayload } from '../../base/errors.js';
import { hsmFromConfig, TERMINAL_KEY_LABEL } from '../../hsm/config.js';
import type { RequestSigner } from '../../protocol/http-signature.js';
import { Feeds, type FeedName } from '../../protocol/sync.js';
import type { FeedState } from '../../whitelist/feed-state.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { hsmRequestSigner, syncFromConfig, type SyncReport } from '../core/sync/index.js';

const USAGE = `usage: jpki-kiosk sync --once [--json] [--config F]
       jpki-kiosk sync status [--json] [--config F]

  --once      one pull of every feed and one journal push against sync.hubUrl, signed with the
              terminal key in the HSM (label ${TERMINAL_KEY_LABEL}); prints per feed the result, the trusted
              checkpoint (epoch, sequence, as-of), data age and any error code
  status      the same from the stored state, without contacting the hub

Exit status: 0 all well; 1 the hub's answer was refused (a bad signature, a rollback, a wrong clock, …) or
a stored alarm says so; 3 the hub could not be reached (nothing refused); 2 usage.`;

/** Exit status when nothing was refused but the hub could not be reached. */
const EXIT_UNREACHABLE = 3;

export interface SyncCommandDeps {
  /** The request signer (tests: a software key); default the terminal key in the configured HSM. */
  signer?: RequestSigner;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
}

type FeedResult = 'ok' | 'refused' | 'unreachable' | 'stored';

interface FeedLine {
  result: FeedResult;
  /** Operations applied by this sync (`--once`). */
  applied?: number;
  snapshot?: boolean;
  epoch: string | null;
  seq: number;
  asOf: string | null;
  lastSyncAt: string | null;
  dataAgeSeconds: number | null;
  /** The last trusted signed checkpoint, when the stores keep one; null otherwise. */
  checkpoint: unknown;
  /** A refusal the stores recorded (rollback, freeze, …), when they keep one. */
  alarm: unknown;
  error: ErrorPayload | null;
}

function feedState(data: KioskData, feed: FeedName): FeedState {
  if (feed === 'whitelist') return data.whitelist.feedState();
  if (feed === 'revocations') return data.revocations.feedState();
  return data.terminal.peerFeedState();
}

/** What the stores hold for a feed; `checkpoint` and `alarm` are read loosely (added by the checkpoint work). */
function stored(data: KioskData, feed: FeedName, now: number): Omit<FeedLine, 'result' | 'error'> {
  const state = feedState(data, feed) as FeedState & { checkpoint?: unknown; alarm?: unknown };
  const age = data.freshness(now)[feed].dataAgeMs;
  return {
    epoch: state.epoch,
    seq: state.seq,
    asOf: state.asOf,
    lastSyncAt: state.lastSyncAt,
    dataAgeSeconds: age === null ? null : Math.round(age / 1000),
    checkpoint: state.checkpoint ?? null,
    alarm: state.alarm ?? null,
  };
}

function resultOf(error: ErrorPayload): FeedResult {
  return error.code === 'SYNC_UNREACHABLE' ? 'unreachable' : 'refused';
}

function exitStatus(lines: Array<{ result: FeedResult; alarm?: unknown }>): number {
  if (lines.some((l) => l.result === 'refused' || (l.alarm !== undefined && l.alarm !== null))) return 1;
  if (lines.some((l) => l.result === 'unreachable')) return EXIT_UNREACHABLE;
  return 0;
}

function text(out: {
  command: string;
  feeds: Partial<Record<FeedName, FeedLine>>;
  push: Record<string, unknown> | null;
}): string {
  const lines = Object.entries(out.feeds).map(([feed, f]) => {
    const position = `${f.epoch ?? '-'}:${f.seq} as of ${f.asOf ?? '-'}`;
    const age = f.dataAgeSeconds === null ? 'never synced' : `age ${f.dataAgeSeconds} s`;
    const extra = f.error ? ` — ${f.error.code}: ${f.error.message}` : '';
    const applied = f.applied !== undefined ? `, ${f.applied} applied${f.snapshot ? ' (snapshot)' : ''}` : '';
    return `${feed.padEnd(13)} ${f.result.padEnd(11)} ${position}, ${age}${applied}${extra}`;
  });
  if (out.push) {
    const p = out.push as {
      result: string;
      queueLength?: number;
      acked?: number;
      error?: ErrorPayload | null;
    };
    lines.push(
      `${'journal push'.padEnd(13)} ${p.result.padEnd(11)} queue ${p.queueLength ?? '-'}${p.error ? ` — ${p.error.code}: ${p.error.message}` : ''}`,
    );
  }
  return lines.join('\n');
}

async function once(config: KioskConfig, data: KioskData, deps: SyncCommandDeps, now: () => number) {
  if (!config.sync.enabled || !config.sync.hubUrl)
    throw new KioskError(
      'CONFIG_INVALID',
      'sync is not configured: set sync.enabled and sync.hubUrl (docs/sync.md)',
      { key: config.sync.enabled ? 'sync.hubUrl' : 'sync.enabled' },
    );
  let signer = deps.signer;
  let closeHsm: (() => Promise<void>) | null = null;
  if (!signer) {
    const hsm = hsmFromConfig(config);
    closeHsm = () => hsm.close();
    const state = await hsm.start();
    if (state !== 'ready') {
      await hsm.close().catch(() => undefined);
      throw new KioskError('HSM_UNAVAILABLE', hsm.status().error?.message ?? `HSM ${state}`);
    }
    signer = hsmRequestSigner(hsm, config.site.terminalId, TERMINAL_KEY_LABEL);
  }
  const client = syncFromConfig(config, data, signer)!;
  let report: SyncReport;
  try {
    report = await client.syncNow();
  } finally {
    await client.stop();
    await closeHsm?.().catch(() => undefined);
  }
  const status = client.status();
  const feeds: Partial<Record<FeedName, FeedLine>> = {};
  for (const feed of Feeds) {
    const r = report.pulls[feed];
    if (r === undefined) continue;
    const base = stored(data, feed, now());
    feeds[feed] =
      'code' in r
        ? { result: resultOf(r), ...base, error: r }
        : { result: 'ok', applied: r.applied, snapshot: r.snapshot, ...base, error: null };
  }
  const push =
    report.push === null
      ? null
      : 'code' in report.push
        ? { result: resultOf(report.push), queueLength: status.push.queueLength, error: report.push }
        : {
            result: 'ok' as FeedResult,
            sent: report.push.sent,
            acked: report.push.acked,
            duplicates: report.push.duplicates,
            queueLength: status.push.queueLength,
            error: null,
          };
  return {
    out: {
      command: 'sync --once',
      ok: report.ok,
      hubUrl: config.sync.hubUrl,
      terminalId: config.site.terminalId,
      at: new Date(now()).toISOString(),
      feeds,
      push,
      dataAgeSeconds: status.dataAgeSeconds === null ? null : Math.round(status.dataAgeSeconds),
      clockSkewMs: status.clockSkewMs,
      clockFault: status.clockFault,
    },
    exit: exitStatus([...Object.values(feeds), ...(push ? [push] : [])]),
  };
}

function statusOnly(config: KioskConfig, data: KioskData, now: () => number) {
  const feeds: Partial<Record<FeedName, FeedLine>> = {};
  for (const feed of Feeds) feeds[feed] = { result: 'stored', ...stored(data, feed, now()), error: null };
  const ages = (['whitelist', 'revocations'] as const).map((f) => feeds[f]?.dataAgeSeconds ?? null);
  const queueLength = data.journal.pendingUpload();
  return {
    out: {
      command: 'sync status',
      ok: !Object.values(feeds).some((f) => f.alarm !== null),
      hubUrl: config.sync.hubUrl,
      terminalId: config.site.terminalId,
      at: new Date(now()).toISOString(),
      feeds,
      push: { result: 'stored' as FeedResult, uploadedThrough: data.journal.uploadWatermark(), queueLength },
      dataAgeSeconds: ages.some((a) => a === null) ? null : Math.max(...(ages as number[])),
    },
    exit: exitStatus(Object.values(feeds)),
  };
}

export async function run(args: string[], deps: SyncCommandDeps = {}): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        once: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const command = values.once ? 'once' : positionals[0];
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if ((command !== 'once' && command !== 'status') || (values.once && positionals.length > 0)) {
    process.stderr.write(USAGE + '\n');
    return 2;
  }
  const now = deps.now ?? Date.now;
  const config = loadConfig({ file: values.config ?? null, ...(deps.env ? { env: deps.env } : {}) });
  const data = KioskData.fromConfig(config, deps.env ?? process.env);
  try {
    const { out, exit } =
      command === 'once' ? await once(config, data, deps, now) : statusOnly(config, data, now);
    process.stdout.write(values.json ? JSON.stringify(out, null, 2) + '\n' : text(out) + '\n');
    return exit;
  } catch (error) {
    throw toKioskError(error);
  } finally {
    data.close();
  }
}

/** What `jpki-kiosk sync --help` prints (main/cli/index.ts answers --help for every command). */
export const usage = USAGE;
