// The hub's side of the publish worker (publish-worker.ts): one thread per large publication, so that a
// 10-million-entry CRL uses the machine's second core. The publisher's API is synchronous (a CRL import,
// a tool, a test call it as such), so the thread is driven synchronously: requests are posted, answers
// taken with receiveMessageOnPort, and the hub's thread waits on a shared counter (Atomics.wait) only
// when it needs an answer it does not have yet. Answers come in the order of the requests.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { KioskError, type ErrorCode } from '../base/errors.js';
import { getLogger } from '../base/log.js';
import { RevocationReasons, encodeRevocationValue } from '../protocol/feed-format.js';
import { serialBytes, type IndexKey } from '../whitelist/privacy.js';
import type { Staging } from './publish-staging.js';

export type ThreadRequest =
  | {
      t: 'stage';
      dir: string;
      indexKey: Record<string, unknown>;
      issuer: Uint8Array;
      probe: { serial: Uint8Array; key: Uint8Array };
    }
  | { t: 'rows'; buf: ArrayBuffer; length: number }
  | { t: 'end' }
  | { t: 'gzip'; id: number; signed: Uint8Array; level: number };

export type ThreadReply =
  | { t: 'staging'; ok: boolean }
  | { t: 'rows'; buf: ArrayBuffer }
  | { t: 'ended'; count: number }
  | { t: 'gzip'; id: number; frameGz: Uint8Array; sha256: Uint8Array }
  | { t: 'error'; code: string; message: string };

const log = getLogger('hub');

/** How long the hub's thread waits for one answer before it gives the publication up. */
const ANSWER_TIMEOUT_MS = 120_000;

/**
 * The worker's compiled entry: next to this file in dist/; the TypeScript sources (under the test
 * runner) start the build's copy. Null when it is not built: the publisher then does all on its thread.
 */
function workerEntry(): string | null {
  const fromSources = import.meta.url.endsWith('.ts');
  const entry = fileURLToPath(
    new URL(fromSources ? '../dist/hub/publish-worker.js' : './publish-worker.js', import.meta.url),
  );
  return existsSync(entry) ? entry : null;
}

export class PublishThread {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly flag = new Int32Array(new SharedArrayBuffer(4));
  /** Answers taken but not yet asked for, in order. */
  private readonly replies: ThreadReply[] = [];
  private closed = false;

  private constructor(entry: string) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    this.worker = new Worker(entry, {
      workerData: { port: port2, flag: this.flag },
      transferList: [port2],
      // Its heap holds one buffer of rows or one batch at a time.
      resourceLimits: { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 16 },
    });
    this.worker.unref();
    // A thread that dies (out of its heap) answers nothing: the waiting side times out and fails the
    // publication; the event is only kept from becoming the process's uncaught error.
    this.worker.on('error', () => undefined);
  }

  /** A thread, or null where the worker is not built (sources without a build). */
  static start(): PublishThread | null {
    const entry = workerEntry();
    try {
      return entry ? new PublishThread(entry) : null;
    } catch (error) {
      // No thread to be had (resource limits, a platform without them): the work stays on this thread.
      log.warn({ err: error }, 'publish worker thread not started');
      return null;
    }
  }

  post(m: ThreadRequest, transfer?: ArrayBuffer[]): void {
    if (this.closed) throw new KioskError('INTERNAL', 'publish worker: closed');
    this.port.postMessage(m, transfer);
  }

  /** Takes the answers that have arrived (never waits). */
  poll(): void {
    for (let m = receiveMessageOnPort(this.port); m; m = receiveMessageOnPort(this.port)) {
      const reply = m.message as ThreadReply;
      if (reply.t === 'error') throw new KioskError(reply.code as ErrorCode, reply.message);
      this.replies.push(reply);
    }
  }

  /** The next answer, waiting for it. */
  take(): ThreadReply {
    const deadline = Date.now() + ANSWER_TIMEOUT_MS;
    for (;;) {
      const seen = Atomics.load(this.flag, 0);
      this.poll();
      const next = this.replies.shift();
      if (next) return next;
      const left = deadline - Date.now();
      if (left <= 0) throw new KioskError('INTERNAL', 'publish worker: no answer');
      Atomics.wait(this.flag, 0, seen, Math.min(left, 1000));
    }
  }

  /** The next answer if it has arrived. */
  peek(): ThreadReply | undefined {
    this.poll();
    return this.replies[0];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.port.close();
    void this.worker.terminate();
  }
}

/** Bytes of entries sent to the thread at a time. */
const ROWS_BUFFER = 256 * 1024;
/** Buffers of entries the thread may have on hand before the hub's thread keys entries itself. */
const SHARE_AT = 2;
/** …and before it waits for the thread. */
const WAIT_AT = 6;
const REASON_INDEX = new Map<string, number>(RevocationReasons.map((r, i) => [r, i]));

/**
 * Stages one issuer's revocations as they are read. The first `threshold` entries are staged on the
 * hub's thread (a small CRL never starts a thread); after that the thread keys, encodes, digests and
 * stages them, appending to the same bucket files, while the hub's thread only reads entries, checks
 * them (a bad serial or date fails the import where it did before) and packs them. When the thread has
 * more on hand than it keeps up with, the hub's thread computes the row keys of the next buffer itself.
 * Rows staged by either thread are the same bytes (the thread's index key is checked on a probe first).
 */
export class RevocationStager {
  private thread: PublishThread | null = null;
  private tried = false;
  private buf: Buffer | null = null;
  private fill = 0;
  /** The current buffer's rows carry their row key (the hub's thread keyed them). */
  private keyed = false;
  private readonly free: ArrayBuffer[] = [];
  private inFlight = 0;

  constructor(
    private readonly st: Staging,
    private readonly indexKey: IndexKey,
    /** Lower case. */
    private readonly issuer: string,
    private readonly stageHere: (e: { serial: string; at: number; reason: string }) => void,
    private readonly threshold: number,
  ) {}

  add(e: { serial: string; at: number; reason: string }): void {
    if (!this.thread) {
      this.stageHere(e);
      if (!this.tried && this.st.count >= this.threshold) this.begin();
      return;
    }
    const ser = serialBytes(e.serial);
    const at = e.at;
    // The checks encodeRevocationValue makes, on this thread, so that a bad entry fails where it did.
    if (!(at >= 0 && at <= 0xffffffff))
      encodeRevocationValue(at, e.reason as (typeof RevocationReasons)[number]);
    const reason = REASON_INDEX.get(e.reason) ?? 255;
    const extra = reason === 255 ? 2 + Buffer.byteLength(e.reason) : 0;
    // kind, length, serial (up to 40 bytes) or row key, date, reason.
    if (!this.buf || this.fill + 2 + Math.max(ser.length, 32) + 9 + extra > this.buf.length) this.next();
    const buf = this.buf!;
    let o = this.fill;
    if (this.keyed) {
      const k = this.indexKey.cardKey(this.issuer, ser);
      buf[o++] = 1;
      buf[o++] = k.length;
      o += k.copy(buf, o);
    } else {
      buf[o++] = 0;
      buf[o++] = ser.length;
      o += ser.copy(buf, o);
    }
    o = buf.writeDoubleLE(at, o);
    buf[o++] = reason;
    if (reason === 255) {
      const n = buf.write(e.reason, o + 2, 'utf8');
      buf.writeUInt16LE(n, o);
      o += 2 + n;
    }
    this.fill = o;
  }

  private begin(): void {
    this.tried = true;
    const thread = PublishThread.start();
    if (!thread) return;
    try {
      const probeSerial = Buffer.from('0123456789abcdef', 'hex');
      const issuer = Buffer.from(this.issuer, 'hex');
      this.st.detach();
      thread.post({
        t: 'stage',
        dir: this.st.folder,
        indexKey: { ...(this.indexKey as unknown as Record<string, unknown>) },
        issuer,
        probe: { serial: probeSerial, key: this.indexKey.cardKey(this.issuer, probeSerial) },
      });
      const r = thread.take();
      if (r.t === 'staging' && r.ok) this.thread = thread;
      else {
        // Still correct on one thread, but the second core is lost: say so.
        log.warn('publish worker computed another key for the probe; staging on the hub thread');
        thread.close();
      }
    } catch (error) {
      log.warn(
        { err: (error as Error).message },
        'publish worker could not stage; staging on the hub thread',
      );
      thread.close();
    }
  }

  /** Sends the current buffer and starts another. */
  private next(): void {
    const thread = this.thread!;
    if (this.buf && this.fill > 0) {
      const ab = this.buf.buffer as ArrayBuffer;
      thread.post({ t: 'rows', buf: ab, length: this.fill }, [ab]);
      this.inFlight++;
    }
    this.buf = null;
    this.fill = 0;
    for (let r = thread.peek(); r?.t === 'rows'; r = thread.peek()) this.returned(thread.take());
    if (this.inFlight >= WAIT_AT) this.returned(thread.take());
    this.keyed = this.inFlight >= SHARE_AT;
    const ab = this.free.pop() ?? new ArrayBuffer(ROWS_BUFFER);
    this.buf = Buffer.from(ab);
  }

  private returned(r: ThreadReply): void {
    if (r.t !== 'rows') throw new KioskError('INTERNAL', `publish worker: unexpected ${r.t} answer`);
    this.inFlight--;
    this.free.push(r.buf);
  }

  /** All entries are staged: the staging can be read; the thread, if any, is handed over. */
  finish(): PublishThread | null {
    const thread = this.thread;
    if (!thread) return null;
    if (this.buf && this.fill > 0) {
      const ab = this.buf.buffer as ArrayBuffer;
      thread.post({ t: 'rows', buf: ab, length: this.fill }, [ab]);
      this.inFlight++;
    }
    this.buf = null;
    thread.post({ t: 'end' });
    while (this.inFlight > 0) this.returned(thread.take());
    const r = thread.take();
    if (r.t !== 'ended') throw new KioskError('INTERNAL', `publish worker: unexpected ${r.t} answer`);
    this.st.attach(r.count);
    this.free.length = 0;
    this.thread = null;
    return thread;
  }

  /** After a failure: the thread closes its files and stops. */
  abort(): void {
    const thread = this.thread;
    this.thread = null;
    if (!thread) return;
    try {
      thread.post({ t: 'end' });
      for (let r = thread.take(); r.t !== 'ended'; r = thread.take());
    } catch {
      // The thread is stopped below either way.
    }
    thread.close();
  }
}
