// The demo's own data: a blank demo terminal is seeded with the demo tickets and revocations, and a
// demo terminal whose feed already follows a hub (docs/sync.md's demo-hub steps) keeps the hub's data
// instead of being refused at start.
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type KioskConfig } from '../../config/load.js';
import { projectRoot } from '../../config/paths.js';
import { ensureDemoAssets, ensureDemoData, type DemoAssets } from '../../main/demo/provision.js';
import { CHECKPOINT_FORMAT, ZERO_DIGEST, signCheckpoint } from '../../protocol/checkpoint.js';
import { softwareFeedSigner } from '../../protocol/feed-format.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { demoCards } from '../support/demo-cards.js';

let dataDir: string;
let config: KioskConfig;
let assets: DemoAssets;

beforeAll(async () => {
  await demoCards();
  dataDir = mkdtempSync(join(tmpdir(), 'jpki-demo-provision-'));
  cpSync(join(projectRoot(), 'var', 'demo', 'pki'), join(dataDir, 'demo', 'pki'), { recursive: true });
  const file = join(dataDir, 'demo.json');
  writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      profile: 'demo',
      data: { dir: dataDir },
      log: { level: 'silent' },
      actuators: { gate: null, signal: null },
    }),
  );
  config = loadConfig({ file, env: {} });
  assets = await ensureDemoAssets(config);
}, 120_000);

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** A blank terminal store for each case. */
function blankStore(): KioskData {
  rmSync(join(dataDir, 'store'), { recursive: true, force: true });
  return KioskData.fromConfig(config, {});
}

describe('demo data', () => {
  it('seeds a blank demo terminal with the demo tickets and revocations', () => {
    const data = blankStore();
    try {
      ensureDemoData(config, data, assets);
      expect(data.whitelist.feedState().seq).toBeGreaterThan(0);
      expect(data.revocations.feedState().seq).toBeGreaterThan(0);
    } finally {
      data.close();
    }
  });

  it('leaves a feed alone once it follows a hub, even an empty one (no DELTA_GAP at start)', () => {
    const data = blankStore();
    try {
      // An empty hub whitelist, checkpointed: the feed is on the hub's epoch at sequence 0.
      const signer = softwareFeedSigner(assets.publisherKey);
      const now = Date.now();
      const nonce = 'demo-provision-1';
      const checkpoint = signCheckpoint(
        {
          format: CHECKPOINT_FORMAT,
          publisherKeyId: signer.keyId,
          feed: 'whitelist',
          scope: null,
          epoch: 'hub-epoch',
          head: 0,
          position: 0,
          digest: ZERO_DIGEST,
          hubTime: now,
          expires: now + 3_600_000,
          more: false,
          nonce,
        },
        signer,
      );
      data.acceptCheckpoint('whitelist', checkpoint, nonce, now);
      expect(() => ensureDemoData(config, data, assets)).not.toThrow();
      expect(data.whitelist.feedState()).toMatchObject({ epoch: 'hub-epoch', seq: 0 });
      // The feed that follows no hub yet is still seeded.
      expect(data.revocations.feedState().seq).toBeGreaterThan(0);
    } finally {
      data.close();
    }
  });
});
