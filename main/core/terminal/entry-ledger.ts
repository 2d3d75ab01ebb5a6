// After the decision: make it durable in the journal before anyone is told "admitted", then move
// presence (now, or once the gate reports the passage), and remember the admit for double touches.
import { performance } from 'node:perf_hooks';
import type { KioskConfig } from '../../../config/load.js';
import type { Decision } from '../../../base/decision.js';
import type { KioskData } from '../../../whitelist/kiosk-data.js';
import type { CheckResult } from '../check/pipeline.js';

const RECENT_ADMIT_KEEP_MS = 10 * 60_000;
const RECENT_ADMIT_MAX = 10_000;

export interface CommitContext {
  config: KioskConfig;
  site: { gateId: string; zone: string };
  data: KioskData;
  recentAdmits: Map<string, number>;
  /** True when a gate will report the passage: presence then waits for it. */
  gateReportsPassage: boolean;
}

export interface Committed {
  decision: Decision;
  /** Journal sequence of the grant, when presence waits for the passage. */
  pendingGrant: {
    seq: number;
    subject: string;
    to: 'inside' | 'outside';
    direction: 'entry' | 'exit';
  } | null;
}

function rememberAdmit(map: Map<string, number>, key: string, at: number): void {
  map.delete(key);
  map.set(key, at);
  // Insertion order is age order: drop the oldest beyond the window or the cap.
  for (const [k, t] of map) {
    if (map.size <= RECENT_ADMIT_MAX && at - t < RECENT_ADMIT_KEEP_MS) break;
    map.delete(k);
  }
}

export function commitDecision(ctx: CommitContext, result: CheckResult): Committed {
  const start = performance.now();
  const { decision, policy, subject, serialRef } = result;
  const admitted = decision.outcome === 'admitted';
  const change = admitted && policy && !policy.repeat ? policy.presenceChange : null;
  const waitsForPassage = Boolean(
    change &&
    subject &&
    ctx.gateReportsPassage &&
    ctx.config.policy.stadium.antiPassback.commitOn === 'passage',
  );
  const record = ctx.data.journal.append({
    kind: waitsForPassage ? 'grant' : 'decision',
    terminalId: ctx.config.site.terminalId,
    siteId: ctx.config.site.siteId,
    gateId: ctx.site.gateId,
    direction: decision.direction,
    ...(subject ? { subject } : {}),
    ...(serialRef ? { serialRef } : {}),
    outcome: decision.outcome,
    reasons: decision.reasons,
    decisionId: decision.id,
    wall: decision.at,
  });
  const at = Date.parse(decision.at);
  if (admitted && serialRef && !policy?.repeat) rememberAdmit(ctx.recentAdmits, serialRef, at);
  if (change && subject && !waitsForPassage) {
    ctx.data.terminal.setPresence({
      subject,
      state: change.to,
      terminalId: ctx.config.site.terminalId,
      gateId: ctx.site.gateId,
      zone: ctx.site.zone,
      at,
    });
  }
  const journalMs = Math.round((performance.now() - start) * 1000) / 1000;
  const timings = decision.timings.filter((t) => t.stage !== 'total');
  const total = (decision.timings.find((t) => t.stage === 'total')?.ms ?? 0) + journalMs;
  return {
    decision: {
      ...decision,
      journalSeq: record.seq,
      timings: [
        ...timings,
        { stage: 'journal', ms: journalMs },
        { stage: 'total', ms: Math.round(total * 1000) / 1000 },
      ],
    },
    pendingGrant:
      waitsForPassage && change && subject
        ? { seq: record.seq, subject, to: change.to, direction: decision.direction }
        : null,
  };
}
