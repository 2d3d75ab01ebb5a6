// A venue delegation lends one site to a venue key, and nothing more: signed by the root keys, for the
// terminal's own site, within its window; the venue key signs checkpoints, push replies and its site's
// peer entries, never the central publisher's whitelist or revocation batches or snapshot manifests.
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CHECKPOINT_FORMAT,
  openCheckpoint,
  signCheckpoint,
  ZERO_DIGEST,
  type Checkpoint,
} from '../../protocol/checkpoint.js';
import {
  DELEGATION_FORMAT,
  openDelegation,
  signDelegation,
  withDelegation,
  type DelegationPayload,
} from '../../protocol/delegation.js';
import {
  BATCH_FORMAT,
  SNAPSHOT_FORMAT,
  openBatch,
  openManifest,
  signBatch,
  signManifest,
  softwareFeedSigner,
  type FeedSigner,
} from '../../protocol/feed-format.js';
import {
  ROOT_FORMAT,
  openPinnedRoot,
  rootKeyEntry,
  signRoot,
  trustFromRoot,
} from '../../protocol/root-of-trust.js';
import { Feeds } from '../../protocol/sync.js';

const ed = (): FeedSigner => softwareFeedSigner(generateKeyPairSync('ed25519').privateKey);
const rootKey = ed();
const publisher = ed();
const venue = ed();
const now = Date.now();
const root = openPinnedRoot(
  signRoot(
    {
      format: ROOT_FORMAT,
      version: 1,
      expires: new Date(now + 86_400_000).toISOString(),
      threshold: 1,
      rootKeys: [rootKeyEntry(rootKey.publicKey)],
      publishers: [{ ...rootKeyEntry(publisher.publicKey), feeds: [...Feeds] }],
    },
    [rootKey],
  ),
);
const payload = (over: Partial<DelegationPayload> = {}): DelegationPayload => ({
  format: DELEGATION_FORMAT,
  site: 'site-1',
  venueId: 'venue-1',
  venueKey: rootKeyEntry(venue.publicKey),
  notBefore: new Date(now - 60_000).toISOString(),
  expires: new Date(now + 3_600_000).toISOString(),
  ...over,
});
const checkpoint = (over: Partial<Checkpoint> = {}): Checkpoint => ({
  format: CHECKPOINT_FORMAT,
  publisherKeyId: venue.keyId,
  feed: 'peer-entries',
  scope: 'site-1',
  epoch: 'e1',
  head: 0,
  position: 0,
  digest: ZERO_DIGEST,
  hubTime: now,
  expires: now + 1000,
  more: false,
  nonce: 'n0nce-n0nce-n0nce',
  ...over,
});

describe('venue delegation', () => {
  const delegation = openDelegation(signDelegation(payload(), [rootKey]), root, { site: 'site-1', now });
  const trust = withDelegation(trustFromRoot(root, now), delegation, now);

  it('is taken only when the root keys signed it, for this site, within its window', () => {
    expect(delegation).toMatchObject({ site: 'site-1', venueId: 'venue-1', venueKeyId: venue.keyId });
    const bytes = signDelegation(payload(), [rootKey]);
    expect(() => openDelegation(bytes, root, { site: 'site-2', now })).toThrow(
      expect.objectContaining({ code: 'DELEGATION_INVALID' }),
    );
    // Signed by the venue key itself, or by the publisher key: not the root.
    for (const signer of [venue, publisher])
      expect(() =>
        openDelegation(signDelegation(payload(), [signer]), root, { site: 'site-1', now }),
      ).toThrow(expect.objectContaining({ code: 'DELEGATION_INVALID' }));
    // The site changed after signing.
    const tampered = Buffer.from(
      bytes.toString('utf8').replace('"site":"site-1"', '"site":"site-2"'),
      'utf8',
    );
    expect(() => openDelegation(tampered, root, { site: 'site-2', now })).toThrow(
      expect.objectContaining({ code: 'DELEGATION_INVALID' }),
    );
    expect(() => openDelegation(bytes, root, { site: 'site-1', now: now + 7_200_000 })).toThrow(
      expect.objectContaining({ code: 'DELEGATION_INVALID' }),
    );
    // The central publisher key cannot be lent as a venue key.
    const asPublisher = signDelegation(payload({ venueKey: rootKeyEntry(publisher.publicKey) }), [rootKey]);
    expect(() => openDelegation(asPublisher, root, { site: 'site-1', now })).toThrow(
      expect.objectContaining({ code: 'DELEGATION_INVALID' }),
    );
    // Past its window the venue key is no longer trusted at all.
    expect(withDelegation(trustFromRoot(root, now), delegation, now + 7_200_000).publishers).toHaveLength(1);
  });

  it('lets the venue key sign its site’s checkpoints and peer entries, and nothing else', () => {
    expect(openCheckpoint(signCheckpoint(checkpoint(), venue), trust).scope).toBe('site-1');
    expect(
      openCheckpoint(signCheckpoint(checkpoint({ feed: 'whitelist', scope: null }), venue), trust).feed,
    ).toBe('whitelist');
    // Another site's peer entries.
    expect(() => openCheckpoint(signCheckpoint(checkpoint({ scope: 'site-2' }), venue), trust)).toThrow(
      expect.objectContaining({ code: 'DELTA_WRONG_PUBLISHER' }),
    );
    const peerBatch = signBatch(
      {
        format: BATCH_FORMAT,
        publisherKeyId: venue.keyId,
        epoch: 'e1',
        fromSeq: 0,
        toSeq: 1,
        asOf: new Date(now).toISOString(),
        feed: 'peer-entries',
        ops: [
          {
            op: 'presence',
            subject: 'P1',
            state: 'inside',
            terminalId: 't',
            gateId: 'g',
            zone: 'z',
            at: now,
          },
        ],
      },
      venue,
    );
    expect(openBatch(peerBatch, trust).feed).toBe('peer-entries');
    // The central publisher's feeds: a whitelist batch or a snapshot manifest from the venue key is refused.
    const whitelistBatch = signBatch(
      {
        format: BATCH_FORMAT,
        publisherKeyId: venue.keyId,
        epoch: 'e1',
        fromSeq: 0,
        toSeq: 1,
        asOf: new Date(now).toISOString(),
        feed: 'whitelist',
        ops: [{ op: 'del', k: '0'.repeat(32) }],
      },
      venue,
    );
    expect(() => openBatch(whitelistBatch, trust)).toThrow(
      expect.objectContaining({ code: 'DELTA_WRONG_PUBLISHER' }),
    );
    const manifest = signManifest(
      {
        format: SNAPSHOT_FORMAT,
        feed: 'revocations',
        publisherKeyId: venue.keyId,
        epoch: 'e1',
        seq: 0,
        asOf: new Date(now).toISOString(),
        rowCount: 0,
        rowsSha256: ZERO_DIGEST,
        rowsBytes: 0,
        digest: ZERO_DIGEST,
        lineage: [],
      },
      venue,
    );
    expect(() => openManifest(manifest, trust)).toThrow(
      expect.objectContaining({ code: 'DELTA_WRONG_PUBLISHER' }),
    );
    // Without the delegation the venue key is nobody.
    expect(() => openCheckpoint(signCheckpoint(checkpoint(), venue), trustFromRoot(root, now))).toThrow(
      expect.objectContaining({ code: 'DELTA_WRONG_PUBLISHER' }),
    );
  });
});
