// Which pushed journal rows change where a person is, for global anti-passback and shelter rosters.
// grant and passage put the subject on the side of the gate's direction; an annulment (the admitted
// person never went through) puts them back. Other kinds change nothing.
import type { PushRecord } from '../main/core/sync/protocol.js';
import type { PeerEntryOp } from '../whitelist/feed-format.js';

export interface RecordBody {
  kind?: unknown;
  subject?: unknown;
  gateId?: unknown;
  direction?: unknown;
  ref?: unknown;
  wall?: unknown;
}

/** A pushed journal record's body, or null when it is not a JSON object. */
export function parseRecordBody(body: string): RecordBody | null {
  try {
    const v = JSON.parse(body) as unknown;
    return v && typeof v === 'object' ? (v as RecordBody) : null;
  } catch {
    return null;
  }
}

export function presenceFromRow(
  row: PushRecord,
  lookup: (seq: number) => PushRecord | null,
  terminal: { terminalId: string; gateId: string; zone: string },
): PeerEntryOp | null {
  const r = parseRecordBody(row.body);
  if (!r || typeof r.kind !== 'string') return null;
  if (r.kind !== 'grant' && r.kind !== 'passage' && r.kind !== 'annulment') return null;
  let subject = typeof r.subject === 'string' ? r.subject : null;
  let direction = r.direction === 'exit' ? 'exit' : r.direction === 'entry' ? 'entry' : null;
  if ((subject === null || direction === null) && typeof r.ref === 'number') {
    const ref = lookup(r.ref);
    const g = ref ? parseRecordBody(ref.body) : null;
    subject ??= typeof g?.subject === 'string' ? g.subject : null;
    direction ??= g?.direction === 'exit' ? 'exit' : g?.direction === 'entry' ? 'entry' : null;
  }
  if (!subject || !direction || subject.length > 64) return null;
  const at = typeof r.wall === 'string' ? Date.parse(r.wall) : NaN;
  if (!Number.isFinite(at) || at < 0) return null;
  let inside = direction === 'entry';
  if (r.kind === 'annulment') inside = !inside;
  return {
    op: 'presence',
    subject,
    state: inside ? 'inside' : 'outside',
    terminalId: terminal.terminalId,
    gateId:
      typeof r.gateId === 'string' && r.gateId.length > 0 && r.gateId.length <= 64
        ? r.gateId
        : terminal.gateId,
    zone: terminal.zone,
    at,
    journalSeq: row.seq,
  };
}
