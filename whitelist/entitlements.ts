// What a whitelist row says about a card: the subject (a platform ID, never the individual number) and
// its entitlements. Validated with zod wherever rows are built (hub, import CLI) and again after
// decryption at lookup, and packed into a compact binary form so a row stays under 100 bytes on disk.
import { z } from 'zod';
import { KioskError } from '../base/errors.js';
import { Languages } from '../base/languages.js';

const Id = z.string().min(1).max(64);
const Short = z.string().min(1).max(32);
const IsoDate = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'YYYY-MM-DD');
const IsoTime = z.iso.datetime({ offset: true });

export const TicketEntitlement = z
  .object({
    kind: z.literal('ticket'),
    eventId: Id,
    seat: Short.optional(),
    zones: z.array(Short).max(16).default([]),
    gates: z.array(Short).max(16).default([]),
    validFrom: IsoTime,
    validTo: IsoTime,
    /** How many entries the ticket allows; 0 = unlimited. */
    entriesAllowed: z.number().int().min(0).max(255).default(1),
    /** Overrides the site's re-entry policy for this ticket. */
    reentry: z.enum(['deny', 'after-exit', 'allow']).optional(),
  })
  .strict();

export const InsuranceEntitlement = z
  .object({
    kind: z.literal('insurance'),
    insurerNumber: z.string().regex(/^\d{6}$|^\d{8}$/, '6 or 8 digits'),
    symbol: z.string().max(32).optional(),
    number: z.string().min(1).max(32),
    branch: z
      .string()
      .regex(/^\d{2}$/, '2 digits')
      .optional(),
    /** Co-pay ratio 0..1 (e.g. 0.3). */
    copayRatio: z.number().min(0).max(1),
    validFrom: IsoDate,
    validTo: IsoDate.optional(),
    status: z.enum(['valid', 'expired', 'superseded']),
  })
  .strict();

export const ResidentEntitlement = z
  .object({
    kind: z.literal('resident'),
    residentId: Id,
    householdId: Id,
    displayName: z.string().min(1).max(64),
    careNeeds: z.array(Short).max(16).default([]),
  })
  .strict();

export const MemberEntitlement = z
  .object({
    kind: z.literal('member'),
    memberId: Id,
    tier: Short.optional(),
    validTo: IsoDate.optional(),
  })
  .strict();

export const Entitlement = z.discriminatedUnion('kind', [
  TicketEntitlement,
  InsuranceEntitlement,
  ResidentEntitlement,
  MemberEntitlement,
]);
export type Entitlement = z.output<typeof Entitlement>;
export type EntitlementKind = Entitlement['kind'];

/** The decrypted content of one whitelist row. */
export const CardRecord = z
  .object({
    subject: Id,
    entitlements: z.array(Entitlement).max(16),
    /** The holder's language (like an order's locale): the result screen speaks it for this person. */
    language: z.enum(Languages).optional(),
  })
  .strict();
export type CardRecord = z.output<typeof CardRecord>;
export type CardRecordInput = z.input<typeof CardRecord>;

// ---- compact binary codec ------------------------------------------------------------------------
// Layout: subject, entitlement count, then per entitlement a kind byte, a presence bitmap for optional
// fields and the fields in a fixed order. Strings are varint length + UTF-8; digit strings (insurer
// number, symbol, number, branch) are varint(value × 16 + length) when up to 14 digits, else 0 + string;
// dates are days and times seconds since 1970, as varints. The seal's version byte versions this layout.
// Optional record fields follow the entitlements as tagged values (tag byte, then the value), so rows
// without them keep their old bytes.
const KIND_CODE: Record<EntitlementKind, number> = { ticket: 1, insurance: 2, resident: 3, member: 4 };
const REENTRY = ['deny', 'after-exit', 'allow'] as const;
const STATUS = ['valid', 'expired', 'superseded'] as const;
const DAY_MS = 86_400_000;
const TAG_LANGUAGE = 1;

class Writer {
  private buf = Buffer.allocUnsafe(128);
  private len = 0;
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.len++] = v;
  }
  varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint out of range: ${v}`);
    while (v >= 0x80) {
      this.u8((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.u8(v);
  }
  str(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.varint(bytes.length);
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.len);
    this.len += bytes.length;
  }
  strs(list: readonly string[]): void {
    this.varint(list.length);
    for (const s of list) this.str(s);
  }
  digits(s: string): void {
    if (/^\d{1,14}$/.test(s)) this.varint(Number(s) * 16 + s.length);
    else {
      this.varint(0);
      this.str(s);
    }
  }
  done(): Buffer {
    return Buffer.from(this.buf.subarray(0, this.len));
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly buf: Uint8Array) {}
  u8(): number {
    if (this.pos >= this.buf.length) throw new RangeError('truncated');
    return this.buf[this.pos++]!;
  }
  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 0x80;
    }
    throw new RangeError('varint too long');
  }
  str(): string {
    const n = this.varint();
    if (this.pos + n > this.buf.length) throw new RangeError('truncated');
    const s = Buffer.from(this.buf.buffer, this.buf.byteOffset + this.pos, n).toString('utf8');
    this.pos += n;
    return s;
  }
  strs(): string[] {
    const n = this.varint();
    if (n > 64) throw new RangeError('list too long');
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push(this.str());
    return out;
  }
  digits(): string {
    const v = this.varint();
    if (v === 0) return this.str();
    const len = v % 16;
    const text = String(Math.floor(v / 16));
    if (text.length > len) throw new RangeError('bad digit string');
    return text.padStart(len, '0');
  }
  atEnd(): boolean {
    return this.pos >= this.buf.length;
  }
  end(): void {
    if (this.pos !== this.buf.length) throw new RangeError('trailing bytes');
  }
}

function dateToDays(d: string): number {
  return Math.round(Date.parse(`${d}T00:00:00Z`) / DAY_MS);
}
function daysToDate(n: number): string {
  return new Date(n * DAY_MS).toISOString().slice(0, 10);
}
function timeToSeconds(t: string): number {
  return Math.floor(Date.parse(t) / 1000);
}
function secondsToTime(n: number): string {
  return new Date(n * 1000).toISOString().replace('.000Z', 'Z');
}

/** Validates and packs a record. Malformed input → IMPORT_INVALID naming the field. */
export function encodeCardRecord(input: CardRecordInput): Buffer {
  const parsed = CardRecord.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new KioskError(
      'IMPORT_INVALID',
      `entitlement: ${issue.path.join('.') || '(row)'}: ${issue.message}`,
      {
        path: issue.path.join('.'),
      },
    );
  }
  const rec = parsed.data;
  const w = new Writer();
  w.str(rec.subject);
  w.varint(rec.entitlements.length);
  for (const e of rec.entitlements) {
    w.u8(KIND_CODE[e.kind]);
    switch (e.kind) {
      case 'ticket':
        w.u8((e.seat !== undefined ? 1 : 0) | (e.reentry !== undefined ? 2 : 0));
        w.str(e.eventId);
        if (e.seat !== undefined) w.str(e.seat);
        w.strs(e.zones);
        w.strs(e.gates);
        w.varint(timeToSeconds(e.validFrom));
        w.varint(timeToSeconds(e.validTo));
        w.u8(e.entriesAllowed);
        if (e.reentry !== undefined) w.u8(REENTRY.indexOf(e.reentry));
        break;
      case 'insurance':
        w.u8(
          (e.symbol !== undefined ? 1 : 0) |
            (e.branch !== undefined ? 2 : 0) |
            (e.validTo !== undefined ? 4 : 0),
        );
        w.digits(e.insurerNumber);
        if (e.symbol !== undefined) w.digits(e.symbol);
        w.digits(e.number);
        if (e.branch !== undefined) w.digits(e.branch);
        w.u8(Math.round(e.copayRatio * 100));
        w.varint(dateToDays(e.validFrom));
        if (e.validTo !== undefined) w.varint(dateToDays(e.validTo));
        w.u8(STATUS.indexOf(e.status));
        break;
      case 'resident':
        w.u8(0);
        w.str(e.residentId);
        w.str(e.householdId);
        w.str(e.displayName);
        w.strs(e.careNeeds);
        break;
      case 'member':
        w.u8((e.tier !== undefined ? 1 : 0) | (e.validTo !== undefined ? 2 : 0));
        w.str(e.memberId);
        if (e.tier !== undefined) w.str(e.tier);
        if (e.validTo !== undefined) w.varint(dateToDays(e.validTo));
        break;
    }
  }
  if (rec.language !== undefined) {
    w.u8(TAG_LANGUAGE);
    w.u8(Languages.indexOf(rec.language));
  }
  return w.done();
}

function pick<T>(list: readonly T[], index: number, what: string): T {
  const value = list[index];
  if (value === undefined) throw new RangeError(`bad ${what}`);
  return value;
}

function text(value: string, max: number, what: string): string {
  if (value.length === 0 || value.length > max) throw new RangeError(`bad ${what}`);
  return value;
}

/**
 * Unpacks a record. Hand-checked rather than zod-parsed: this runs on every lookup. Every field is
 * checked for what the schema guarantees (enums, lengths); anything inconsistent → STORE_CORRUPT.
 */
export function decodeCardRecord(bytes: Uint8Array): CardRecord {
  try {
    const r = new Reader(bytes);
    const subject = text(r.str(), 64, 'subject');
    const n = r.varint();
    if (n > 16) throw new RangeError('too many entitlements');
    const entitlements: Entitlement[] = [];
    for (let i = 0; i < n; i++) {
      const kind = r.u8();
      const flags = r.u8();
      if (kind === 1) {
        const e: Entitlement & { kind: 'ticket' } = {
          kind: 'ticket',
          eventId: text(r.str(), 64, 'eventId'),
          zones: [],
          gates: [],
          validFrom: '',
          validTo: '',
          entriesAllowed: 0,
        };
        if (flags & 1) e.seat = text(r.str(), 32, 'seat');
        e.zones = r.strs();
        e.gates = r.strs();
        e.validFrom = secondsToTime(r.varint());
        e.validTo = secondsToTime(r.varint());
        e.entriesAllowed = r.u8();
        if (flags & 2) e.reentry = pick(REENTRY, r.u8(), 'reentry');
        entitlements.push(e);
      } else if (kind === 2) {
        const insurerNumber = r.digits();
        if (!/^\d{6}$|^\d{8}$/.test(insurerNumber)) throw new RangeError('bad insurerNumber');
        const e = { kind: 'insurance', insurerNumber } as Entitlement & { kind: 'insurance' };
        if (flags & 1) e.symbol = r.digits();
        e.number = text(r.digits(), 32, 'number');
        if (flags & 2) e.branch = r.digits();
        const copay = r.u8();
        if (copay > 100) throw new RangeError('bad copayRatio');
        e.copayRatio = copay / 100;
        e.validFrom = daysToDate(r.varint());
        if (flags & 4) e.validTo = daysToDate(r.varint());
        e.status = pick(STATUS, r.u8(), 'status');
        entitlements.push(e);
      } else if (kind === 3) {
        entitlements.push({
          kind: 'resident',
          residentId: text(r.str(), 64, 'residentId'),
          householdId: text(r.str(), 64, 'householdId'),
          displayName: text(r.str(), 64, 'displayName'),
          careNeeds: r.strs(),
        });
      } else if (kind === 4) {
        const e: Entitlement & { kind: 'member' } = {
          kind: 'member',
          memberId: text(r.str(), 64, 'memberId'),
        };
        if (flags & 1) e.tier = text(r.str(), 32, 'tier');
        if (flags & 2) e.validTo = daysToDate(r.varint());
        entitlements.push(e);
      } else {
        throw new RangeError(`unknown entitlement kind ${kind}`);
      }
    }
    let language: CardRecord['language'];
    while (!r.atEnd()) {
      const tag = r.u8();
      if (tag === TAG_LANGUAGE && language === undefined) language = pick(Languages, r.u8(), 'language');
      else throw new RangeError(`unknown record tag ${tag}`);
    }
    r.end();
    return language === undefined ? { subject, entitlements } : { subject, entitlements, language };
  } catch (error) {
    throw new KioskError(
      'STORE_CORRUPT',
      `whitelist row does not decode: ${(error as Error).message}`,
      undefined,
      {
        cause: error,
      },
    );
  }
}
