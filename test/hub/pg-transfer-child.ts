// Child of pg-transfer-race.test.ts: one hub instance's store on the shared database, publishing a seat
// move that spends a transfer code; prints the outcome (published, or the refusal's code) as one JSON line.
import { createHash } from 'node:crypto';
import { PgHubStore } from '../../hub/pg-store.js';

const [url, codeSha256, usedBy, at] = process.argv.slice(2) as [string, string, string, string];
const store = new PgHubStore(url);
try {
  const frameGz = Buffer.from(`move by ${usedBy}`);
  store.publish({
    feed: 'whitelist',
    puts: [
      {
        k: createHash('sha256').update(usedBy).digest().subarray(0, 16),
        h: createHash('sha256').update(`h ${usedBy}`).digest(),
        v: Buffer.from(usedBy),
        scope: 'issuer-1',
      },
    ],
    dels: [],
    batches: [
      {
        fromSeq: 0,
        toSeq: 1,
        opCount: 1,
        frameGz,
        publishedAt: Number(at),
        sha256: createHash('sha256').update(frameGz).digest(),
      },
    ],
    note: `seat transfer by ${usedBy}`,
    spendTransferCode: { codeSha256, at: Number(at), usedBy },
  });
  process.stdout.write(`${JSON.stringify({ ok: usedBy })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ code: (error as { code?: string }).code ?? String(error) })}\n`);
} finally {
  store.close();
}
