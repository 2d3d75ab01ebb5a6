// KeyFilter: a Bloom filter over a feed's row keys, held in memory so that a lookup of a key the feed does
// not hold — nearly every lookup of the revocation list — answers without a SQLite call.
//
// It may say "maybe" for a key that is absent (then the database answers); it must never say "absent" for
// a key that is present, or a revoked card would pass. FeedStore keeps that invariant: keys are added
// before they are written, deletions never remove bits, and a change made by another process is picked
// up by FeedStore.refresh(), which rebuilds the filter from the file.

/** Probes per key. With 16 bits per key at capacity, the false-positive rate is about 0.07 %. */
const PROBES = 7;
const BITS_PER_KEY = 16;
const MIN_BITS = 1 << 16;
/** Bit counts are powers of two below 2^31, so a probe is a mask of a 32-bit sum (no division). */
const MAX_BITS = 2 ** 30;

export class KeyFilter {
  private readonly words: Uint32Array;
  private readonly mask: number;
  private added = 0;

  /** A filter sized for `capacity` keys; it stays correct beyond that, only less selective. */
  constructor(readonly capacity: number) {
    let bits = MIN_BITS;
    while (bits < capacity * BITS_PER_KEY && bits < MAX_BITS) bits *= 2;
    this.words = new Uint32Array(bits / 32);
    this.mask = bits - 1;
  }

  /** Keys added so far (counting repeats). */
  get size(): number {
    return this.added;
  }

  /** Memory held by the bit array. */
  get bytes(): number {
    return this.words.byteLength;
  }

  /** True once more keys were added than the filter was sized for: time to rebuild it larger. */
  get overfull(): boolean {
    return this.added > this.capacity * 2;
  }

  add(key: Uint8Array): void {
    const h1 = word(key, 0);
    const h2 = word(key, 4) | 1;
    for (let i = 0; i < PROBES; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      this.words[bit >>> 5]! |= 1 << (bit & 31);
    }
    this.added++;
  }

  /** False: the key was never added. True: it may have been. */
  mayContain(key: Uint8Array): boolean {
    const h1 = word(key, 0);
    const h2 = word(key, 4) | 1;
    for (let i = 0; i < PROBES; i++) {
      const bit = (h1 + Math.imul(i, h2)) & this.mask;
      if ((this.words[bit >>> 5]! & (1 << (bit & 31))) === 0) return false;
    }
    return true;
  }
}

/**
 * Row keys are truncated HMAC-SHA-256 outputs (privacy.ts), uniformly distributed: two 32-bit words of the
 * key serve as the double-hashing pair directly. Bytes past a short key (never stored, but asked for) read
 * as zeros.
 */
function word(key: Uint8Array, at: number): number {
  return (key[at] ?? 0) | ((key[at + 1] ?? 0) << 8) | ((key[at + 2] ?? 0) << 16) | ((key[at + 3] ?? 0) << 24);
}
