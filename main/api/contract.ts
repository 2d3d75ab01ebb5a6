// The one contract between the terminal core and every UI: commands (UI → core, request/response) and
// events (core → UI). Channel names come from the single `Channels` table below; every payload has a zod
// schema and is validated at the boundary (first the sender, then the payload); errors cross as
// `{ code, message }` with a code from errors.ts. Both transports (Electron IPC and WebSocket) carry
// exactly these messages; the renderer sees them only through its API provider.
//
// Browser-safe: zod and the other main/api files only. See main/api/README.md.
//
// Kept in one file past 400 lines on purpose: a message's channel name, payload schema and table entry
// are read together, and splitting them would scatter each message over several files.
import { z } from 'zod';
import { ErrorCodes, type ErrorPayload } from '../../base/errors.js';
import {
  AuthPaths,
  CredentialKinds,
  Outcomes,
  ReadingPhases,
  ReasonCodes,
  Stages,
  type Decision,
} from '../../base/decision.js';
import { ProfileNames, SiteKinds, type SiteKind } from '../../base/site-kinds.js';

// ---------------------------------------------------------------------------------------------------
// Channel names: one table, `as const`. Commands are invoked (request → response); events are pushed.

export const Channels = {
  commands: {
    getStatus: 'kiosk:cmd:getStatus',
    answerPin: 'kiosk:cmd:answerPin',
    cancelPin: 'kiosk:cmd:cancelPin',
    endSession: 'kiosk:cmd:endSession',
    staffUnlock: 'kiosk:cmd:staffUnlock',
    staffLock: 'kiosk:cmd:staffLock',
    recentDecisions: 'kiosk:cmd:recentDecisions',
    annulEntry: 'kiosk:cmd:annulEntry',
    reverseAnnulment: 'kiosk:cmd:reverseAnnulment',
    syncNow: 'kiosk:cmd:syncNow',
    listSiteOptions: 'kiosk:cmd:listSiteOptions',
    selectSite: 'kiosk:cmd:selectSite',
    setVolume: 'kiosk:cmd:setVolume',
    getRoster: 'kiosk:cmd:getRoster',
    registerPerson: 'kiosk:cmd:registerPerson',
    sendToReception: 'kiosk:cmd:sendToReception',
    lookupTicket: 'kiosk:cmd:lookupTicket',
    requestService: 'kiosk:cmd:requestService',
    enrol: 'kiosk:cmd:enrol',
    rosterExport: 'kiosk:cmd:rosterExport',
    bindCompanion: 'kiosk:cmd:bindCompanion',
    demoListCards: 'kiosk:cmd:demoListCards',
    demoInsertCard: 'kiosk:cmd:demoInsertCard',
    demoRemoveCard: 'kiosk:cmd:demoRemoveCard',
  },
  events: {
    status: 'kiosk:evt:status',
    reading: 'kiosk:evt:reading',
    decision: 'kiosk:evt:decision',
    pinRequest: 'kiosk:evt:pinRequest',
    pinClosed: 'kiosk:evt:pinClosed',
    session: 'kiosk:evt:session',
    service: 'kiosk:evt:service',
  },
  /** Sent by a shell, not the core: whether the core process is up (Electron respawns it when it dies). */
  shell: {
    coreState: 'kiosk:shell:coreState',
  },
} as const;

export type CommandName = keyof typeof Channels.commands;
export type EventName = keyof typeof Channels.events;
export type CommandChannel = (typeof Channels.commands)[CommandName];
export type EventChannel = (typeof Channels.events)[EventName];

export const CommandNames = Object.keys(Channels.commands) as CommandName[];
export const EventNames = Object.keys(Channels.events) as EventName[];

const commandByChannel = new Map<string, CommandName>(
  CommandNames.map((name) => [Channels.commands[name], name]),
);
const eventByChannel = new Map<string, EventName>(EventNames.map((name) => [Channels.events[name], name]));

/** The command a channel string names, or undefined: the allowlist of both transports. */
export function commandForChannel(channel: unknown): CommandName | undefined {
  return typeof channel === 'string' ? commandByChannel.get(channel) : undefined;
}
export function eventForChannel(channel: unknown): EventName | undefined {
  return typeof channel === 'string' ? eventByChannel.get(channel) : undefined;
}

// ---------------------------------------------------------------------------------------------------
// Shared value schemas.

export const ErrorPayloadSchema = z
  .object({ code: z.enum(ErrorCodes), message: z.string().max(2000) })
  .strict();

/** The shell's word on the core process: up, or down with the reason it could not start (if known). */
export const CoreStateSchema = z.object({ up: z.boolean(), error: ErrorPayloadSchema.nullable() }).strict();
export type CoreState = z.infer<typeof CoreStateSchema>;

export { Languages, type Language } from '../../base/languages.js';
import { Languages } from '../../base/languages.js';

const IsoTime = z.string().min(10).max(40);
const Id = z.string().min(1).max(128);
const ShortText = z.string().max(200);

// --- the decision (mirrors decision.ts; a compile-time check below keeps them equal)

const StageTimingSchema = z
  .object({
    stage: z.enum(Stages),
    ms: z.number().nonnegative(),
  })
  .strict();

const InsuranceDetailsSchema = z
  .object({
    status: z.enum(['valid', 'expired', 'not_found', 'superseded']),
    insurerNumber: z.string().optional(),
    symbol: z.string().optional(),
    number: z.string().optional(),
    branch: z.string().optional(),
    copayRatio: z.number().optional(),
    validFrom: z.string().optional(),
    validTo: z.string().optional(),
  })
  .strict();

export const DecisionSchema = z
  .object({
    id: Id,
    credential: z.enum(CredentialKinds).optional(),
    at: IsoTime,
    site: z.enum(SiteKinds),
    gateId: z.string(),
    direction: z.enum(['entry', 'exit']),
    outcome: z.enum(Outcomes),
    reasons: z.array(z.enum(ReasonCodes)),
    degraded: z.boolean(),
    publicView: z
      .object({
        headline: z.enum(ReasonCodes),
        seat: z.string().optional(),
        zone: z.string().optional(),
        sessionSeconds: z.number().int().nonnegative().optional(),
        householdSize: z.number().int().nonnegative().optional(),
        language: z.enum(Languages).optional(),
      })
      .strict(),
    staffView: z
      .object({
        subjectId: z.string().optional(),
        displayName: z.string().optional(),
        insurance: InsuranceDetailsSchema.optional(),
        residentId: z.string().optional(),
        householdId: z.string().optional(),
        careNeeds: z.array(z.string()).optional(),
        ticket: z
          .object({ eventId: z.string(), seat: z.string().optional(), zones: z.array(z.string()).optional() })
          .strict()
          .optional(),
        notes: z.array(z.string()).optional(),
      })
      .strict(),
    journalSeq: z.number().int().nonnegative().optional(),
    authPath: z.enum(AuthPaths).optional(),
    timings: z.array(StageTimingSchema),
  })
  .strict();

// --- terminal status

export const ReaderStates = ['ready', 'card_present', 'busy', 'no_reader', 'unavailable'] as const;
export const HsmStates = ['ready', 'unavailable', 'not_used'] as const;
export const SyncStates = ['disabled', 'idle', 'running', 'failed'] as const;
export const GateStates = ['none', 'closed', 'open', 'unavailable'] as const;
export const SignalStates = ['none', 'off', 'green', 'red', 'amber', 'unavailable'] as const;

/** One entry of the kiosk's service menu as the screen needs it (names from configuration). */
export const ServiceViewSchema = z
  .object({
    id: Id,
    names: z
      .object({
        ja: z.string(),
        en: z.string(),
        'zh-Hans': z.string().optional(),
        ko: z.string().optional(),
        vi: z.string().optional(),
        'pt-BR': z.string().optional(),
        es: z.string().optional(),
        'ja-easy': z.string().optional(),
      })
      .strict(),
    pinRequired: z.boolean(),
    feeYen: z.number().int().nonnegative(),
    available: z.boolean(),
    /** Why not available: the provider cannot be reached (offline), or the printer is down. */
    unavailableReason: z.enum(['offline', 'printer']).nullable(),
  })
  .strict();
export type ServiceView = z.infer<typeof ServiceViewSchema>;

export const ServiceRefusalCodes = [
  'terminal_unknown',
  'terminal_signature',
  'proof_invalid',
  'card_untrusted',
  'card_revoked',
  'card_expired',
  'pin_required',
  'request_stale',
  'service_unknown',
  'not_in_register',
  'idempotency_conflict',
] as const;

/** A kiosk service request's progress, for the session that asked only (sessionId is checked). */
export const ServiceEventSchema = z
  .object({
    sessionId: Id,
    requestId: Id,
    serviceId: Id,
    /** cancelled: the holder left the PIN pad; the menu is shown again. */
    state: z.enum(['working', 'done', 'failed', 'cancelled']),
    step: z.enum(['card', 'provider', 'printing']).optional(),
    /** failed: why (SERVICE_REFUSED, SERVICE_TIMEOUT, PRINT_FAILED, PIN_BLOCKED, …). */
    error: ErrorPayloadSchema.optional(),
    refusal: z.enum(ServiceRefusalCodes).optional(),
    /** failed while printing: staff hand the document over or refund (the screen says so). */
    staffNote: z.boolean().optional(),
    paperOut: z.boolean().optional(),
    /** done: the fee handed to the store's register. */
    feeYen: z.number().int().nonnegative().optional(),
    printed: z.boolean().optional(),
  })
  .strict();
export type ServiceEvent = z.infer<typeof ServiceEventSchema>;

export const TerminalStatusSchema = z
  .object({
    terminalId: z.string(),
    siteId: z.string(),
    profile: z.enum(ProfileNames),
    siteKind: z.enum(SiteKinds),
    gateId: z.string(),
    zone: z.string(),
    direction: z.enum(['entry', 'exit', 'both']),
    /** The configured default; the patron may switch the screen, which returns to this after each person. */
    language: z.enum(Languages),
    authMode: z.enum(['auto', 'terminal', 'pin']),
    demo: z.boolean(),
    reader: z
      .object({
        state: z.enum(ReaderStates),
        name: z.string().nullable(),
        error: ErrorPayloadSchema.nullable(),
      })
      .strict(),
    hsm: z.object({ state: z.enum(HsmStates), error: ErrorPayloadSchema.nullable() }).strict(),
    sync: z
      .object({
        state: z.enum(SyncStates),
        lastPullAt: IsoTime.nullable(),
        lastPushAt: IsoTime.nullable(),
        error: ErrorPayloadSchema.nullable(),
        /** Sync v2: the last answer refused as an attack (rollback, freeze, mix-and-match, …); null if none. */
        alarm: ErrorPayloadSchema.extend({ at: IsoTime }).nullable(),
        /** The hub that answered last (its origin), its place in the fail-over order, how many there are. */
        hub: z
          .object({
            origin: z.string(),
            index: z.number().int().nonnegative(),
            of: z.number().int().positive(),
            answeredAt: IsoTime,
          })
          .strict()
          .nullable(),
      })
      .strict(),
    data: z
      .object({
        /** When the revocation data was last refreshed (its issue time); null: never. */
        revocationAt: IsoTime.nullable(),
        whitelistAt: IsoTime.nullable(),
        maxAgeHours: z.number().positive(),
        stale: z.boolean(),
        stalePolicy: z.enum(['deny', 'degraded', 'staff']),
        /** Why stale: hub-sync age past maxAgeHours, or the oldest CRL past nextUpdate + crlGraceHours. */
        staleReasons: z.array(z.enum(['sync_age', 'crl_expired'])),
        /** nextUpdate of the oldest issuer's CRL as the hub signed it; null: no CRL status published. */
        crlNextUpdate: IsoTime.nullable(),
        crlGraceHours: z.number().nonnegative(),
      })
      .strict(),
    queue: z
      .object({
        /** Journal records not yet pushed to the hub. */
        journalPending: z.number().int().nonnegative(),
        oldestPendingAt: IsoTime.nullable(),
      })
      .strict(),
    gate: z.enum(GateStates),
    signal: z.enum(SignalStates),
    /** Set when the terminal cannot decide at all (no reader, HSM gone in terminal mode, store broken). */
    outOfService: ErrorPayloadSchema.nullable(),
    /** Revocation data is older than allowed and the policy admits with a visible DEGRADED flag. */
    degraded: z.boolean(),
    counters: z
      .object({
        admitted: z.number().int().nonnegative(),
        refused: z.number().int().nonnegative(),
        /** People inside (gate with anti-passback, shelter occupancy); null where not tracked. */
        inside: z.number().int().nonnegative().nullable(),
      })
      .strict(),
    staff: z.object({ unlocked: z.boolean(), until: IsoTime.nullable() }).strict(),
    /** Convenience kiosk: the configured service menu with each entry's availability now. */
    services: z.array(ServiceViewSchema).optional(),
    /** The printer, where one is configured. */
    printer: z
      .object({ state: z.enum(['ready', 'unavailable']), error: ErrorPayloadSchema.nullable() })
      .strict()
      .optional(),
    ui: z
      .object({
        volume: z.number().min(0).max(1),
        resultHoldMs: z.number().int().nonnegative(),
        sessionTimeoutSeconds: z.number().int().positive(),
      })
      .strict(),
  })
  .strict();
export type TerminalStatus = z.infer<typeof TerminalStatusSchema>;

// --- other payloads

export const ReadingEventSchema = z
  .object({ phase: z.enum(ReadingPhases), progress: z.number().min(0).max(1) })
  .strict();
export type ReadingEvent = z.infer<typeof ReadingEventSchema>;

export const PinRequestSchema = z
  .object({
    requestId: Id,
    /** As the card reports it without consuming a try (VERIFY with no data). 0 means blocked. */
    triesLeft: z.number().int().min(0).max(15),
    /** True when the previous PIN for this card was wrong. */
    retry: z.boolean(),
  })
  .strict();
export type PinRequest = z.infer<typeof PinRequestSchema>;

export const PinClosedSchema = z
  .object({ requestId: Id, reason: z.enum(['answered', 'cancelled', 'card_removed', 'timeout']) })
  .strict();
export type PinClosed = z.infer<typeof PinClosedSchema>;

export const SessionEventSchema = z.discriminatedUnion('state', [
  z.object({ state: z.literal('open'), sessionId: Id, decisionId: Id, endsAt: IsoTime }).strict(),
  z
    .object({
      state: z.literal('closed'),
      sessionId: Id,
      reason: z.enum(['ended', 'timeout', 'card_removed']),
    })
    .strict(),
]);
export type SessionEvent = z.infer<typeof SessionEventSchema>;

/** Four ASCII digits; never logged, never echoed. */
export const PinSchema = z.string().regex(/^[0-9]{4}$/, 'four digits');
/** The staff PIN: 4 to 12 digits. */
export const StaffPinSchema = z.string().regex(/^[0-9]{4,12}$/, 'four to twelve digits');

export const AnnulReasons = [
  'turnstile_not_turned',
  'staff_error',
  'duplicate',
  'patron_left',
  'other',
] as const;

export const AnnulResultSchema = z
  .object({ decisionId: Id, annulled: z.boolean(), journalSeq: z.number().int().nonnegative() })
  .strict();
export const SyncResultSchema = z
  .object({
    pulled: z.number().int().nonnegative(),
    pushed: z.number().int().nonnegative(),
    at: IsoTime,
  })
  .strict();
/** A companion's card took a seat of a purchaser's ticket at the hub (registration desk, staff mode). */
export const CompanionBindResultSchema = z
  .object({
    eventId: z.string(),
    seat: z.string(),
  })
  .strict();
export const SiteOptionsSchema = z
  .object({
    siteKinds: z.array(z.enum(SiteKinds)),
    gates: z.array(
      z
        .object({ gateId: z.string(), zone: z.string(), direction: z.enum(['entry', 'exit', 'both']) })
        .strict(),
    ),
  })
  .strict();
export const RosterEntrySchema = z
  .object({
    personRef: Id,
    displayName: z.string().optional(),
    householdId: z.string().optional(),
    registered: z.boolean(),
    state: z.enum(['inside', 'out']),
    since: IsoTime,
    careNeeds: z.array(z.string()).optional(),
  })
  .strict();
export const RosterSchema = z
  .object({
    inside: z.number().int().nonnegative(),
    households: z.number().int().nonnegative(),
    entries: z.array(RosterEntrySchema),
  })
  .strict();
export type Roster = z.infer<typeof RosterSchema>;
export type RosterEntry = z.infer<typeof RosterEntrySchema>;

export const ReceptionResultSchema = z
  .object({ decisionId: Id, destination: z.string(), reference: z.string() })
  .strict();

export const DemoCardSchema = z
  .object({
    /** Stable name, e.g. 'valid', 'revoked', 'expired', 'unregistered', 'wrong-gate', 'already-inside'. */
    name: z.string().regex(/^[a-z0-9][a-z0-9-]{0,47}$/),
    /** The site kind this card shows best; null for every site. */
    siteKind: z.enum(SiteKinds).nullable(),
    /** The reason code the demo expects for this card on that site. */
    expect: z.enum(ReasonCodes),
    /** The card needs its PIN in PIN mode (the hardware-like card). */
    pin: z
      .string()
      .regex(/^[0-9]{4}$/)
      .nullable(),
    inserted: z.boolean(),
  })
  .strict();
export type DemoCard = z.infer<typeof DemoCardSchema>;

const Empty = z.undefined();
const Ok = z.object({ ok: z.literal(true) }).strict();

// ---------------------------------------------------------------------------------------------------
// Commands: request and response schema, and whether the core refuses it unless staff mode is unlocked
// (`staff: true` → KioskError('STAFF_LOCKED')). Demo commands answer NOT_AVAILABLE unless demo.enabled.

export const Commands = {
  getStatus: { staff: false, request: Empty, response: TerminalStatusSchema },
  answerPin: { staff: false, request: z.object({ requestId: Id, pin: PinSchema }).strict(), response: Ok },
  cancelPin: { staff: false, request: z.object({ requestId: Id }).strict(), response: Ok },
  /** Convenience kiosk: the patron ends the session; nothing of theirs remains on screen or in memory. */
  endSession: { staff: false, request: z.object({ sessionId: Id }).strict(), response: Ok },
  /**
   * PIN: checked against ui.staffPin. A wrong PIN → STAFF_CREDENTIAL_WRONG; refused while locked out
   * after repeated failures (the lockout grows each time and survives a restart) → STAFF_LOCKED.
   */
  staffUnlock: {
    staff: false,
    request: z.discriminatedUnion('method', [
      z.object({ method: z.literal('pin'), pin: StaffPinSchema }).strict(),
    ]),
    response: z.object({ unlocked: z.literal(true), until: IsoTime }).strict(),
  },
  staffLock: { staff: false, request: Empty, response: Ok },
  recentDecisions: {
    staff: true,
    request: z.object({ limit: z.number().int().min(1).max(200) }).strict(),
    response: z.array(
      z
        .object({
          decision: DecisionSchema,
          annulled: z.boolean(),
          annulReason: z.enum(AnnulReasons).nullable(),
        })
        .strict(),
    ),
  },
  annulEntry: {
    staff: true,
    request: z.object({ decisionId: Id, reason: z.enum(AnnulReasons), note: ShortText.optional() }).strict(),
    response: AnnulResultSchema,
  },
  reverseAnnulment: {
    staff: true,
    request: z.object({ decisionId: Id }).strict(),
    response: AnnulResultSchema,
  },
  syncNow: { staff: true, request: Empty, response: SyncResultSchema },
  /** Staff typed or scanned a transfer code; the card in the reader takes that seat (online, at the hub). */
  bindCompanion: {
    staff: true,
    request: z.object({ code: z.string().min(1).max(64) }).strict(),
    response: CompanionBindResultSchema,
  },
  listSiteOptions: { staff: true, request: Empty, response: SiteOptionsSchema },
  selectSite: {
    staff: true,
    request: z
      .object({
        siteKind: z.enum(SiteKinds),
        gateId: Id.optional(),
        direction: z.enum(['entry', 'exit', 'both']).optional(),
      })
      .strict(),
    response: TerminalStatusSchema,
  },
  setVolume: { staff: true, request: z.object({ volume: z.number().min(0).max(1) }).strict(), response: Ok },
  getRoster: { staff: true, request: Empty, response: RosterSchema },
  /** Shelter: register the person behind an 'unregistered_admitted' decision. */
  registerPerson: {
    staff: true,
    request: z
      .object({
        decisionId: Id,
        displayName: z.string().min(1).max(100),
        householdId: z.string().max(64).optional(),
        careNeeds: z.array(z.string().min(1).max(100)).max(10).optional(),
      })
      .strict(),
    response: z.object({ personRef: Id }).strict(),
  },
  /** Hospital reception: hand the qualification result to the reception system. */
  sendToReception: {
    staff: true,
    request: z.object({ decisionId: Id }).strict(),
    response: ReceptionResultSchema,
  },
  /**
   * A forgotten card: staff type the holder's ticket number; the terminal finds the ticket's holder row
   * offline and decides with the same presence and anti-passback rules, journaled as a staff decision
   * (authPath staff-visual). A malformed number → INVALID_REQUEST; busy with a card → NOT_AVAILABLE.
   */
  lookupTicket: {
    staff: true,
    request: z
      .object({
        ticketNumber: z.string().regex(/^\s*[A-Za-z0-9-]{4,32}\s*$/, 'letters, digits and dashes (4–32)'),
      })
      .strict(),
    response: DecisionSchema,
  },
  /** Convenience kiosk: the patron asks for a service in their open session; progress comes as `service` events. */
  requestService: {
    staff: false,
    request: z.object({ sessionId: Id, serviceId: Id }).strict(),
    response: z.object({ requestId: Id }).strict(),
  },
  /**
   * Enrols this terminal at a hub with a one-time code (the CLI's `enrol` path, the HSM's terminal key).
   * `hubUrl` may be left out when the code's QR text or the configuration names the hub. Refusals come
   * back typed (ENROL_*, HUB_TERMINAL_EXISTS, SYNC_UNREACHABLE; INVALID_REQUEST for plain http: to a hub
   * that is not on this machine, outside the demo). `syncing`: the terminal syncs with the new enrolment
   * now; false means a restart is needed for it.
   */
  enrol: {
    staff: true,
    request: z
      .object({
        hubUrl: z.string().min(1).max(500).optional(),
        code: z.string().min(1).max(500),
      })
      .strict(),
    response: z
      .object({
        terminalId: Id,
        siteId: Id,
        gateId: Id,
        zone: z.string(),
        siteKind: z.enum(SiteKinds),
        hubUrl: z.string().max(500),
        syncing: z.boolean(),
      })
      .strict(),
  },
  /** Shelter: the roster as CSV (owner-only) in policy.shelter.rosterDir, as `shelter roster export` writes it. */
  rosterExport: {
    staff: true,
    request: Empty,
    response: z.object({ file: z.string().max(4096), rows: z.number().int().nonnegative() }).strict(),
  },
  demoListCards: { staff: false, request: Empty, response: z.array(DemoCardSchema) },
  demoInsertCard: {
    staff: false,
    request: z.object({ name: DemoCardSchema.shape.name }).strict(),
    response: Ok,
  },
  demoRemoveCard: { staff: false, request: Empty, response: Ok },
} as const satisfies Record<CommandName, { staff: boolean; request: z.ZodType; response: z.ZodType }>;

export const Events = {
  status: TerminalStatusSchema,
  reading: ReadingEventSchema,
  decision: DecisionSchema,
  pinRequest: PinRequestSchema,
  pinClosed: PinClosedSchema,
  session: SessionEventSchema,
  service: ServiceEventSchema,
} as const satisfies Record<EventName, z.ZodType>;

export type CommandRequest<K extends CommandName> = z.infer<(typeof Commands)[K]['request']>;
export type CommandResponse<K extends CommandName> = z.infer<(typeof Commands)[K]['response']>;
export type EventPayload<K extends EventName> = z.infer<(typeof Events)[K]>;

/** A pushed event, as a tagged union. */
export type KioskEvent = { [K in EventName]: { name: K; payload: EventPayload<K> } }[EventName];

// ---------------------------------------------------------------------------------------------------
// What the core implements (main/core/terminal/) and what the renderer's provider exposes: the same
// shape. Each command takes one request value (`undefined` for the parameterless ones) and returns a
// promise; failures reject with a KioskError. Events arrive through `subscribe`.

export type KioskCommands = {
  [K in CommandName]: (request: CommandRequest<K>) => Promise<CommandResponse<K>>;
};

export interface KioskEvents {
  /** Returns the function that unsubscribes. Listeners must not throw. */
  subscribe(listener: (event: KioskEvent) => void): () => void;
}

/** The terminal core, as both shells see it. */
export type KioskCore = KioskCommands & KioskEvents;
/** The renderer's API: identical, so screens can be tested against an in-memory core. */
export type KioskApi = KioskCore;

// ---------------------------------------------------------------------------------------------------
// Validation helpers used at every boundary.

export type Validated<T> = { ok: true; value: T } | { ok: false; error: ErrorPayload };

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.map(String).join('.') || '(payload)'}: ${i.message}`)
    .join('; ');
}

export function validateRequest<K extends CommandName>(
  name: K,
  payload: unknown,
): Validated<CommandRequest<K>> {
  const parsed = Commands[name].request.safeParse(payload);
  return parsed.success
    ? { ok: true, value: parsed.data as CommandRequest<K> }
    : { ok: false, error: { code: 'INVALID_REQUEST', message: `${name}: ${describe(parsed.error)}` } };
}

export function validateResponse<K extends CommandName>(
  name: K,
  payload: unknown,
): Validated<CommandResponse<K>> {
  const parsed = Commands[name].response.safeParse(payload);
  return parsed.success
    ? { ok: true, value: parsed.data as CommandResponse<K> }
    : { ok: false, error: { code: 'INTERNAL', message: `${name} response: ${describe(parsed.error)}` } };
}

export function validateEvent<K extends EventName>(name: K, payload: unknown): Validated<EventPayload<K>> {
  const parsed = Events[name].safeParse(payload);
  return parsed.success
    ? { ok: true, value: parsed.data as EventPayload<K> }
    : { ok: false, error: { code: 'INTERNAL', message: `${name} event: ${describe(parsed.error)}` } };
}

/** An error as it crosses a boundary: a known code and a message, nothing else (no stack, no detail). */
export function toErrorPayload(value: unknown): ErrorPayload {
  if (typeof value === 'object' && value !== null) {
    const { code, message } = value as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && (ErrorCodes as readonly string[]).includes(code)) {
      return { code: code as ErrorPayload['code'], message: typeof message === 'string' ? message : code };
    }
  }
  return { code: 'INTERNAL', message: value instanceof Error ? value.message : 'internal error' };
}

// ---------------------------------------------------------------------------------------------------
// Compile-time checks: the schemas describe exactly the types in decision.ts. If decision.ts changes,
// tsc fails here until the schema follows.
type Equal<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const decisionMatches: Equal<z.infer<typeof DecisionSchema>, Decision> = true;
const siteKindsMatch: Equal<(typeof SiteKinds)[number], SiteKind> = true;
void decisionMatches;
void siteKindsMatch;
