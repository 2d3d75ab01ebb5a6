// Reads the framed pull answer (type u8 ‖ length u32 BE ‖ payload) from a byte stream with a bound on
// frame size; backpressure comes from the async iteration, so a big snapshot never sits in memory.
import { KioskError } from '../base/errors.js';
import { FRAME_HEADER_BYTES, MAX_FRAME_BYTES } from './sync.js';

export interface Frame {
  type: number;
  payload: Buffer;
}

export async function* frames(
  source: AsyncIterable<Buffer | string>,
  maxFrameBytes: number = MAX_FRAME_BYTES,
): AsyncGenerator<Frame, void, undefined> {
  // Chunks are kept in a list and joined once a whole frame is there: no quadratic copying.
  let chunks: Buffer[] = [];
  let buffered = 0;
  let need = FRAME_HEADER_BYTES;
  let header: { type: number; length: number } | null = null;
  const take = (n: number): Buffer => {
    const all = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, buffered);
    const out = Buffer.from(all.subarray(0, n));
    const rest = all.subarray(n);
    chunks = rest.length > 0 ? [rest] : [];
    buffered = rest.length;
    return out;
  };
  for await (const raw of source) {
    const chunk = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
    chunks.push(chunk);
    buffered += chunk.length;
    while (buffered >= need) {
      if (!header) {
        const h = take(FRAME_HEADER_BYTES);
        const length = h.readUInt32BE(1);
        if (length > maxFrameBytes)
          throw new KioskError(
            'SYNC_PROTOCOL',
            `a frame of ${length} bytes exceeds the limit of ${maxFrameBytes}`,
          );
        header = { type: h[0]!, length };
        need = length;
      } else {
        const payload = take(header.length);
        const type = header.type;
        header = null;
        need = FRAME_HEADER_BYTES;
        yield { type, payload };
      }
    }
  }
  if (header || buffered > 0)
    throw new KioskError('SYNC_UNREACHABLE', 'answer ended inside a frame (connection cut)');
}

export function parseJsonPayload(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString('utf8'));
  } catch {
    throw new KioskError('SYNC_PROTOCOL', 'a frame that is not JSON');
  }
}
