// The terminal's requests signed in a real SoftHSM2 token: the hub accepts them by the registered
// public key exported from the token, and the private key never leaves it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hsm, initToken } from '../../hsm/client.js';
import { TERMINAL_KEY_LABEL } from '../../hsm/config.js';
import { hsmRequestSigner } from '../../main/core/sync/index.js';
import { SOFTHSM_MODULE, tempSoftHsm } from '../support/softhsm.js';
import {
  cardRow,
  cleanup,
  journalEntry,
  lookup,
  openTerminal,
  register,
  startHub,
  tempDir,
  type TestHub,
} from './helpers.js';

const soft = tempSoftHsm('jpki-sync-hsm-');
const PIN = '135790';
let hsm: Hsm;
let root: string;
let hub: TestHub;

beforeAll(async () => {
  await initToken(SOFTHSM_MODULE, soft.conf, 'sync-token', '97531111', PIN);
  hsm = new Hsm({
    module: SOFTHSM_MODULE,
    softhsmConf: soft.conf,
    tokenLabel: 'sync-token',
    tokenSerial: null,
    pin: () => PIN,
  });
  expect(await hsm.start()).toBe('ready');
  await hsm.generateKey(TERMINAL_KEY_LABEL, 'ec-p256');
  root = tempDir('hsm');
  hub = await startHub(root, 0);
}, 60_000);

afterAll(async () => {
  await hub?.stop();
  await hsm?.close();
  cleanup(root);
  soft.cleanup();
});

describe('HSM request signer', () => {
  it('signs pulls and pushes the hub accepts, with the key label the HSM layout reserves for it', async () => {
    const pub = await hsm.publicKey(TERMINAL_KEY_LABEL);
    register(hub.dir, 'hsm-gate', pub.pem);
    hub.dir.publisher.publishWhitelist([cardRow(5)], 'hsm');
    const t = openTerminal(root, 'hsm-gate', hub.dir, hub.url, {
      register: false,
      signer: hsmRequestSigner(hsm, 'hsm-gate'),
    });
    try {
      journalEntry(t, 'H1');
      const report = await t.client.syncNow();
      expect(report.ok).toBe(true);
      expect(lookup(t, cardRow(5)).card?.subject).toBe('S5');
      expect(hub.dir.store.journalCount('hsm-gate')).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('a signature by another token key is refused', async () => {
    await hsm.generateKey('other-key', 'ec-p256');
    const t = openTerminal(root, 'hsm-gate', hub.dir, hub.url, {
      register: false,
      signer: hsmRequestSigner(hsm, 'hsm-gate', 'other-key'),
    });
    try {
      await expect(t.client.pull('whitelist')).rejects.toMatchObject({ code: 'SYNC_REFUSED' });
    } finally {
      await t.close();
    }
  });
});
