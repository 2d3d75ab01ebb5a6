// Which pushed journal rows change where a person is, for global anti-passback and shelter rosters.
// grant and passage put the subject on the side of the gate's direction; an annulment (the admitted
// person never went through) puts them back. Other kinds change nothing.
//
// What the hub derives trusts only what it knows itself: the gate is the one the terminal was registered
// at (not the gate id the record claims), and the time is the record's claimed wall time clamped to what
// the hub can vouch for — no later than receive time + the allowed skew, no earlier than the terminal's
// registration − the allowed skew. A terminal with a wrong clock (or a hostile one) can thus neither pin
// someone "inside" forever with a far-future time (later exits would never supersede it) nor be taken as
// another gate. The lower bound is not receive time − skew: journals kept offline for hours arrive late
// and must keep their order. The record itself is stored as pushed.
import type { PushRecord } from '../protocol/sync.js';
import type { PeerEntryOp } from '../protocol/feed-format.js';
import { readJournalRecord } from '../protocol/journal-record.js';

export interface RecordTimeBounds {
  /** When the hub received the push. */
  receivedAt: number;
  /** The allowed clock skew (ms), the same the request check uses. */
  maxSkewMs: number;
}

/** The time presence and conflicts use for a record: its claimed time, clamped (see the header). */
export function derivedRecordTime(
  claimed: number,
  terminal: { registeredAt?: number },
  bounds: RecordTimeBounds,
): number {
  const latest = bounds.receivedAt + bounds.maxSkewMs;
  const earliest = Math.min(latest, (terminal.registeredAt ?? 0) - bounds.maxSkewMs);
  return Math.min(latest, Math.max(earliest, claimed));
}

export function presenceFromRow(
  row: PushRecord,
  lookup: (seq: number) => PushRecord | null,
  terminal: { terminalId: string; gateId: string; zone: string; registeredAt?: number },
  bounds: RecordTimeBounds,
): PeerEntryOp | null {
  const r = readJournalRecord(row.body);
  if (!r) return null;
  if (r.kind !== 'grant' && r.kind !== 'passage' && r.kind !== 'annulment') return null;
  let subject = r.subject ?? null;
  if (subject === null && r.ref !== undefined) {
    const ref = lookup(r.ref);
    subject = (ref ? readJournalRecord(ref.body)?.subject : undefined) ?? null;
  }
  if (!subject) return null;
  const direction = r.direction;
  const claimed = Date.parse(r.wall);
  if (!Number.isFinite(claimed)) return null;
  const at = derivedRecordTime(claimed, terminal, bounds);
  if (at < 0) return null;
  let inside = direction === 'entry';
  if (r.kind === 'annulment') inside = !inside;
  return {
    op: 'presence',
    subject,
    state: inside ? 'inside' : 'outside',
    terminalId: terminal.terminalId,
    gateId: terminal.gateId,
    zone: terminal.zone,
    at,
    journalSeq: row.seq,
  };
}
