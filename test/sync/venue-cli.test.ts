// Installing a venue hub with the operator commands (in-process `jpki-kiosk hub …`): `venue init` makes the
// venue's keys, `venue delegate` at the central hub signs a delegation with the root key for one site.
import { createPublicKey } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHubDir } from '../../hub/hub-dir.js';
import { openToken, type TokenPlace } from '../../hub/hub-keys.js';
import { openVenueHub } from '../../hub/venue.js';
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

    // The venue key was made in the venue folder's own token and never leaves it.
    const venueDir = join(root, 'venue');
    const place = JSON.parse(readFileSync(join(venueDir, 'venue-keys.json'), 'utf8')) as TokenPlace & {
      store: string;
      label: string;
    };
    expect(place).toMatchObject({ store: 'pkcs11', tokenLabel: 'jpki-venue', label: 'venue-key' });
    expect(statSync(join(venueDir, 'venue-keys.json')).mode & 0o077).toBe(0);
    expect(existsSync(join(venueDir, 'venue-key.pem'))).toBe(false);
    const token = openToken(place);
    try {
      const attempts = token.auditExtraction('venue-key');
      expect(attempts.length).toBeGreaterThan(4);
      expect(attempts.filter((a) => a.leaked)).toEqual([]);
    } finally {
      token.close();
    }
    // A venue hub opens on that folder only with the key the delegation names (DELEGATION_INVALID else).
    copyFileSync(path, join(venueDir, 'delegation.json'));
    copyFileSync(join(root, 'hub', 'root.json'), join(venueDir, 'root.json'));
    const venue = openVenueHub({
      dir: venueDir,
      site: 'north',
      venueId: 'venue-n',
      upstreamUrl: 'http://127.0.0.1:9',
    });
    expect(venue.delegation.venueKeyId).toBe(delegation.venueKeyId);
    await venue.close();
  });
});
