// Installing a venue hub with the operator commands (in-process `jpki-kiosk hub …`): `venue init` makes the
// venue's keys, `venue delegate` at the central hub signs a delegation with the root key for one site.
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openHubDir } from '../../hub/hub-dir.js';
import { openToken, type TokenPlace } from '../../hub/hub-keys.js';
import { openVenueHub, openVenueKeys } from '../../hub/venue.js';
import { run } from '../../main/cli/hub-command.js';
import { openDelegation } from '../../protocol/delegation.js';
import { publisherKeyId } from '../../protocol/feed-format.js';
import { parseSignedRequest, signRequest } from '../../protocol/http-signature.js';
import { openPinnedRoot } from '../../protocol/root-of-trust.js';
import { captureStdout } from '../support/capture-stdout.js';
import { cleanup, register, startHub, tempDir } from './helpers.js';

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

    // The venue key and the request key were made in the venue folder's own token and never leave it.
    const venueDir = join(root, 'venue');
    const place = JSON.parse(readFileSync(join(venueDir, 'venue-keys.json'), 'utf8')) as TokenPlace & {
      store: string;
      label: string;
    };
    expect(place).toMatchObject({
      store: 'pkcs11',
      tokenLabel: 'jpki-venue',
      label: 'venue-key',
      requestLabel: 'request-key',
    });
    expect(statSync(join(venueDir, 'venue-keys.json')).mode & 0o077).toBe(0);
    expect(existsSync(join(venueDir, 'venue-key.pem'))).toBe(false);
    expect(existsSync(join(venueDir, 'request-key.pem'))).toBe(false);
    const token = openToken(place);
    try {
      for (const label of ['venue-key', 'request-key']) {
        const attempts = token.auditExtraction(label);
        expect(attempts.length).toBeGreaterThan(4);
        expect(attempts.filter((a) => a.leaked)).toEqual([]);
      }
    } finally {
      token.close();
    }
    // What the venue signs its requests to the central hub with is the key `venue init` printed.
    const venueKeys = openVenueKeys(venueDir);
    try {
      const req = { method: 'GET', authority: 'hub.example:8443', target: '/v1/feeds/whitelist?after=0' };
      const parsed = parseSignedRequest(req, await signRequest(venueKeys.requestSigner('venue-n'), req));
      if (typeof parsed === 'string') throw new Error(`signed request did not parse: ${parsed}`);
      expect(parsed.keyid).toBe('venue-n');
      expect(parsed.verify(createPublicKey(keys.requestKey))).toBe(true);
      expect(parsed.verify(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey)).toBe(false);
    } finally {
      venueKeys.close();
    }
    // A venue hub opens on that folder only with the key the delegation names (DELEGATION_INVALID else).
    copyFileSync(path, join(venueDir, 'delegation.json'));
    copyFileSync(join(root, 'hub', 'root.json'), join(venueDir, 'root.json'));
    // The central hub knows the venue by the request key `venue init` printed; the venue's requests,
    // signed in its token, are accepted there.
    const central = await startHub(root, 0, { indexKeyFile: join(root, 'index-key') });
    register(central.dir, 'venue-n', keys.requestKey, 'north', 'venue');
    const venue = openVenueHub({
      dir: venueDir,
      site: 'north',
      venueId: 'venue-n',
      upstreamUrl: central.url,
    });
    try {
      expect(venue.delegation.venueKeyId).toBe(delegation.venueKeyId);
      await venue.syncUpstream({ mirror: true });
      expect(venue.upstreamOnline()).toBe(true);
    } finally {
      await venue.close();
      await central.stop();
    }
  });
});
