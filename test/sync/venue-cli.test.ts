// Installing a venue hub with the operator commands (in-process `jpki-kiosk hub …`): `venue init` makes the
// venue's keys, `venue delegate` at the central hub signs a delegation with the root key for one site.
import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHubDir } from '../../hub/hub-dir.js';
import { run } from '../../main/cli/hub-command.js';
import { openDelegation } from '../../protocol/delegation.js';
import { publisherKeyId } from '../../protocol/feed-format.js';
import { openPinnedRoot } from '../../protocol/root-of-trust.js';
import { captureStdout } from '../support/capture-stdout.js';
import { cleanup, tempDir } from './helpers.js';

describe('hub venue commands', () => {
  let root: string;
  beforeAll(() => {
    root = tempDir('venuecli');
    writeFileSync(join(root, 'index-key'), 'cd'.repeat(32) + '\n', { mode: 0o600 });
    // File keys: this file must not open a second SoftHSM2 configuration.
    openHubDir(join(root, 'hub'), { keyStore: 'file', indexKeyFile: join(root, 'index-key') }).close();
  });
  afterAll(() => cleanup(root));

  it('venue init makes the keys; venue delegate signs one site for that key with the root key', async () => {
    const init = await captureStdout(() => run(['venue', 'init', '--dir', join(root, 'venue'), '--json']));
    expect(init.code).toBe(0);
    const keys = JSON.parse(init.stdout) as { venueKey: string; requestKey: string };
    writeFileSync(join(root, 'venue.pem'), keys.venueKey);
    // Idempotent: a second init keeps the keys.
    const again = await captureStdout(() => run(['venue', 'init', '--dir', join(root, 'venue'), '--json']));
    expect((JSON.parse(again.stdout) as { venueKey: string }).venueKey).toBe(keys.venueKey);

    const common = ['--dir', join(root, 'hub'), '--index-key', join(root, 'index-key')];
    const d = await captureStdout(() =>
      run([
        'venue',
        'delegate',
        '--site',
        'north',
        '--id',
        'venue-n',
        '--public-key',
        join(root, 'venue.pem'),
        ...common,
        '--json',
      ]),
    );
    expect(d.code).toBe(0);
    const { path } = JSON.parse(d.stdout) as { path: string };
    const trusted = openPinnedRoot(readFileSync(join(root, 'hub', 'root.json')));
    const delegation = openDelegation(readFileSync(path), trusted, { site: 'north', now: Date.now() });
    expect(delegation).toMatchObject({ site: 'north', venueId: 'venue-n' });
    expect(delegation.venueKeyId).toBe(publisherKeyId(createPublicKey(keys.venueKey)));
    expect(() => openDelegation(readFileSync(path), trusted, { site: 'south', now: Date.now() })).toThrow(
      expect.objectContaining({ code: 'DELEGATION_INVALID' }),
    );
  });
});
