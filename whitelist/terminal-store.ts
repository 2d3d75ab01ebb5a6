// TerminalStore: the terminal's own durable state in one SQLite file (terminal.db, synchronous=FULL):
// the entry journal, presence for anti-passback, and the peer-entries feed that updates presence from
// other terminals. Its writes are small and must survive a power cut the moment they return.
import { join } from 'node:path';
import { KioskError } from '../base/errors.js';
import { integrityCheck, migrate, openDb, type Db, type Durability, type Migration } from './db.js';
import type { FeedBatch, PeerEntryOp } from '../protocol/feed-format.js';
import {
  FEED_STATE_SQL,
  FEED_STATE_V2_SQL,
  FeedStateTable,
  checkSequence,
  type FeedState,
  type Freshness,
} from './feed-state.js';
import { Journal, journalMigrations } from './journal.js';
import { chainDigestFromHash, type Checkpoint } from '../protocol/checkpoint.js';

export const terminalMigrations: Migration[] = [
  ...journalMigrations,
  {
    version: 2,
    sql: `${FEED_STATE_SQL}
      INSERT INTO feed_state (feed, seq) VALUES ('peer-entries', 0);
      CREATE TABLE presence (
        subject TEXT PRIMARY KEY,
        state TEXT NOT NULL CHECK (state IN ('inside', 'outside')),
        terminal_id TEXT NOT NULL,
        gate_id TEXT NOT NULL,
        zone TEXT NOT NULL,
        at INTEGER NOT NULL
      ) WITHOUT ROWID;`,
  },
  { version: 3, sql: FEED_STATE_V2_SQL },
  {
    // Staff PIN lockout: one row, so a restart of the core does not give a guesser a fresh count.
    version: 10,
    sql: `CREATE TABLE staff_lockout (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        failures INTEGER NOT NULL,
        lockouts INTEGER NOT NULL,
        locked_out_until INTEGER NOT NULL
      );`,
  },
];

/** Wrong staff PINs since the last lockout, lockouts since the last right PIN, and the lockout's end. */
export interface StaffLockoutRow {
  failures: number;
  lockouts: number;
  lockedOutUntil: number;
}

export interface Presence {
  subject: string;
  state: 'inside' | 'outside';
  terminalId: string;
  gateId: string;
  zone: string;
  /** Event time, ms since 1970. */
  at: number;
}

export class TerminalStore {
  readonly journal: Journal;
  private readonly peerState: FeedStateTable;
  private readonly presenceGet;
  private readonly presenceUpsert;

  private constructor(
    readonly db: Db,
    readonly file: string,
  ) {
    this.journal = new Journal(db);
    this.peerState = new FeedStateTable(db, 'peer-entries');
    this.presenceGet = db.prepare(
      'SELECT subject, state, terminal_id, gate_id, zone, at FROM presence WHERE subject = ?',
    );
    // Newest event wins, whichever terminal saw it (ties: the later write).
    this.presenceUpsert = db.prepare(
      `INSERT INTO presence (subject, state, terminal_id, gate_id, zone, at) VALUES (@subject, @state, @terminalId, @gateId, @zone, @at)
       ON CONFLICT (subject) DO UPDATE SET state = excluded.state, terminal_id = excluded.terminal_id,
         gate_id = excluded.gate_id, zone = excluded.zone, at = excluded.at WHERE excluded.at >= presence.at`,
    );
  }

  static open(dir: string, options: { durability?: Durability; readonly?: boolean } = {}): TerminalStore {
    const file = join(dir, 'terminal.db');
    const db = openDb(file, {
      durability: options.durability ?? 'full',
      readonly: options.readonly ?? false,
    });
    try {
      if (!options.readonly) migrate(db, terminalMigrations, file);
      return new TerminalStore(db, file);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  // ---- presence (anti-passback) ----

  presence(subject: string): Presence | undefined {
    const r = this.presenceGet.get(subject) as
      | {
          subject: string;
          state: 'inside' | 'outside';
          terminal_id: string;
          gate_id: string;
          zone: string;
          at: number;
        }
      | undefined;
    return (
      r && {
        subject: r.subject,
        state: r.state,
        terminalId: r.terminal_id,
        gateId: r.gate_id,
        zone: r.zone,
        at: r.at,
      }
    );
  }

  /** Records a local passage or exit. Returns false if a newer event for the subject is already stored. */
  setPresence(p: Presence): boolean {
    if (!p.subject || (p.state !== 'inside' && p.state !== 'outside') || !Number.isInteger(p.at))
      throw new KioskError('INVALID_REQUEST', 'presence: subject, state and integer time are required');
    return this.presenceUpsert.run(p).changes > 0;
  }

  /** Daily or manual reset: everyone counts as outside again. Returns rows removed. */
  resetPresence(before: number = Number.MAX_SAFE_INTEGER): number {
    return this.db.prepare('DELETE FROM presence WHERE at < ?').run(before).changes;
  }

  // ---- peer-entries feed ----

  peerFeedState(): FeedState {
    return this.peerState.get();
  }

  peerFreshness(now?: number): Freshness {
    return this.peerState.freshness(now);
  }

  /** Check-and-set of a verified peer-entries checkpoint (FeedStateTable.acceptCheckpoint). */
  acceptPeerCheckpoint(c: Checkpoint, expect: { nonce: string }, receivedAt: number): FeedState {
    return this.peerState.acceptCheckpoint(c, expect, receivedAt);
  }

  /**
   * Forgets the peer-entries position (not the presence it brought): each hub keeps its own peer feed
   * (a venue hub and the central hub number theirs apart), so a terminal that moves to another hub reads
   * that hub's feed from the start. Presence ops are newest-wins, so reading them again changes nothing.
   */
  resetPeerFeed(): void {
    const s = this.peerState.get();
    this.peerState.set({ ...s, epoch: null, seq: 0, digest: null, checkpoint: null, publisherKeyId: null });
  }

  markPeerSynced(at: Date, asOf?: string): void {
    this.peerState.markSynced(at, asOf);
  }

  /** Applies a verified peer-entries batch: presence updates and the sequence, in one transaction. */
  applyPeerBatch(batch: FeedBatch, batchSha256?: Buffer): { toSeq: number; applied: number } {
    if (batch.feed !== 'peer-entries')
      throw new KioskError('DELTA_MALFORMED', `a ${batch.feed} batch cannot apply to the peer-entries feed`);
    let applied = 0;
    this.db
      .transaction(() => {
        const s = this.peerState.get();
        checkSequence(s, batch);
        for (const op of batch.ops as PeerEntryOp[]) {
          applied += this.presenceUpsert.run({
            subject: op.subject,
            state: op.state,
            terminalId: op.terminalId,
            gateId: op.gateId,
            zone: op.zone,
            at: op.at,
          }).changes;
        }
        this.peerState.set({
          ...s,
          epoch: batch.epoch,
          seq: batch.toSeq,
          publisherKeyId: batch.publisherKeyId,
          asOf: batch.asOf,
          lastSyncAt: new Date().toISOString(),
          digest: batchSha256 ? chainDigestFromHash(s.digest ?? null, batchSha256) : null,
        });
      })
      .immediate();
    return { toSeq: batch.toSeq, applied };
  }

  // ---- staff PIN lockout ----

  staffLockout(): StaffLockoutRow | null {
    const r = this.db
      .prepare('SELECT failures, lockouts, locked_out_until FROM staff_lockout WHERE id = 1')
      .get() as { failures: number; lockouts: number; locked_out_until: number } | undefined;
    return r ? { failures: r.failures, lockouts: r.lockouts, lockedOutUntil: r.locked_out_until } : null;
  }

  setStaffLockout(row: StaffLockoutRow): void {
    this.db
      .prepare(
        `INSERT INTO staff_lockout (id, failures, lockouts, locked_out_until) VALUES (1, @failures, @lockouts, @lockedOutUntil)
         ON CONFLICT (id) DO UPDATE SET failures = excluded.failures, lockouts = excluded.lockouts,
           locked_out_until = excluded.locked_out_until`,
      )
      .run(row);
  }

  integrity(): string {
    return integrityCheck(this.db);
  }

  close(): void {
    this.db.close();
  }
}
