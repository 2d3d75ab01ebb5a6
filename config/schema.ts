// The one configuration schema. Every object is strict: an unknown key is an error, so a typo in a
// kiosk's file stops it at start instead of silently using a default at the gate.
import { z } from 'zod';

import { ProfileNames, SiteKinds } from '../base/site-kinds.js';
import { Languages } from '../base/languages.js';

export { ProfileNames, SiteKinds, type ProfileName, type SiteKind } from '../base/site-kinds.js';

/** Where a secret comes from. Never the secret itself: the main config file holds no secrets. */
export const SecretRef = z.union([
  z.object({ env: z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'an environment variable name') }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);
export type SecretRef = z.infer<typeof SecretRef>;

const Duration = z.number().int().nonnegative();

export const SiteSchema = z
  .object({
    kind: z.enum(SiteKinds).default('stadium-gate'),
    siteId: z.string().min(1).default('demo-site'),
    terminalId: z.string().min(1).default('demo-terminal-1'),
    gateId: z.string().min(1).default('gate-a'),
    zone: z.string().min(1).default('main'),
    direction: z.enum(['entry', 'exit', 'both']).default('entry'),
    /** The screen's default language; a whitelist entry naming a language overrides it for that person. */
    language: z.enum(Languages).default('ja'),
    /** Signed QR tickets (people without a card): accepted here or not. Off unless the site says so. */
    tickets: z
      .object({
        accept: z.boolean().default(false),
        /** The USB barcode scanner, read through HID (keyboard reports), supervised like the gate. */
        scanner: z
          .object({
            driver: z.enum(['none', 'hid']).default('none'),
            vendorId: z.number().int().min(0).max(0xffff).nullable().default(null),
            productId: z.number().int().min(0).max(0xffff).nullable().default(null),
            /** Input reports carry a report id first (composite scanners). */
            reportId: z.boolean().default(false),
          })
          .strict()
          .default({ driver: 'none', vendorId: null, productId: null, reportId: false }),
      })
      .strict()
      .default({
        accept: false,
        scanner: { driver: 'none', vendorId: null, productId: null, reportId: false },
      }),
    /**
     * What staff may switch this terminal to (selectSite). Absent: only the configured kind and gate.
     * The demo lists every kind and its demo gates here, so the core hard-codes none.
     */
    selectable: z
      .object({
        kinds: z.array(z.enum(SiteKinds)).min(1),
        gates: z
          .array(
            z
              .object({
                gateId: z.string().min(1),
                zone: z.string().min(1),
                direction: z.enum(['entry', 'exit', 'both']),
              })
              .strict(),
          )
          .min(1),
      })
      .strict()
      .nullable()
      .default(null),
  })
  .strict();

export const TrustSchema = z
  .object({
    /** PEM files of the user-authentication CAs accepted; relative paths are from the config folder. */
    anchors: z.array(z.string().min(1)).min(1),
    /** Only the demo may trust a CA whose subject says O=JPKI-TEST. */
    allowTestCa: z.boolean().default(false),
    /** Policy OID the user-authentication certificate must carry; null accepts any. */
    requiredPolicy: z.string().nullable().default('1.2.392.200149.8.5.1.3.30'),
  })
  .strict();

export const CardSchema = z
  .object({
    /** Substring of the PC/SC reader name to use; null takes the first reader with a card. */
    reader: z.string().nullable().default(null),
    settleMs: Duration.default(50),
    commandTimeoutMs: Duration.min(100).default(3000),
    /**
     * 'auto': PIN-less terminal authentication when the card answers it (and the institution key is
     * ready), otherwise `fallback`; 'terminal': PIN-less only; 'pin': the holder types the PIN.
     */
    authMode: z.enum(['auto', 'terminal', 'pin']).default('auto'),
    /** What 'auto' does with a card that refuses PIN-less authentication (today's cards all do). */
    fallback: z.enum(['pin', 'staff-visual']).default('pin'),
    /** PIN-less unlocks this terminal may obtain: a token bucket of `burst`, refilled at `perMinute`. */
    unlockRate: z
      .object({
        perMinute: z.number().int().positive().max(600).default(60),
        burst: z.number().int().positive().max(100).default(10),
      })
      .strict()
      .default({ perMinute: 60, burst: 10 }),
    apduTrace: z.boolean().default(false),
  })
  .strict();

export const HsmSchema = z
  .object({
    /** Path of the PKCS#11 module (.so / .dll). */
    module: z.string().min(1).default('/usr/lib/softhsm/libsofthsm2.so'),
    tokenLabel: z.string().min(1).nullable().default('jpki-kiosk'),
    tokenSerial: z.string().min(1).nullable().default(null),
    keyLabel: z.string().min(1).default('institution-key'),
    /** 特定機関コード, as printed in the institution's certificate. */
    institutionCode: z
      .string()
      .regex(/^[0-9A-Z]{1,16}$/, 'up to 16 digits or upper-case letters')
      .default('00000001'),
    /** The institution's card-verifiable certificate (binary); relative paths are from the config folder. */
    certificatePath: z.string().nullable().default(null),
    userPin: SecretRef.default({ env: 'JPKI_HSM_PIN' }),
    /** SoftHSM2 configuration file; null leaves SOFTHSM2_CONF as the environment has it. */
    softhsmConf: z.string().nullable().default(null),
  })
  .strict();

export const DataSchema = z
  .object({
    /** Folder for databases, the journal and generated demo assets; relative to the config folder. */
    dir: z.string().min(1).default('var'),
    /** Key that derives the keyed hashes of serials; a secret like the HSM PIN. */
    indexKey: SecretRef.nullable().default(null),
    /**
     * Journal records the hub has acknowledged and that are older than this many days are removed (at a
     * sealed record; Journal.prune). Null keeps every record. Never a record the hub has not acknowledged.
     */
    journalRetentionDays: z.number().int().positive().nullable().default(null),
  })
  .strict();

export const RevocationSchema = z
  .object({
    /** Revocation data older than this is stale. Operators refresh CRLs daily. */
    maxAgeHours: z.number().positive().default(26),
    /**
     * The list is also stale once the oldest issuer's CRL is past its nextUpdate by this many hours (the
     * CRL's own age, signed by the hub with the rows; docs/data.md), whether or not the hub answers.
     */
    crlGraceHours: z.number().nonnegative().max(720).default(6),
    /** What a stale list does to a decision: refuse, admit flagged DEGRADED, or hand to staff. */
    stalePolicy: z.enum(['deny', 'degraded', 'staff']).default('degraded'),
  })
  .strict();

export const ClockSchema = z
  .object({
    /** A wall clock further than this from the last hub time is a fault. */
    maxSkewSeconds: z.number().int().positive().default(300),
  })
  .strict();

export const AntiPassbackSchema = z
  .object({
    mode: z.enum(['off', 'hard', 'soft']).default('hard'),
    scope: z.enum(['zone', 'timed']).default('zone'),
    timedMinutes: z.number().int().positive().default(30),
    reach: z.enum(['local', 'global']).default('global'),
    reset: z.enum(['manual', 'daily', 'expiry']).default('daily'),
    dailyResetAt: z
      .string()
      .regex(/^\d{2}:\d{2}$/, 'HH:MM')
      .default('04:00'),
    /** 'passage': presence changes only once the gate reported the person went through. */
    commitOn: z.enum(['grant', 'passage']).default('passage'),
  })
  .strict();

/** One kiosk service (a certificate, a local-service document). */
export const KioskServiceSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,47}$/, 'lower-case letters, digits and dashes'),
    /** The name on the menu in each UI language. */
    names: z
      .object({
        ja: z.string().min(1).max(40),
        en: z.string().min(1).max(60),
        // The other public languages; where one is missing the menu shows English (easy Japanese: Japanese).
        'zh-Hans': z.string().min(1).max(40).optional(),
        ko: z.string().min(1).max(40).optional(),
        vi: z.string().min(1).max(60).optional(),
        'pt-BR': z.string().min(1).max(60).optional(),
        es: z.string().min(1).max(60).optional(),
        'ja-easy': z.string().min(1).max(60).optional(),
      })
      .strict(),
    /** The holder's card PIN is asked for this service (the card signs the request after it). */
    pinRequired: z.boolean().default(true),
    /** Needs the provider over the network: shown unavailable while the provider cannot be reached. */
    network: z.boolean().default(true),
    /** Fee in yen, handed to the store's POS (no payment in the kiosk); 0: free. */
    feeYen: z.number().int().nonnegative().max(100_000).default(0),
    /** The provider id (policy.kiosk.providers) that answers it. */
    provider: z.string().min(1),
    /** What is printed: an A4 certificate, or nothing (the answer is only shown). */
    prints: z.enum(['certificate-a4', 'none']).default('certificate-a4'),
  })
  .strict();

export const ServiceProviderSchema = z
  .object({
    /** `https:`; plain `http:` only to a loopback address (like sync.hubUrl). */
    url: z.string().url(),
    /** A PEM file of the CA(s) for a provider with a private CA; null: the system's CAs. */
    caFile: z.string().nullable().default(null),
    /** One attempt's time limit. */
    timeoutMs: z.number().int().min(100).max(120_000).default(8000),
    /** Further attempts after a timeout or a 5xx, with the same idempotency key. */
    retries: z.number().int().min(0).max(5).default(2),
    /** How often reachability is checked while idle (the menu shows it). */
    healthEverySeconds: z.number().int().positive().default(15),
  })
  .strict();

/** What a reception slip may carry; a site lists the ones it prints. */
export const ReceptionSlipFields = [
  'receptionNumber',
  'time',
  'insuranceStatus',
  'copayRatio',
  'insurerNumber',
  'name',
] as const;
/** What a shelter check-in slip may carry; a site lists the ones it prints. */
export const ShelterSlipFields = [
  'householdNumber',
  'householdSize',
  'time',
  'shelter',
  'careNeeds',
  'name',
] as const;

const ReceptionSlipSchema = z
  .object({
    enabled: z.boolean().default(false),
    fields: z.array(z.enum(ReceptionSlipFields)).default(['receptionNumber', 'time', 'insuranceStatus']),
  })
  .strict();
const ShelterSlipSchema = z
  .object({
    enabled: z.boolean().default(false),
    fields: z.array(z.enum(ShelterSlipFields)).default(['householdNumber', 'time']),
  })
  .strict();

export const PrintingSchema = z
  .object({
    /**
     * cups: the system's print service through `lp`/`lpstat` (IPP); folder: PDFs written to a folder
     * (the demo, or an archive); none: nothing is printed.
     */
    driver: z.enum(['cups', 'folder', 'none']).default('none'),
    /** The CUPS queue; null: the server's default destination. */
    queue: z.string().min(1).nullable().default(null),
    /** CUPS server (host:port or a socket path); null: the client's default (CUPS_SERVER, client.conf). */
    server: z.string().min(1).nullable().default(null),
    /** The folder for driver "folder"; relative to the data folder. */
    folder: z.string().default('printed'),
    /** A job not completed by then is a failed print (staff hand-off). */
    completionTimeoutMs: z.number().int().min(1000).max(600_000).default(60_000),
    /** Stadium gate: print a seat receipt (seat, gate, zone, time; no name) for each admission with a seat. */
    seatReceipt: z.boolean().default(false),
    /** The receipt printer's paper: an 80 mm roll or A4. */
    slipMedia: z.enum(['receipt-80mm', 'A4']).default('receipt-80mm'),
    /**
     * Hospital reception: a slip for the patient once the qualification is confirmed (admitted). It
     * carries only the listed fields; the name only when a site lists it.
     */
    receptionSlip: ReceptionSlipSchema.default(ReceptionSlipSchema.parse({})),
    /** Shelter: a check-in slip (household number and time by default; the name only when listed). */
    shelterSlip: ShelterSlipSchema.default(ShelterSlipSchema.parse({})),
  })
  .strict();

export const PolicySchema = z
  .object({
    stadium: z
      .object({
        validityToleranceMinutes: z.number().int().nonnegative().default(15),
        reentry: z.enum(['deny', 'after-exit', 'allow']).default('after-exit'),
        doubleTouchSeconds: z.number().int().nonnegative().default(5),
        antiPassback: AntiPassbackSchema.default(AntiPassbackSchema.parse({})),
      })
      .strict()
      .default({
        validityToleranceMinutes: 15,
        reentry: 'after-exit',
        doubleTouchSeconds: 5,
        antiPassback: AntiPassbackSchema.parse({}),
      }),
    hospital: z
      .object({
        /** FHIR R4 Coverage output: a folder, a URL, or none. */
        output: z.enum(['folder', 'url', 'none']).default('folder'),
        folder: z.string().default('var/reception-out'),
        url: z.string().url().nullable().default(null),
      })
      .strict()
      .default({ output: 'folder', folder: 'var/reception-out', url: null }),
    shelter: z
      .object({
        admitUnregistered: z.boolean().default(true),
        rosterDir: z.string().default('var/roster'),
      })
      .strict()
      .default({ admitUnregistered: true, rosterDir: 'var/roster' }),
    kiosk: z
      .object({
        sessionTimeoutSeconds: z.number().int().positive().default(120),
        /** The service menu, in the order shown; names come from here, never from code. */
        services: z.array(KioskServiceSchema).default([]),
        /** Service providers by id (a service names one). */
        providers: z.record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}$/), ServiceProviderSchema).default({}),
        /**
         * Where the store's POS reads fee hand-off records (one JSON file each, mode 0600); relative to the
         * data folder. Null: the journal only.
         */
        posHandoffDir: z.string().nullable().default('pos-handoff'),
      })
      .strict()
      .default({ sessionTimeoutSeconds: 120, services: [], providers: {}, posHandoffDir: 'pos-handoff' }),
  })
  .strict();

export const SyncSchema = z
  .object({
    enabled: z.boolean().default(false),
    /**
     * The hub. `https:` outside the demo profile; plain `http:` only to a loopback address (127.0.0.0/8,
     * ::1, localhost), where nothing on the network can read or change the exchange (config/load.ts).
     */
    hubUrl: z.string().url().nullable().default(null),
    /**
     * A PEM file of the CA(s) the hub's TLS certificate chains to, for a hub with a private CA; read when
     * sync starts and given to the HTTPS agent. Null: the system's CAs.
     */
    caFile: z.string().nullable().default(null),
    /**
     * The hub's root of trust (signed JSON, `jpki-kiosk hub root show` prints its path): names the publisher
     * keys every batch must be signed with. Pinned; root-signed successors replace it in the data folder.
     */
    rootPath: z.string().nullable().default(null),
    pullIntervalSeconds: z.number().int().positive().default(120),
    pushIntervalSeconds: z.number().int().positive().default(60),
    /**
     * Whitelist and revocations by content address: immutable pieces any HTTP cache or CDN may serve,
     * each checked against the hub's signed checkpoint (docs/sync.md "Cacheable distribution").
     */
    contentAddressed: z.boolean().default(true),
    /**
     * Hubs in order of preference after `hubUrl` (e.g. the venue hub first, then the central hub): the
     * terminal fails over to the next on an unreachable hub and goes back to the first when it answers.
     */
    hubUrls: z.array(z.string().url()).max(8).default([]),
  })
  .strict();

export const HidDeviceSchema = z
  .object({
    driver: z.enum(['usbrelay', 'signal-tower', 'software']),
    vendorId: z.number().int().min(0).max(0xffff).nullable().default(null),
    productId: z.number().int().min(0).max(0xffff).nullable().default(null),
    serial: z.string().nullable().default(null),
    path: z.string().nullable().default(null),
    channel: z.number().int().min(1).max(8).default(1),
    pulseMs: Duration.default(800),
    /** Relay boards with a passage sensor report it on this input; null: wait passageTimeoutMs. */
    passageInput: z.number().int().min(1).max(8).nullable().default(null),
    passageTimeoutMs: Duration.default(8000),
  })
  .strict();

export const ActuatorsSchema = z
  .object({
    gate: HidDeviceSchema.nullable().default(null),
    signal: HidDeviceSchema.nullable().default(null),
  })
  .strict();

export const UiSchema = z
  .object({
    /** Staff mode unlocks with this PIN (a secret reference): 6 to 12 digits outside the demo profile. */
    staffPin: SecretRef.default({ env: 'JPKI_STAFF_PIN' }),
    volume: z.number().min(0).max(1).default(0.8),
    resultHoldMs: Duration.default(3000),
  })
  .strict();

export const ServerSchema = z
  .object({
    host: z.literal('127.0.0.1').default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(8620),
  })
  .strict();

export const LogSchema = z
  .object({
    level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    mode: z.enum(['pretty', 'json', 'file']).default('pretty'),
    dir: z.string().default('var/log'),
  })
  .strict();

export const DemoSchema = z
  .object({
    /** Generate the demo PKI, token, data and virtual cards on first use. */
    enabled: z.boolean().default(false),
    vpcdPort: z.number().int().min(1).max(65535).default(35963),
  })
  .strict();

/** The terminal's GET /healthz and GET /metrics (Prometheus text format), main/core/metrics/. */
export const MetricsSchema = z
  .object({
    enabled: z.boolean().default(false),
    /** Loopback by default; any other address needs `token`. */
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9621),
    /** Bearer token Prometheus presents (an env variable or an owner-only file, never inline). */
    token: SecretRef.nullable().default(null),
  })
  .strict();

export const ConfigSchema = z
  .object({
    /** config/upgrade.ts brings older files up to this version before the schema sees them. */
    version: z.literal(2),
    profile: z.enum(ProfileNames),
    site: SiteSchema.default(SiteSchema.parse({})),
    trust: TrustSchema,
    card: CardSchema.default(CardSchema.parse({})),
    hsm: HsmSchema.default(HsmSchema.parse({})),
    data: DataSchema.default(DataSchema.parse({})),
    revocation: RevocationSchema.default(RevocationSchema.parse({})),
    clock: ClockSchema.default(ClockSchema.parse({})),
    policy: PolicySchema.default(PolicySchema.parse({})),
    sync: SyncSchema.default(SyncSchema.parse({})),
    actuators: ActuatorsSchema.default(ActuatorsSchema.parse({})),
    ui: UiSchema.default(UiSchema.parse({})),
    server: ServerSchema.default(ServerSchema.parse({})),
    log: LogSchema.default(LogSchema.parse({})),
    demo: DemoSchema.default(DemoSchema.parse({})),
    printing: PrintingSchema.default(PrintingSchema.parse({})),
    metrics: MetricsSchema.default(MetricsSchema.parse({})),
  })
  .strict();

export type KioskConfigInput = z.input<typeof ConfigSchema>;
export type KioskConfigParsed = z.output<typeof ConfigSchema>;
