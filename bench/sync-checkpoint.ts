// sync.checkpoint_*: what sync v2's signed checkpoint costs per pull answer — the hub signs one
// (publisher key; software Ed25519 here, an HSM adds its round trip), the terminal verifies it and checks
// it against its feed state, and it travels as one gzip member. Part of the `sync` suite (sync.ts).
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { performance } from 'node:perf_hooks';
import {
  CHECKPOINT_FORMAT,
  ZERO_DIGEST,
  checkCheckpoint,
  openCheckpoint,
  signCheckpoint,
} from '../protocol/checkpoint.js';
import { softwareFeedSigner } from '../protocol/feed-format.js';
import { FrameType, frame } from '../protocol/sync.js';
import type { Metrics } from './harness.js';

export function checkpointCost(rounds: number): Metrics {
  const signer = softwareFeedSigner(generateKeyPairSync('ed25519').privateKey);
  const trust = { publishers: [{ publicKey: signer.publicKey, feeds: ['whitelist'] as const }] };
  const nonces = Array.from({ length: rounds }, () => randomBytes(16).toString('base64url'));
  const signed: Buffer[] = [];
  const now = Date.now();
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++)
    signed.push(
      signCheckpoint(
        {
          format: CHECKPOINT_FORMAT,
          publisherKeyId: signer.keyId,
          feed: 'whitelist',
          scope: null,
          epoch: 'a4c11a2c8ea758bd',
          head: 10_000_000,
          position: 10_000_000,
          digest: ZERO_DIGEST,
          hubTime: now,
          expires: now + 48 * 3_600_000,
          more: false,
          nonce: nonces[i]!,
        },
        signer,
      ),
    );
  const t1 = performance.now();
  for (let i = 0; i < rounds; i++) {
    const c = openCheckpoint(signed[i]!, trust);
    checkCheckpoint(
      c,
      { feed: 'whitelist', epoch: c.epoch, seq: c.position, digest: ZERO_DIGEST, trusted: null },
      { nonce: nonces[i]! },
    );
  }
  const t2 = performance.now();
  return {
    'sync.checkpoint_sign_us': ((t1 - t0) * 1000) / rounds,
    'sync.checkpoint_verify_us': ((t2 - t1) * 1000) / rounds,
    'sync.checkpoint_bytes': signed[0]!.length,
    'sync.checkpoint_wire_bytes': gzipSync(frame(FrameType.checkpoint, signed[0]!)).length,
  };
}
