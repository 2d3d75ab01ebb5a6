// The publish worker thread (publish-thread.ts starts it): the second core's share of a large
// publication. While the hub's thread reads a CRL, this thread keys its entries (the index key's HMAC),
// encodes and digests their values and stages them on disk; while the hub's thread merges and writes
// the state, it wraps the signed batches as gzip frames and hashes them. Every answer is a postMessage
// followed by a count on the shared flag, which the hub's thread waits on synchronously.
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { gzipSync } from 'node:zlib';
import { KioskError } from '../base/errors.js';
import { batchContentHash } from '../protocol/checkpoint.js';
import { RevocationReasons, encodeRevocationValue } from '../protocol/feed-format.js';
import { FrameType, frame } from '../protocol/sync.js';
import { IndexKey } from '../whitelist/privacy.js';
import { Staging, revocationDigests } from './publish-staging.js';
import type { ThreadReply, ThreadRequest } from './publish-thread.js';

const { port, flag } = workerData as { port: MessagePort; flag: Int32Array };

let staging: Staging | null = null;
let indexKey: IndexKey | null = null;
let issuer: Buffer | null = null;

/**
 * The index key as the hub's thread holds it, from its structured clone (own fields, byte arrays as
 * Uint8Array): the class's own code computes the keys here. The hub's thread checks a probe key before it
 * relies on it, and stages on its own thread if they differ.
 */
function indexKeyFrom(clone: Record<string, unknown>): IndexKey {
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(clone))
    fields[name] =
      value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value;
  return Object.assign(Object.create(IndexKey.prototype) as IndexKey, fields);
}

const digestOf = revocationDigests();

function stageRows(buf: ArrayBuffer, length: number): void {
  if (!staging || !indexKey || !issuer) throw new KioskError('INTERNAL', 'publish worker: no staging open');
  const data = Buffer.from(buf, 0, length);
  let o = 0;
  while (o < length) {
    const kind = data[o++]!;
    const len = data[o++]!;
    const bytes = data.subarray(o, (o += len));
    const at = data.readDoubleLE(o);
    o += 8;
    let reason: string = RevocationReasons[data[o++]!] ?? '';
    if (data[o - 1] === 255) {
      const n = data.readUInt16LE(o);
      reason = data.toString('utf8', o + 2, o + 2 + n);
      o += 2 + n;
    }
    const k = kind === 0 ? indexKey.cardKey(issuer, bytes) : Buffer.from(bytes);
    const v = encodeRevocationValue(at, reason as (typeof RevocationReasons)[number]);
    const h = digestOf(v);
    staging.add({ k, h, v, scope: null, label: reason, spki: null, at });
  }
}

function handle(m: ThreadRequest): { reply: ThreadReply; transfer?: ArrayBuffer[] } {
  switch (m.t) {
    case 'stage': {
      indexKey = indexKeyFrom(m.indexKey);
      issuer = Buffer.from(m.issuer);
      const probe = indexKey.cardKey(issuer, Buffer.from(m.probe.serial));
      if (!probe.equals(Buffer.from(m.probe.key))) return { reply: { t: 'staging', ok: false } };
      staging = new Staging('', m.dir);
      return { reply: { t: 'staging', ok: true } };
    }
    case 'rows':
      stageRows(m.buf, m.length);
      return { reply: { t: 'rows', buf: m.buf }, transfer: [m.buf] };
    case 'end': {
      const count = staging?.count ?? 0;
      staging?.closeFiles();
      staging = null;
      return { reply: { t: 'ended', count } };
    }
    case 'gzip': {
      const signed = Buffer.from(m.signed.buffer, m.signed.byteOffset, m.signed.byteLength);
      const frameGz = gzipSync(frame(FrameType.batch, signed), { level: m.level });
      const sha256 = batchContentHash(signed);
      return { reply: { t: 'gzip', id: m.id, frameGz, sha256 } };
    }
  }
}

port.on('message', (m: ThreadRequest) => {
  try {
    const { reply, transfer } = handle(m);
    port.postMessage(reply, transfer);
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown };
    port.postMessage({
      t: 'error',
      code: typeof e.code === 'string' ? e.code : 'INTERNAL',
      message: String(e.message ?? error),
    } satisfies ThreadReply);
  }
  // A counter, not a flag: a late notify can never be taken for the next answer.
  Atomics.add(flag, 0, 1);
  Atomics.notify(flag, 0);
});
parentPort?.on('message', () => undefined);
