// Sync v2 bounded streams: counts snapshot rows and bytes as they stream in (before they reach the
// staging file), so that an answer past what its signed manifest states is cut off at once instead of
// filling the disk. Follows the rows file layout of snapshot-rows.ts: MAGIC, then per row u8 key length,
// key, varint value length, value. Only counts; the full checks happen when the file is built.
import { KioskError } from '../base/errors.js';
import { SNAPSHOT_MAGIC } from './snapshot-rows.js';

export class RowsMeter {
  bytes = 0;
  rows = 0;
  /** Bytes still to skip before the next field (magic, key, value). */
  private skip = SNAPSHOT_MAGIC.length;
  /** 0: key-length byte next; 1: reading the value length varint; 2: skipping (key or value). */
  private phase: 0 | 1 | 2 = 2;
  private afterSkip: 'row' | 'varint' = 'row';
  private vlen = 0;
  private shift = 0;

  constructor(
    private readonly limits: { rowsBytes: number; rowCount: number },
    private readonly label: string,
  ) {}

  /** Counts a chunk; throws SYNC_LIMIT as soon as it goes past the manifest's bytes or rows. */
  add(chunk: Buffer): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limits.rowsBytes)
      throw new KioskError(
        'SYNC_LIMIT',
        `${this.label}: more than the ${this.limits.rowsBytes} bytes its signed manifest states`,
      );
    let i = 0;
    while (i < chunk.length) {
      if (this.phase === 2) {
        const n = Math.min(this.skip, chunk.length - i);
        i += n;
        this.skip -= n;
        if (this.skip > 0) break;
        if (this.afterSkip === 'varint') {
          this.phase = 1;
          this.vlen = 0;
          this.shift = 0;
        } else this.phase = 0;
      } else if (this.phase === 0) {
        const keyLength = chunk[i++]!;
        if (++this.rows > this.limits.rowCount)
          throw new KioskError(
            'SYNC_LIMIT',
            `${this.label}: more than the ${this.limits.rowCount} rows its signed manifest states`,
          );
        this.skip = keyLength;
        this.afterSkip = 'varint';
        this.phase = 2;
        if (this.skip === 0) {
          this.phase = 1;
          this.vlen = 0;
          this.shift = 0;
        }
      } else {
        const b = chunk[i++]!;
        if (this.shift > 28) throw new KioskError('SNAPSHOT_INVALID', `${this.label}: bad value length`);
        this.vlen += (b & 0x7f) * 2 ** this.shift;
        this.shift += 7;
        if (b < 0x80) {
          this.skip = this.vlen;
          this.afterSkip = 'row';
          this.phase = this.skip === 0 ? 0 : 2;
        }
      }
    }
  }

  /** At rows-end: exactly what the manifest states. */
  finish(): void {
    if (this.bytes !== this.limits.rowsBytes || this.rows !== this.limits.rowCount || this.phase !== 0)
      throw new KioskError(
        'SNAPSHOT_INVALID',
        `${this.label}: ${this.bytes} bytes / ${this.rows} rows arrived, the manifest states ${this.limits.rowsBytes} / ${this.limits.rowCount}`,
      );
  }
}
