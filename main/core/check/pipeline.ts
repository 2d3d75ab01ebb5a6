// One tap, one decision: read the certificate → verify it offline → revocation with the freshness
// policy → whitelist → authenticate the card (PIN-less terminal authentication bound to this card and
// this tap's nonce, or the holder's PIN) → the card signs the fresh nonce, verified with the
// certificate's key → site policy → journal. A card that revocation or the whitelist refuses is
// refused before any unlock: a relay never gets one for it.
// Every failure becomes a reason code in a typed Decision; only a terminal fault (store, HSM, clock)
// escapes as a KioskError-backed 'error' decision with reason terminal_fault / clock_fault.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { KioskConfig } from '../../../config/load.js';
import type { AuthPath, Decision, Outcome, ReasonCode, StageTiming } from '../../../base/decision.js';
import type { KioskError } from '../../../base/errors.js';
import { isKioskError, toKioskError } from '../../../base/errors.js';
import type { KioskData } from '../../../whitelist/kiosk-data.js';
import type { CardRecord } from '../../../whitelist/entitlements.js';
import { revocationStaleness } from '../../../whitelist/crl-status.js';
import { JpkiClient } from '../card/jpki-client.js';
import { taBinding, type TerminalAuthenticator } from '../card/terminal-auth.js';
import type { CardTransport } from '../card/transport.js';
import { clockFault, type HubTimeObservation } from '../clock.js';
import { getLogger } from '../../../base/log.js';
import { decideForSite, type PolicyResult, type PresenceRecord } from '../sites/policy.js';
import {
  verifyCardSignature,
  verifyUserCertificate,
  type TrustAnchor,
  type VerifiedCertificate,
} from '../verify/certificate.js';

const log = getLogger('check');

export type { ReadingPhase } from '../../../base/decision.js';
import type { ReadingPhase } from '../../../base/decision.js';

/** Asks the holder; resolves the 4 digits, or null when they cancel or walk away. */
export type AskPin = (request: { triesLeft: number; retry: boolean }) => Promise<string | null>;

/** How the card proves possession in this tap. */
export type CardAuthentication =
  | { mode: 'terminal'; authenticator: TerminalAuthenticator }
  | { mode: 'pin'; askPin: AskPin }
  | {
      /**
       * PIN-less when the authenticator is ready and the card answers it; otherwise `fallback`: the
       * holder's PIN, or a staff visual check (no possession proof: an admission becomes `staff`).
       */
      mode: 'auto';
      authenticator: TerminalAuthenticator | null;
      fallback: 'pin' | 'staff-visual';
      askPin: AskPin;
    };

/** Errors of a PIN-less attempt after which 'auto' tries the fallback instead of refusing. */
const FALLBACK_CODES: ReadonlySet<string> = new Set([
  'TERMINAL_AUTH_FAILED',
  'TERMINAL_AUTH_RATE_LIMITED',
  'HSM_UNAVAILABLE',
  'HSM_FAILED',
  'HSM_KEY_NOT_FOUND',
  'HSM_LOGIN_FAILED',
  'HSM_TOKEN_NOT_FOUND',
  'HSM_CERT_INVALID',
]);

export interface CheckContext {
  config: KioskConfig;
  /** The site as currently selected (staff may switch profile kind / gate at run time). */
  site: {
    kind: KioskConfig['site']['kind'];
    gateId: string;
    zone: string;
    direction: 'entry' | 'exit' | 'both';
  };
  anchors: readonly TrustAnchor[];
  data: KioskData;
  auth: CardAuthentication;
  buildTime: number;
  lastHub: () => HubTimeObservation | null;
  /** Last admitted tap per card at this terminal (serialRef → ms): double touch. */
  recentAdmits: Map<string, number>;
  now?: () => Date;
  onPhase?: (phase: ReadingPhase, progress: number) => void;
  /**
   * After a transport failure: is the card still in the reader? Readers report a yanked card as a
   * generic transaction failure before (or instead of) "removed"; the watcher knows better.
   */
  cardStillPresent?: () => Promise<boolean>;
}

export interface CheckResult {
  decision: Decision;
  policy: PolicyResult | null;
  /** Known once the certificate verified; used for presence and the journal. */
  subject: string | null;
  serialRef: string | null;
  record: CardRecord | null;
}

export interface Timer {
  mark(stage: StageTiming['stage']): void;
  timings: StageTiming[];
}

export function startTimer(): Timer {
  const start = performance.now();
  let last = start;
  const timings: StageTiming[] = [];
  return {
    timings,
    mark(stage) {
      const now = performance.now();
      timings.push({ stage, ms: round(stage === 'total' ? now - start : now - last) });
      last = now;
    },
  };
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** Maps a card-layer error to the reason the patron sees. */
export function reasonForCardError(error: KioskError): ReasonCode {
  switch (error.code) {
    case 'CARD_REMOVED':
    case 'CARD_ABSENT':
    case 'READER_GONE':
      return 'card_removed';
    case 'PIN_BLOCKED':
      return 'pin_blocked';
    case 'PIN_WRONG':
      return 'pin_wrong';
    case 'TERMINAL_AUTH_FAILED':
    case 'TERMINAL_AUTH_RATE_LIMITED':
    case 'CARD_SECURITY_STATUS':
      return 'card_auth_failed';
    case 'HSM_UNAVAILABLE':
    case 'HSM_FAILED':
    case 'HSM_KEY_NOT_FOUND':
    case 'HSM_LOGIN_FAILED':
    case 'HSM_TOKEN_NOT_FOUND':
    case 'HSM_CERT_INVALID':
    case 'STORE_UNAVAILABLE':
    case 'STORE_CORRUPT':
    case 'INTERNAL':
      return 'terminal_fault';
    case 'CLOCK_FAULT':
      return 'clock_fault';
    default:
      return 'card_unreadable';
  }
}

function outcomeForReason(reason: ReasonCode): Outcome {
  return reason === 'card_removed' ||
    reason === 'card_unreadable' ||
    reason === 'terminal_fault' ||
    reason === 'clock_fault'
    ? 'error'
    : 'refused';
}

export function buildDecision(
  ctx: Pick<CheckContext, 'site'>,
  parts: {
    outcome: Outcome;
    reasons: ReasonCode[];
    degraded: boolean;
    direction: 'entry' | 'exit';
    policy?: PolicyResult | null;
    authPath?: AuthPath | null;
    timer: Timer;
    at: Date;
  },
): Decision {
  parts.timer.mark('total');
  const headline = parts.policy?.publicView.headline ?? parts.reasons[0] ?? 'terminal_fault';
  return {
    ...(parts.authPath ? { authPath: parts.authPath } : {}),
    id: randomUUID(),
    at: parts.at.toISOString(),
    site: ctx.site.kind,
    gateId: ctx.site.gateId,
    direction: parts.direction,
    outcome: parts.outcome,
    reasons: parts.reasons,
    degraded: parts.degraded,
    publicView: parts.policy?.publicView ?? { headline },
    staffView: parts.policy?.staffView ?? {},
    timings: parts.timer.timings,
  };
}

/** Asks for the PIN until it verifies, the card blocks, or the holder gives up. */
async function authenticateWithPin(client: JpkiClient, askPin: AskPin): Promise<ReasonCode | null> {
  let retry = false;
  for (;;) {
    const triesLeft = await client.authPinTriesLeft();
    if (triesLeft === 0) return 'pin_blocked';
    const pin = await askPin({ triesLeft, retry });
    // Walking away after a wrong PIN is reported as the wrong PIN: that is what the holder must fix.
    if (pin === null) return retry ? 'pin_wrong' : 'pin_required';
    try {
      await client.verifyAuthPin(pin);
      return null;
    } catch (error) {
      if (isKioskError(error, 'PIN_WRONG')) {
        retry = true;
        continue;
      }
      if (isKioskError(error, 'PIN_BLOCKED')) return 'pin_blocked';
      throw error;
    }
  }
}

/**
 * Proves the card holder per the configured mode. Returns the path taken, or the reason to refuse
 * (PIN not given, blocked…). Card and terminal faults throw.
 */
async function authenticateCard(
  ctx: CheckContext,
  client: JpkiClient,
  binding: ReturnType<typeof taBinding>,
): Promise<AuthPath | { refused: ReasonCode }> {
  const auth = ctx.auth;
  const link = { transmit: (apdu: Uint8Array) => client.transmit(apdu) };
  if (auth.mode === 'terminal') {
    await auth.authenticator.authenticate(link, binding);
    return 'pinless';
  }
  if (auth.mode === 'auto' && auth.authenticator) {
    try {
      await auth.authenticator.authenticate(link, binding);
      return 'pinless';
    } catch (error) {
      const typed = toKioskError(error);
      if (!FALLBACK_CODES.has(typed.code)) throw typed;
      log.info({ code: typed.code, step: typed.detail?.step, fallback: auth.fallback }, 'PIN-less refused');
      // Whatever the card made of the attempt, the fallback starts from a fresh selection.
      await client.selectApplet();
    }
  }
  if (auth.mode === 'auto' && auth.fallback === 'staff-visual') return 'staff-visual';
  const refused = await authenticateWithPin(client, auth.askPin);
  return refused ? { refused } : 'pin';
}

export function stalePolicyReasons(
  ctx: Pick<CheckContext, 'data' | 'config'>,
  nowMs: number,
): { refuse: ReasonCode | null; staff: boolean; degraded: boolean } {
  // Hub-sync age and the oldest CRL's nextUpdate + grace (whitelist/crl-status.ts).
  const { stale } = revocationStaleness(ctx.data.freshness(nowMs).revocations, ctx.config.revocation, nowMs);
  if (!stale) return { refuse: null, staff: false, degraded: false };
  switch (ctx.config.revocation.stalePolicy) {
    case 'deny':
      return { refuse: 'data_too_old', staff: false, degraded: false };
    case 'staff':
      return { refuse: null, staff: true, degraded: false };
    case 'degraded':
      return { refuse: null, staff: false, degraded: true };
  }
}

export function presenceFor(ctx: Pick<CheckContext, 'data'>, subject: string): PresenceRecord | null {
  const p = ctx.data.terminal.presence(subject);
  // The store keeps the latest state per subject; any stored state means at least one entry since the
  // last reset, which is what the re-entry rules need.
  return p ? { state: p.state, gateId: p.gateId, zone: p.zone, at: p.at, entries: 1 } : null;
}

export async function runCheck(ctx: CheckContext, transport: CardTransport): Promise<CheckResult> {
  const now = ctx.now ?? (() => new Date());
  const at = now();
  const timer = startTimer();
  const defaultDirection: 'entry' | 'exit' = ctx.site.direction === 'exit' ? 'exit' : 'entry';
  const fail = (reason: ReasonCode, extra: Partial<CheckResult> = {}): CheckResult => ({
    decision: buildDecision(ctx, {
      outcome: outcomeForReason(reason),
      reasons: [reason],
      degraded: false,
      direction: defaultDirection,
      timer,
      at,
    }),
    policy: null,
    subject: null,
    serialRef: null,
    record: null,
    ...extra,
  });

  const fault = clockFault({
    now: at.getTime(),
    buildTime: ctx.buildTime,
    lastHub: ctx.lastHub(),
    maxSkewSeconds: ctx.config.clock.maxSkewSeconds,
  });
  if (fault) {
    log.error({ err: fault.message }, 'clock fault: not deciding');
    return fail('clock_fault');
  }

  const client = new JpkiClient(transport, {
    timeoutMs: ctx.config.card.commandTimeoutMs,
    trace: ctx.config.card.apduTrace,
  });
  let certificate: VerifiedCertificate;
  let authPath: AuthPath;
  let lookup: ReturnType<KioskData['lookup']>;
  let stale: ReturnType<typeof stalePolicyReasons>;
  try {
    ctx.onPhase?.('reading_certificate', 0.1);
    await client.selectApplet();
    const der = await client.readAuthCertificate();
    timer.mark('read_certificate');

    ctx.onPhase?.('verifying', 0.35);
    const verdict = await verifyUserCertificate(der, {
      anchors: ctx.anchors,
      now: at,
      requiredPolicy: ctx.config.trust.requiredPolicy,
    });
    timer.mark('chain');
    if (!verdict.ok) {
      log.info({ reason: verdict.reason, detail: verdict.detail }, 'certificate refused');
      return fail(verdict.reason);
    }
    certificate = verdict.certificate;

    // Revocation and the whitelist before any unlock: a card refused here never gets one.
    lookup = ctx.data.lookup({
      issuerKeyId: certificate.issuerKeyId,
      serial: certificate.serialHex,
      spkiSha256: certificate.spkiSha256,
    });
    stale = stalePolicyReasons(ctx, at.getTime());
    timer.mark('revocation');
    if (lookup.revoked) return fail('revoked', { serialRef: lookup.serialRef });
    if (stale.refuse) return fail(stale.refuse, { serialRef: lookup.serialRef });
    if (!lookup.card) {
      // Unlisted: refused unless the site takes unlisted people (a shelter does).
      const unlisted = decideForSite({
        now: at,
        site: ctx.site,
        rules: ctx.config.policy,
        record: null,
        presence: null,
        lastAdmittedAt: null,
      });
      if (unlisted.outcome === 'refused') {
        timer.mark('whitelist');
        return {
          decision: buildDecision(ctx, {
            outcome: 'refused',
            reasons: stale.degraded ? [...unlisted.reasons, 'degraded'] : [...unlisted.reasons],
            degraded: stale.degraded,
            direction: unlisted.direction,
            policy: unlisted,
            timer,
            at,
          }),
          policy: unlisted,
          subject: null,
          serialRef: lookup.serialRef,
          record: null,
        };
      }
    }
    timer.mark('whitelist');

    ctx.onPhase?.('authenticating', 0.5);
    // Possession: the card signs a nonce it has never seen, with the key its certificate names. A
    // PIN-less unlock is bound to this card and to exactly this digest.
    const nonce = randomBytes(32);
    const digest = createHash('sha256').update(nonce).digest();
    const path = await authenticateCard(ctx, client, taBinding(der, digest));
    if (typeof path !== 'string') return fail(path.refused);
    authPath = path;
    timer.mark('authenticate');

    if (authPath !== 'staff-visual') {
      const signature = await client.signSha256(digest);
      if (!verifyCardSignature(certificate.publicKey, nonce, signature)) {
        timer.mark('signature');
        log.warn({ serial: certificate.serialHex }, 'card signature does not match its certificate (clone?)');
        return fail('card_auth_failed');
      }
      timer.mark('signature');
    }
  } catch (error) {
    const typed = toKioskError(error);
    let reason = reasonForCardError(typed);
    if (
      reason === 'card_unreadable' &&
      (typed.code === 'CARD_PROTOCOL' || typed.code === 'CARD_TIMEOUT') &&
      ctx.cardStillPresent
    ) {
      if (!(await ctx.cardStillPresent())) reason = 'card_removed';
    }
    log.info({ code: typed.code, reason }, 'card step failed');
    return fail(reason);
  } finally {
    await client.close().catch(() => undefined);
  }

  ctx.onPhase?.('deciding', 0.8);
  const record = lookup.card;
  const subject = record?.subject ?? null;
  const policy = decideForSite({
    now: at,
    site: ctx.site,
    rules: ctx.config.policy,
    record,
    presence: subject ? presenceFor(ctx, subject) : null,
    lastAdmittedAt: ctx.recentAdmits.get(lookup.serialRef) ?? null,
  });
  let outcome = policy.outcome;
  const reasons = [...policy.reasons];
  if (stale.staff && outcome === 'admitted') {
    outcome = 'staff';
    reasons.push('data_too_old');
  }
  // No possession proof: a person compares the card with its holder before anyone goes through.
  if (authPath === 'staff-visual' && outcome === 'admitted') {
    outcome = 'staff';
    reasons.push('staff_visual_check');
  }
  if (stale.degraded) reasons.push('degraded');
  // The holder's entry may name their language: the result screen speaks it for this person only.
  const shown = record?.language
    ? { ...policy, publicView: { ...policy.publicView, language: record.language } }
    : policy;
  timer.mark('policy');
  return {
    decision: buildDecision(ctx, {
      outcome,
      reasons,
      degraded: stale.degraded,
      direction: policy.direction,
      policy: shown,
      authPath,
      timer,
      at,
    }),
    policy,
    subject,
    serialRef: lookup.serialRef,
    record,
  };
}
