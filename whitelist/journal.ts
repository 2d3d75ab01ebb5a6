// The entry journal: append-only, hash-chained records, periodically sealed with the terminal's key.
// Row hash = SHA-256(previous hash ‖ body), body = the record's JSON text (which includes its seq).
// A seal signs (seq, head hash) with the terminal key (HSM, via JournalSealer): it makes rewriting the
// chain up to that point detectable even by someone who recomputes all hashes.
import { randomBytes, type KeyObject } from 'node:crypto';
import type { z } from 'zod';
import { KioskError } from '../base/errors.js';
import type { Db, Migration } from './db.js';
import {
  chainHash,
  JournalEntryInput,
  sealMessage,
  verifySealSignature,
  type JournalKind,
  type JournalRecord,
  type JournalRow,
} from '../protocol/journal-record.js';

export {
  chainHash,
  JournalEntryInput,
  JournalKinds,
  sealMessage,
  verifySealSignature,
  type JournalKind,
  type JournalRecord,
  type JournalRow,
} from '../protocol/journal-record.js';

export interface JournalSeal {
  seq: number;
  /** Hex head hash at seq. */
  head: string;
  keyId: string;
  /** Base64 ECDSA P-256/SHA-256 signature over sealMessage(seq, head), IEEE P1363 (r‖s) or DER. */
  signature: string;
  at: string;
}

/** The terminal's signing key for seals; the HSM layer implements it. */
export interface JournalSealer {
  keyId: string;
  /** ECDSA P-256 with SHA-256 over `data`; r‖s (64 bytes) or DER. */
  sign(data: Uint8Array): Promise<Uint8Array>;
}

export const journalMigrations: Migration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE journal (seq INTEGER PRIMARY KEY, body TEXT NOT NULL, hash BLOB NOT NULL);
      CREATE TABLE journal_seal (seq INTEGER PRIMARY KEY, head BLOB NOT NULL, key_id TEXT NOT NULL,
        signature BLOB NOT NULL, at TEXT NOT NULL);
      CREATE TABLE journal_meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
      INSERT INTO journal_meta VALUES ('uploaded_seq', 0);
      CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
      CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;
    `,
  },
];

const ZERO_HASH = Buffer.alloc(32);

const bootId = randomBytes(6).toString('hex');
const monoNow = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;

export class Journal {
  private readonly insert;
  private readonly getHead;
  private readonly getRow;
  private readonly getKind;
  private readonly since;
  private readonly setMeta;
  private readonly getMeta;
  private readonly insertSeal;
  private readonly lastSeal;
  private readonly appendTx;

  constructor(private readonly db: Db) {
    this.insert = db.prepare('INSERT INTO journal (seq, body, hash) VALUES (?, ?, ?)');
    this.getHead = db.prepare('SELECT seq, hash FROM journal ORDER BY seq DESC LIMIT 1');
    this.getRow = db.prepare('SELECT seq, body, hash FROM journal WHERE seq = ?');
    this.getKind = db.prepare('SELECT body FROM journal WHERE seq = ?').pluck();
    this.since = db.prepare('SELECT seq, body, hash FROM journal WHERE seq > ? ORDER BY seq LIMIT ?');
    this.setMeta = db.prepare('INSERT OR REPLACE INTO journal_meta (key, value) VALUES (?, ?)');
    this.getMeta = db.prepare('SELECT value FROM journal_meta WHERE key = ?').pluck();
    this.insertSeal = db.prepare(
      'INSERT INTO journal_seal (seq, head, key_id, signature, at) VALUES (?, ?, ?, ?, ?)',
    );
    this.lastSeal = db.prepare('SELECT seq FROM journal_seal ORDER BY seq DESC LIMIT 1').pluck();
    this.appendTx = db.transaction((input: z.output<typeof JournalEntryInput>): JournalRecord => {
      const head = this.getHead.get() as { seq: number; hash: Buffer } | undefined;
      const seq = (head?.seq ?? 0) + 1;
      if (input.ref !== undefined) this.checkRef(input.kind, input.ref, seq);
      const { wall, ...rest } = input;
      const record: JournalRecord = {
        seq,
        ...rest,
        wall: wall ?? new Date().toISOString(),
        mono: monoNow(),
        boot: bootId,
      };
      const body = JSON.stringify(record);
      this.insert.run(seq, body, chainHash(head?.hash ?? ZERO_HASH, body));
      return record;
    });
  }

  private checkRef(kind: JournalKind, ref: number, seq: number): void {
    if (ref >= seq) throw new KioskError('INVALID_REQUEST', `journal: ref ${ref} is not an earlier record`);
    const body = this.getKind.get(ref) as string | undefined;
    if (body === undefined) throw new KioskError('INVALID_REQUEST', `journal: ref ${ref} does not exist`);
    if ((kind === 'passage' || kind === 'annulment') && (JSON.parse(body) as JournalRecord).kind !== 'grant')
      throw new KioskError(
        'INVALID_REQUEST',
        `journal: a ${kind} must reference a grant (record ${ref} is not)`,
      );
  }

  /**
   * Appends one record and returns it with its seq. Synchronous and durable on return when the file was
   * opened with durability 'full': call it before the screen says "admitted".
   */
  append(entry: JournalEntryInput): JournalRecord {
    const parsed = JournalEntryInput.safeParse(entry);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new KioskError('INVALID_REQUEST', `journal entry: ${issue.path.join('.')}: ${issue.message}`);
    }
    const e = parsed.data;
    if ((e.kind === 'passage' || e.kind === 'annulment' || e.kind === 'staff-annul') && e.ref === undefined)
      throw new KioskError('INVALID_REQUEST', `journal entry: a ${e.kind} needs ref`);
    if (e.kind === 'staff-annul' && e.note === undefined)
      throw new KioskError('INVALID_REQUEST', 'journal entry: a staff-annul needs a note saying why');
    return this.appendTx.immediate(e);
  }

  head(): { seq: number; hash: string } {
    const head = this.getHead.get() as { seq: number; hash: Buffer } | undefined;
    return { seq: head?.seq ?? 0, hash: (head?.hash ?? ZERO_HASH).toString('hex') };
  }

  get(seq: number): JournalRecord | undefined {
    const row = this.getRow.get(seq) as { body: string } | undefined;
    return row ? (JSON.parse(row.body) as JournalRecord) : undefined;
  }

  // ---- upload (sync) ----

  /** Rows after `afterSeq` (exclusive), oldest first, for upload. */
  readSince(afterSeq: number, limit = 500): JournalRow[] {
    return (this.since.all(afterSeq, limit) as Array<{ seq: number; body: string; hash: Buffer }>).map(
      (r) => ({
        seq: r.seq,
        body: r.body,
        hash: r.hash.toString('hex'),
      }),
    );
  }

  /** Highest seq the hub has acknowledged. */
  uploadWatermark(): number {
    return Number(this.getMeta.get('uploaded_seq') ?? 0);
  }

  /** Records the hub's acknowledgement; never moves backwards, never past the head. */
  markUploaded(seq: number): void {
    const head = this.head().seq;
    if (!Number.isInteger(seq) || seq < 0 || seq > head)
      throw new KioskError('INVALID_REQUEST', `journal: cannot mark ${seq} uploaded (head is ${head})`);
    if (seq > this.uploadWatermark()) this.setMeta.run('uploaded_seq', seq);
  }

  /** Records with seq > afterSeq that are not yet uploaded: count, for status screens. */
  pendingUpload(): number {
    return this.head().seq - this.uploadWatermark();
  }

  // ---- retention ----

  /**
   * Removes old records the hub holds: those before the newest sealed record S with S ≤ the upload
   * watermark (never a record the hub has not acknowledged) and S written before `before` (ISO time).
   * Record S itself stays, with its seal; the hash of the record before it is kept as the chain's new
   * start, so verifyJournal still checks S's content against its signed seal and everything after it.
   * Returns how many records were removed.
   */
  prune(before: string): { removed: number; from: number } {
    return this.db.transaction(() => {
      const keep = this.db
        .prepare(
          `SELECT MAX(s.seq) FROM journal_seal s JOIN journal j ON j.seq = s.seq
            WHERE s.seq <= ? AND json_extract(j.body, '$.wall') < ?`,
        )
        .pluck()
        .get(this.uploadWatermark(), before) as number | null;
      const first = this.db.prepare('SELECT MIN(seq) FROM journal').pluck().get() as number | null;
      if (keep === null || first === null || keep <= first) return { removed: 0, from: first ?? 0 };
      const prev = this.getRow.get(keep - 1) as { hash: Buffer } | undefined;
      if (!prev) throw new KioskError('JOURNAL_BROKEN', `journal: record ${keep - 1} is missing`);
      this.setMeta.run('chain_start', JSON.stringify({ seq: keep, prev: prev.hash.toString('hex') }));
      // The append-only trigger stands aside for this one statement, inside the transaction.
      this.db.exec('DROP TRIGGER journal_no_delete');
      const removed = this.db.prepare('DELETE FROM journal WHERE seq < ?').run(keep).changes;
      this.db.prepare('DELETE FROM journal_seal WHERE seq < ?').run(keep);
      this.db.exec(
        `CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal BEGIN SELECT RAISE(ABORT, 'journal is append-only'); END;`,
      );
      return { removed, from: keep };
    })();
  }

  // ---- seals ----

  /** Signs the current head with the terminal key and stores the seal. No-op if the head is sealed. */
  async seal(sealer: JournalSealer): Promise<JournalSeal | null> {
    const head = this.getHead.get() as { seq: number; hash: Buffer } | undefined;
    if (!head) return null;
    if (((this.lastSeal.get() as number | undefined) ?? 0) >= head.seq) return null;
    const signature = Buffer.from(await sealer.sign(sealMessage(head.seq, head.hash)));
    const at = new Date().toISOString();
    try {
      this.insertSeal.run(head.seq, head.hash, sealer.keyId, signature, at);
    } catch (error) {
      // Two seals of the same head raced: the stored one is as good.
      if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') return null;
      throw error;
    }
    return {
      seq: head.seq,
      head: head.hash.toString('hex'),
      keyId: sealer.keyId,
      signature: signature.toString('base64'),
      at,
    };
  }

  /** Seals when `everyRecords` records have been appended since the last seal. */
  async sealIfDue(sealer: JournalSealer, everyRecords: number): Promise<JournalSeal | null> {
    const last = (this.lastSeal.get() as number | undefined) ?? 0;
    return this.head().seq - last >= everyRecords ? this.seal(sealer) : null;
  }

  seals(afterSeq = 0): JournalSeal[] {
    const rows = this.db
      .prepare('SELECT seq, head, key_id, signature, at FROM journal_seal WHERE seq > ? ORDER BY seq')
      .all(afterSeq) as Array<{ seq: number; head: Buffer; key_id: string; signature: Buffer; at: string }>;
    return rows.map((r) => ({
      seq: r.seq,
      head: r.head.toString('hex'),
      keyId: r.key_id,
      signature: r.signature.toString('base64'),
      at: r.at,
    }));
  }
}

// ---- verification --------------------------------------------------------------------------------

export interface JournalVerifyResult {
  ok: boolean;
  records: number;
  seals: number;
  /** The first bad record (seq) and what is wrong with it. */
  firstBad?: { seq: number; problem: string };
}

/**
 * Walks the whole journal: contiguous seqs from 1, each body naming its own seq, each hash chaining to the
 * previous one, monotonic time non-decreasing within a boot, and every seal matching the chain and
 * (when `keyFor` is given) verifying with the key it names. Reports the first bad record.
 */
export function verifyJournal(
  db: Db,
  options: { keyFor?: (keyId: string) => KeyObject | undefined } = {},
): JournalVerifyResult {
  const seals = db
    .prepare('SELECT seq, head, key_id, signature FROM journal_seal ORDER BY seq')
    .all() as Array<{
    seq: number;
    head: Buffer;
    key_id: string;
    signature: Buffer;
  }>;
  const sealAt = new Map(seals.map((s) => [s.seq, s]));
  let prev: Buffer = ZERO_HASH;
  let expected = 1;
  // After retention (Journal.prune) the chain starts at a sealed record, from the hash kept before it.
  const startMeta = db.prepare("SELECT value FROM journal_meta WHERE key = 'chain_start'").pluck().get() as
    string | undefined;
  if (startMeta !== undefined) {
    const start = JSON.parse(startMeta) as { seq: number; prev: string };
    if (!sealAt.has(start.seq))
      return {
        ok: false,
        records: 0,
        seals: seals.length,
        firstBad: {
          seq: 1,
          problem: `the journal was cut at record ${start.seq}, which has no seal (deleted)`,
        },
      };
    prev = Buffer.from(start.prev, 'hex');
    expected = start.seq;
  }
  let lastMono = new Map<string, number>();
  const firstSeq = expected;
  const bad = (seq: number, problem: string): JournalVerifyResult => ({
    ok: false,
    records: expected - firstSeq,
    seals: seals.length,
    firstBad: { seq, problem },
  });
  const iter = db.prepare('SELECT seq, body, hash FROM journal ORDER BY seq').iterate() as IterableIterator<{
    seq: number;
    body: string;
    hash: Buffer;
  }>;
  for (const row of iter) {
    if (row.seq !== expected)
      return bad(
        expected,
        row.seq > expected ? `record ${expected} is missing (deleted)` : `record ${row.seq} is out of order`,
      );
    let record: JournalRecord;
    try {
      record = JSON.parse(row.body) as JournalRecord;
    } catch {
      return bad(row.seq, `record ${row.seq}: body is not JSON (edited)`);
    }
    if (record.seq !== row.seq)
      return bad(
        row.seq,
        `record ${row.seq}: holds the body of record ${String(record.seq)} (reordered or moved)`,
      );
    const computed = chainHash(prev, row.body);
    if (!computed.equals(row.hash)) {
      return bad(
        row.seq,
        row.seq === 1
          ? `record ${row.seq}: content does not match its hash (edited)`
          : `record ${row.seq}: content does not match its hash (edited), or record ${row.seq - 1} was rewritten`,
      );
    }
    const parsed = JournalEntryInput.safeParse({ ...stripComputed(record) });
    if (!parsed.success) return bad(row.seq, `record ${row.seq}: fields are not a valid journal record`);
    const boot = String(record.boot);
    const priorMono = lastMono.get(boot);
    if (priorMono !== undefined && record.mono < priorMono)
      return bad(row.seq, `record ${row.seq}: monotonic time goes backwards within one run (reordered)`);
    lastMono.set(boot, record.mono);
    const seal = sealAt.get(row.seq);
    if (seal) {
      if (!seal.head.equals(row.hash))
        return bad(row.seq, `record ${row.seq}: the seal at ${row.seq} does not match the chain (rewritten)`);
      const key = options.keyFor?.(seal.key_id);
      if (options.keyFor && !key)
        return bad(row.seq, `record ${row.seq}: sealed by unknown key ${seal.key_id}`);
      if (key && !verifySealSignature(key, seal.seq, seal.head, seal.signature))
        return bad(row.seq, `record ${row.seq}: the seal signature does not verify (forged)`);
      sealAt.delete(row.seq);
    }
    prev = row.hash;
    expected++;
  }
  lastMono = new Map();
  const dangling = [...sealAt.keys()].sort((a, b) => a - b)[0];
  if (dangling !== undefined)
    return bad(expected, `record ${expected} is missing: a seal covers up to record ${dangling}`);
  return { ok: true, records: expected - firstSeq, seals: seals.length };
}

function stripComputed(record: JournalRecord): Record<string, unknown> {
  const { seq: _seq, mono: _mono, boot: _boot, ...rest } = record;
  return rest;
}
