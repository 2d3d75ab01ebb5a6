// Child process for the SIGKILL crash test: applies signed deltas to both feeds and appends journal
// records (sealing every 10) as fast as it can, printing "J <seq>" after each append has returned —
// the moment the screen would say "admitted". The parent kills it at random points.
import { createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import {
  publisherKeyId,
  signBatch,
  type FeedBatch,
  type PublisherTrust,
} from '../../protocol/feed-format.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { IndexKey, sealCardRecord } from '../../whitelist/privacy.js';
import { rowKey } from './crash-keys.js';

async function main(): Promise<void> {
  const [dir, keysDir] = process.argv.slice(2) as [string, string];
  const hubKey = createPrivateKey(readFileSync(join(keysDir, 'hub.pem')));
  const terminalKey = createPrivateKey(readFileSync(join(keysDir, 'terminal.pem')));
  const trust: PublisherTrust = {
    publishers: [{ publicKey: createPublicKey(hubKey), feeds: ['whitelist', 'revocations'] }],
  };
  const data = KioskData.open({ dir, indexKey: IndexKey.fromSecret('77'.repeat(32)), trust });
  const sealed = sealCardRecord(
    { subject: 'crash', entitlements: [] },
    Buffer.alloc(16),
    'aa'.repeat(32),
  ).toString('base64');
  const kid = publisherKeyId(createPublicKey(hubKey));
  const sealer = {
    keyId: 'crash-terminal',
    sign: async (d: Uint8Array) => sign('sha256', d, { key: terminalKey, dsaEncoding: 'ieee-p1363' }),
  };
  writeSync(1, 'ready\n');
  for (let round = 0; ; round++) {
    const feed = round % 2 === 0 ? 'whitelist' : 'revocations';
    const store = feed === 'whitelist' ? data.whitelist : data.revocations;
    const from = store.feedState().seq;
    const n = 1 + Math.floor(Math.random() * 400);
    const ops = Array.from({ length: n }, (_, i) =>
      feed === 'whitelist'
        ? { op: 'put', k: rowKey(feed, from + i + 1), v: sealed }
        : { op: 'put', k: rowKey(feed, from + i + 1), at: 1_700_000_000 + i, reason: 'keyCompromise' },
    );
    const batch = {
      format: 'jpki-kiosk/delta/v1',
      feed,
      publisherKeyId: kid,
      epoch: 'crash',
      fromSeq: from,
      toSeq: from + n,
      asOf: new Date().toISOString(),
      ops,
    } as FeedBatch;
    data.applyBatch(signBatch(batch, hubKey));
    const appends = 1 + Math.floor(Math.random() * 5);
    for (let j = 0; j < appends; j++) {
      const rec = data.journal.append({
        kind: 'grant',
        terminalId: 'crash-t',
        siteId: 'crash-s',
        gateId: 'g',
        direction: 'entry',
        subject: `u-${round}-${j}`,
        outcome: 'admitted',
        reasons: ['ok'],
      });
      writeSync(1, `J ${rec.seq}\n`);
    }
    await data.journal.sealIfDue(sealer, 10);
  }
}

void main();
