// Double entries across terminals (global anti-passback that sync could not prevent): two gates offline,
// or gate B admitting before it learned of gate A's entry. The hub detects and flags them for an
// operator; it never undoes an entry, because the person is already inside.
import type { PushRecord } from '../protocol/sync.js';
import { readJournalRecord } from '../protocol/journal-record.js';

/**
 * What a site kind means for a second entry of someone already inside:
 * - `record`: a stadium gate admits each ticket holder once, so a second admission is a conflict;
 * - `harmless`: a shelter check-in while already checked in only confirms the person is there;
 * - `untracked`: reception desks and kiosks admit nobody into an area, so there is nothing to compare.
 */
export type ConflictPolicy = 'record' | 'harmless' | 'untracked';

export function conflictPolicy(siteKind: string): ConflictPolicy {
  if (siteKind === 'stadium-gate') return 'record';
  if (siteKind === 'shelter') return 'harmless';
  return 'untracked';
}

export interface ConflictEntry {
  terminalId: string;
  gateId: string;
  at: number;
  /** The journal seq of the grant that admitted the person at that terminal. */
  journalSeq: number;
}

export interface EntryConflict {
  id: number;
  siteId: string;
  /** Platform subject id (pseudonymous); never a card serial or the individual number. */
  subject: string;
  earlier: ConflictEntry;
  /** The entry made while the earlier one still had the person inside: the one that should not have happened. */
  later: ConflictEntry;
  detectedAt: number;
  resolvedAt: number | null;
  resolvedBy: string | null;
  note: string | null;
}

export interface PresenceRecordFacts {
  kind: 'grant' | 'passage' | 'annulment';
  /** The grant this record belongs to: a grant is its own, a passage or annulment names it in `ref`. */
  grantSeq: number;
}

/** Reads the same fields presenceFromRow reads, to tie passages and annulments back to their grant. */
export function presenceRecordFacts(row: PushRecord): PresenceRecordFacts | null {
  const body = readJournalRecord(row.body);
  if (!body) return null;
  if (body.kind === 'grant') return { kind: 'grant', grantSeq: row.seq };
  if ((body.kind === 'passage' || body.kind === 'annulment') && body.ref !== undefined)
    return { kind: body.kind, grantSeq: body.ref };
  return null;
}
