// A worker thread of the national benchmark's direct load (bench/national-steps.ts): keys and seals the
// generated cards of rows [from, to) and hands them over in packed chunks, one chunk at a time (the
// loader asks for the next when it has written the last), so the sealing runs on every core while one
// thread writes SQLite.
import { parentPort, workerData } from 'node:worker_threads';
import { whitelistRow } from '../whitelist/feed-ops.js';
import { IndexKey } from '../whitelist/privacy.js';
import { BENCH_ISSUER, benchRecord, benchSerial, benchSpki } from './whitelist-data.js';

export interface RowsWorkerData {
  indexKeySecret: string;
  from: number;
  to: number;
  chunkRows: number;
}

/** Packed rows: for each, k (16 bytes), the value's length (2 bytes, big-endian), the value. */
export function* unpackRows(packed: Uint8Array): Generator<{ k: Buffer; v: Buffer }> {
  const buf = Buffer.from(packed.buffer, packed.byteOffset, packed.length);
  for (let o = 0; o < buf.length;) {
    const k = buf.subarray(o, o + 16);
    const n = buf.readUInt16BE(o + 16);
    yield { k, v: buf.subarray(o + 18, o + 18 + n) };
    o += 18 + n;
  }
}

async function work(d: RowsWorkerData): Promise<void> {
  const port = parentPort!;
  const indexKey = IndexKey.fromSecret(d.indexKeySecret);
  for (let start = d.from; start < d.to; start += d.chunkRows) {
    const parts: Buffer[] = [];
    for (let i = start; i < Math.min(d.to, start + d.chunkRows); i++) {
      const row = whitelistRow(indexKey, {
        issuerKeyId: BENCH_ISSUER,
        serial: benchSerial(i),
        spkiSha256: benchSpki(i),
        record: benchRecord(i),
      });
      const head = Buffer.allocUnsafe(18);
      row.k.copy(head, 0);
      head.writeUInt16BE(row.v.length, 16);
      parts.push(head, row.v);
    }
    const packed = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) {
      packed.set(p, o);
      o += p.length;
    }
    const next = new Promise((resolve) => port.once('message', resolve));
    port.postMessage(packed, [packed.buffer]);
    await next;
  }
  port.postMessage(null);
}

if (parentPort) void work(workerData as RowsWorkerData);
