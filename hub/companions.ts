// Companion seat transfers. The purchaser's ticket holds several seats (ticket entitlements of one event,
// one seat each). The operator issues one one-time, expiring code per seat (`hub transfer-code create`);
// a companion touches their own card at a staff-attended registration terminal, staff enter the code,
// and the terminal sends it with the card's certificate-derived reference, signed with its HSM key.
// The hub then publishes ONE signed whitelist batch: the companion's row gains the seat, the purchaser's
// row loses it; the code is spent in the same transaction. Gates learn it with their next delta.
//
// The hub keeps rows only sealed under each card's SPKI hash (whitelist/privacy.ts), so to rewrite the
// purchaser's row it needs that hash: it is kept sealed under a key derived from the code itself, which
// the hub stores only as a digest — the hub's database alone opens no purchaser row.
import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  randomInt,
} from 'node:crypto';
import { KioskError } from '../base/errors.js';
import { SiteKinds, siteFeatures, type SiteKind } from '../base/site-kinds.js';
import {
  TRANSFER_CODE_ALPHABET,
  TRANSFER_CODE_LENGTH,
  normalizeTransferCode,
  type CompanionBindAnswer,
  type CompanionBindRequest,
} from '../protocol/companion.js';
import type { CardRecord, CardRecordInput, Entitlement } from '../whitelist/entitlements.js';
import { openCardRecord, type IndexKey } from '../whitelist/privacy.js';
import type { Publisher } from './publisher.js';
import type { HubStore, TerminalRecord } from './store.js';

type Ticket = Extract<Entitlement, { kind: 'ticket' }>;

/**
 * Site kinds whose terminals may bind a companion (`siteFeatures[kind].bindsCompanions`): a staff-attended
 * desk (the stadium's box office is a stadium-gate terminal in staff mode; a hospital reception desk).
 * Never an unattended convenience kiosk, nor a shelter (no tickets). docs/decision.md.
 */
export const REGISTRATION_SITE_KINDS: readonly SiteKind[] = SiteKinds.filter(
  (k) => siteFeatures[k].bindsCompanions,
);

const MAX_TTL_SECONDS = 90 * 86_400;
const SEAL_LABEL = 'jpki-kiosk/transfer-code/v1';

const digest = (code: string): string => createHash('sha256').update(code).digest('hex');

/** The key that seals the purchaser's SPKI hash: from the code, never stored. */
function codeKey(code: string): Buffer {
  return createHmac('sha256', code).update(SEAL_LABEL).digest();
}

function sealSpki(code: string, spki: Buffer): Buffer {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', codeKey(code), iv);
  const body = Buffer.concat([c.update(spki), c.final()]);
  return Buffer.concat([iv, body, c.getAuthTag()]);
}

function openSpki(code: string, sealed: Buffer): Buffer | null {
  try {
    const d = createDecipheriv('aes-256-gcm', codeKey(code), sealed.subarray(0, 12));
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    return Buffer.concat([d.update(sealed.subarray(12, sealed.length - 16)), d.final()]);
  } catch {
    return null;
  }
}

/** Whitelist rows by key (hex), read in one consistent pass of the hub's state. */
function stateRows(store: HubStore, keys: Set<string>): Map<string, Buffer> {
  const found = new Map<string, Buffer>();
  const state = store.readState('whitelist');
  try {
    for (const r of state.rows) {
      const k = r.k.toString('hex');
      if (keys.has(k)) found.set(k, Buffer.from(r.v));
      if (found.size === keys.size) break;
    }
  } finally {
    state.close();
  }
  return found;
}

const isSeat = (e: Entitlement, eventId: string, seat: string): e is Ticket =>
  e.kind === 'ticket' && e.eventId === eventId && e.seat === seat;

export interface PurchaserCard {
  issuerKeyId: string;
  serial: string;
  spkiSha256: string;
}

export interface IssuedTransferCode {
  seat: string;
  code: string;
  expiresAt: number;
}

/**
 * One code per seat of the purchaser's ticket for `eventId` (all its seats when `seats` is empty). The
 * purchaser's card reference is what the operator's ticketing system knows (the same as its import
 * rows); the row must open with it and hold each seat.
 */
export function issueTransferCodes(
  o: { store: HubStore; indexKey: IndexKey },
  purchaser: PurchaserCard,
  eventId: string,
  seats: string[],
  ttlSeconds: number,
  now: number,
): IssuedTransferCode[] {
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > MAX_TTL_SECONDS)
    throw new KioskError('INVALID_REQUEST', '--ttl must be between 1 second and 90 days');
  const spki = Buffer.from(purchaser.spkiSha256, 'hex');
  if (spki.length !== 32) throw new KioskError('INVALID_REQUEST', '--spki must be 64 hex characters');
  const k = o.indexKey.cardKey(purchaser.issuerKeyId, purchaser.serial);
  const sealed = stateRows(o.store, new Set([k.toString('hex')])).get(k.toString('hex'));
  const record = sealed ? openCardRecord(sealed, k, spki) : null;
  if (!record)
    throw new KioskError(
      'TRANSFER_REFUSED',
      'the purchaser card has no whitelist entry that opens with --spki',
    );
  const held = record.entitlements.filter(
    (e): e is Ticket => e.kind === 'ticket' && e.eventId === eventId && e.seat !== undefined,
  );
  const wanted = seats.length > 0 ? seats : held.map((e) => e.seat!);
  if (wanted.length === 0)
    throw new KioskError('TRANSFER_REFUSED', `the purchaser holds no seat for event ${eventId}`);
  for (const seat of wanted)
    if (!held.some((e) => e.seat === seat))
      throw new KioskError('TRANSFER_REFUSED', `the purchaser holds no seat ${seat} for event ${eventId}`);
  const expiresAt = now + ttlSeconds * 1000;
  return wanted.map((seat) => {
    let code = '';
    for (let i = 0; i < TRANSFER_CODE_LENGTH; i++)
      code += TRANSFER_CODE_ALPHABET[randomInt(TRANSFER_CODE_ALPHABET.length)];
    o.store.createTransferCode({
      codeSha256: digest(code),
      purchaserK: k.toString('hex'),
      purchaserScope: purchaser.issuerKeyId.toLowerCase(),
      eventId,
      seat,
      sealedSpki: sealSpki(code, spki),
      createdAt: now,
      expiresAt,
    });
    return { seat, code, expiresAt };
  });
}

/** A companion's subject when their card had no entry: stable per card, says nothing about them. */
function companionSubject(kHex: string): string {
  return `companion-${createHash('sha256').update(`companion\0${kHex}`).digest('hex').slice(0, 24)}`;
}

/**
 * Binds the code's seat to the companion's card: checks the code (TRANSFER_CODE_UNKNOWN, _USED,
 * _EXPIRED), the terminal (a registration desk of the purchaser's… any site: TRANSFER_REFUSED for other
 * kinds), the purchaser's row (still holding the seat) and the companion's (opens with the card's SPKI
 * hash when it exists), then publishes both rows as one batch with the code spent in its transaction.
 */
export function bindCompanion(
  o: { store: HubStore; publisher: Publisher },
  terminal: TerminalRecord,
  request: CompanionBindRequest,
  now: number,
): CompanionBindAnswer {
  const code = normalizeTransferCode(request.code);
  const rec = code ? o.store.transferCode(digest(code)) : null;
  if (!code || !rec)
    throw new KioskError('TRANSFER_CODE_UNKNOWN', 'this transfer code is not known to the hub');
  if (rec.usedAt !== null) throw new KioskError('TRANSFER_CODE_USED', 'this transfer code has been used');
  if (now > rec.expiresAt) throw new KioskError('TRANSFER_CODE_EXPIRED', 'this transfer code has expired');
  if (!(REGISTRATION_SITE_KINDS as readonly string[]).includes(terminal.siteKind))
    throw new KioskError('TRANSFER_REFUSED', `a ${terminal.siteKind} terminal is not a registration desk`);
  const purchaserSpki = openSpki(code, rec.sealedSpki);
  if (!purchaserSpki)
    throw new KioskError('TRANSFER_CODE_UNKNOWN', 'this transfer code is not known to the hub');

  const companionK = o.publisher.indexKey.cardKey(request.issuerKeyId, request.serial);
  const cHex = companionK.toString('hex');
  if (cHex === rec.purchaserK)
    throw new KioskError('TRANSFER_REFUSED', 'this is the purchaser’s own card: touch the companion’s card');
  const rows = stateRows(o.store, new Set([rec.purchaserK, cHex]));
  const pSealed = rows.get(rec.purchaserK);
  const pK = Buffer.from(rec.purchaserK, 'hex');
  const purchaser = pSealed ? openCardRecord(pSealed, pK, purchaserSpki) : null;
  const seatAt = purchaser ? purchaser.entitlements.findIndex((e) => isSeat(e, rec.eventId, rec.seat)) : -1;
  if (!purchaser || seatAt < 0)
    throw new KioskError('TRANSFER_REFUSED', `seat ${rec.seat} is no longer on the purchaser’s ticket`);
  const ticket = purchaser.entitlements[seatAt] as Ticket;

  let companion: CardRecord | null = null;
  const cSealed = rows.get(cHex);
  if (cSealed) {
    companion = openCardRecord(cSealed, companionK, request.spkiSha256);
    // A row under this card's key that its public key does not open: another key on the same serial.
    if (!companion) throw new KioskError('TRANSFER_REFUSED', 'the card does not match its whitelist entry');
  }
  const companionRecord: CardRecordInput = companion
    ? { ...companion, entitlements: [...companion.entitlements, ticket] }
    : { subject: companionSubject(cHex), entitlements: [ticket] };
  if (companionRecord.entitlements!.length > 16)
    throw new KioskError('TRANSFER_REFUSED', 'the companion’s entry holds the most entitlements it can');
  const purchaserRecord: CardRecordInput = {
    ...purchaser,
    entitlements: purchaser.entitlements.filter((_, i) => i !== seatAt),
  };

  // The hub knows the purchaser's row only by its key (no issuer and serial kept), so both rows are
  // sealed by key; the companion's digest is its import row's, so an import naming it counts unchanged.
  const summary = o.publisher.publishSealedRows(
    [
      {
        k: pK,
        spkiSha256: purchaserSpki.toString('hex'),
        record: purchaserRecord,
        scope: rec.purchaserScope,
        input: { k: rec.purchaserK, spkiSha256: purchaserSpki.toString('hex'), record: purchaserRecord },
      },
      {
        k: companionK,
        spkiSha256: request.spkiSha256,
        record: companionRecord,
        scope: request.issuerKeyId,
        input: {
          issuerKeyId: request.issuerKeyId,
          serial: request.serial,
          spkiSha256: request.spkiSha256,
          record: companionRecord,
        },
      },
    ],
    `seat ${rec.seat} of ${rec.eventId} moved to a companion by ${terminal.terminalId}`,
    { codeSha256: rec.codeSha256, at: now, usedBy: cHex },
  );
  return { eventId: rec.eventId, seat: rec.seat, whitelistHead: summary.head };
}
