// A synchronous door to PostgreSQL for the hub's store. `HubStore` is synchronous (the SQLite store
// answers in-process, and the server, publisher and imports are written against that), while `pg` is
// asynchronous. The connections therefore live in a worker thread; the hub's thread posts one query and
// waits on a shared flag (Atomics.wait) until the worker has the answer: a store call on PostgreSQL
// blocks like a SQLite call that waits for its fsync. Several named connections: `main` (transactions),
// `nonce` (autocommit, its own durability setting), `lock` (session advisory locks), and short-lived
// readers (a snapshot's cursor in its own repeatable-read transaction).
import { createRequire } from 'node:module';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { KioskError } from '../base/errors.js';

export type PgValue = string | number | boolean | null | Buffer | Array<string | number | Buffer | null>;
export type PgRow = Record<string, unknown>;
export interface PgResult {
  rows: PgRow[];
  rowCount: number;
}

/** A PostgreSQL error's SQLSTATE (40P01 deadlock, 40001 serialization, 23505 unique violation, …). */
export class PgError extends KioskError {
  constructor(
    readonly sqlState: string | null,
    message: string,
  ) {
    super('STORE_UNAVAILABLE', `hub database: ${message}`);
  }
}

// Plain CommonJS run by the worker (eval), so that the bridge works from TypeScript sources under the test
// runner and from dist/ alike. `pg` is resolved by the hub's thread and passed in.
const WORKER = `
const { workerData } = require('node:worker_threads');
const pg = require(workerData.pgPath);
pg.types.setTypeParser(20, (v) => Number(v)); // BIGINT: ms times, sequences and counts fit a double
const { port, flag, url } = workerData;
const conns = new Map();
const toBuffer = (v) => Array.isArray(v) ? v.map(toBuffer) : v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;
// One client per name, also while it connects (the map holds the promise), so that a call made after an
// earlier one gave up never gets a second session under the same name.
function conn(name) {
  let p = conns.get(name);
  if (!p) {
    const c = new pg.Client({ connectionString: url, application_name: 'jpki-hub' });
    p = c.connect().then(() => c);
    conns.set(name, p);
    c.on('error', () => conns.get(name) === p && conns.delete(name));
    p.catch(() => conns.get(name) === p && conns.delete(name));
  }
  return p;
}
async function handle(m) {
  if (m.op === 'close') {
    const p = conns.get(m.conn);
    conns.delete(m.conn);
    if (p) await p.then((c) => c.end()).catch(() => undefined);
    return { rows: [], rowCount: 0 };
  }
  const c = await conn(m.conn);
  const r = await c.query({ text: m.sql, values: (m.params || []).map(toBuffer) });
  const last = Array.isArray(r) ? r[r.length - 1] : r;
  return { rows: last.rows || [], rowCount: last.rowCount || 0 };
}
port.on('message', (m) => {
  handle(m).then(
    (result) => port.postMessage({ id: m.id, result }),
    (e) => port.postMessage({ id: m.id, error: { message: String((e && e.message) || e), code: (e && e.code) || null } }),
  ).finally(() => {
    // A counter, not a flag: a late notify can then never be taken for the next answer.
    Atomics.add(flag, 0, 1);
    Atomics.notify(flag, 0);
  });
});
`;

type Reply =
  { id: number; result: PgResult } | { id: number; error: { message: string; code: string | null } };

const fromClone = (v: unknown): unknown =>
  v instanceof Uint8Array && !Buffer.isBuffer(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : v;

export class PgBridge {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  /** Counts answers; exposed so that a test can wake the waiting thread at the wrong moment. */
  readonly flag = new Int32Array(new SharedArrayBuffer(4));
  private closed = false;

  constructor(
    readonly url: string,
    /** How long one query may take before the store gives up on the database (ms). */
    public timeoutMs = 120_000,
  ) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    // A CommonJS bundle (a test's child process) has `require`; an ES module has import.meta.url.
    const req = typeof require === 'function' ? require : createRequire(import.meta.url);
    const pgPath = req.resolve('pg');
    this.worker = new Worker(WORKER, {
      eval: true,
      workerData: { port: port2, flag: this.flag, url, pgPath },
      transferList: [port2],
    });
    this.worker.unref();
  }

  private lastId = 0;

  /**
   * Posts one request and waits for the answer with its id. Answers are matched by id: one that comes
   * back after its caller gave up (a timeout) is dropped when found, never taken for another's.
   */
  private call(message: Record<string, unknown>, timeoutMs: number): Reply | null {
    const id = ++this.lastId;
    let seen = Atomics.load(this.flag, 0);
    this.port.postMessage({ ...message, id });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) {
        const reply = m.message as Reply;
        if (reply.id === id) return reply;
      }
      const left = deadline - Date.now();
      if (left <= 0) return null;
      Atomics.wait(this.flag, 0, seen, left);
      seen = Atomics.load(this.flag, 0);
    }
  }

  /** Runs one statement on a named connection and waits for its answer. */
  query(sql: string, params: readonly PgValue[] = [], conn = 'main'): PgResult {
    if (this.closed) throw new KioskError('STORE_UNAVAILABLE', 'hub database: the store is closed');
    this.opened.add(conn);
    const reply = this.call({ op: 'query', conn, sql, params }, this.timeoutMs);
    if (!reply)
      throw new KioskError('STORE_UNAVAILABLE', `hub database: no answer within ${this.timeoutMs} ms`);
    if ('error' in reply) throw new PgError(reply.error.code, reply.error.message);
    for (const row of reply.result.rows) for (const k of Object.keys(row)) row[k] = fromClone(row[k]);
    return reply.result;
  }

  private readonly opened = new Set<string>();

  /** Ends a named connection (its session locks and open transaction go with it). */
  drop(conn: string): void {
    if (this.closed || !this.opened.delete(conn)) return;
    this.call({ op: 'close', conn }, 10_000);
  }

  close(): void {
    if (this.closed) return;
    for (const c of [...this.opened]) this.drop(c);
    this.closed = true;
    void this.worker.terminate();
    this.port.close();
  }
}
