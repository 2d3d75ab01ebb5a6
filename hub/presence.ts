// Which pushed journal rows change where a person is, for global anti-passback and shelter rosters.
// grant and passage put the subject on the side of the gate's direction; an annulment (the admitted
// person never went through) puts them back. Other kinds change nothing.
import type { PushRecord } from '../protocol/sync.js';
import type { PeerEntryOp } from '../protocol/feed-format.js';
import { readJournalRecord } from '../protocol/journal-record.js';

export function presenceFromRow(
  row: PushRecord,
  lookup: (seq: number) => PushRecord | null,
  terminal: { terminalId: string; gateId: string; zone: string },
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
  const at = Date.parse(r.wall);
  if (!Number.isFinite(at) || at < 0) return null;
  let inside = direction === 'entry';
  if (r.kind === 'annulment') inside = !inside;
  return {
    op: 'presence',
    subject,
    state: inside ? 'inside' : 'outside',
    terminalId: terminal.terminalId,
    gateId: r.gateId,
    zone: terminal.zone,
    at,
    journalSeq: row.seq,
  };
}
