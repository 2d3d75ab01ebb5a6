import { createHash } from 'node:crypto';

/** Row key of the i-th operation of a feed in the crash test: the content a sequence number implies. */
export function rowKey(feed: string, i: number): string {
  return createHash('sha256').update(`${feed}:${i}`).digest('hex').slice(0, 32);
}
