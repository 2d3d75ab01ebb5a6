// Request authentication once the hub knows a terminal's key: later requests are verified with the parsed
// key and their nonce used and the terminal read in one store call (one round trip on PostgreSQL). That
// shortcut must keep every refusal: a replay, a disabled terminal's state, and a key replaced since it was
// parsed (the old key no longer passes). Run on both stores.
import { generateKeyPairSync } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RequestAuthenticator } from '../../hub/request-auth.js';
import type { HubStore } from '../../hub/store.js';
import { signRequest, softwareSigner, type RequestSigner } from '../../protocol/http-signature.js';
import { cleanup, tempDir } from '../sync/helpers.js';
import { hubStoreKinds, useHubStores } from './stores.js';

const AUTHORITY = 'hub.test:8630';
const T0 = Date.parse('2026-11-21T10:00:00Z');

function newKey(id: string): { signer: RequestSigner; pem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return {
    signer: softwareSigner(id, privateKey),
    pem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
  };
}

const stores = useHubStores();

describe.each(hubStoreKinds)('request authentication with a known key (%s)', (kind) => {
  let root: string;
  let store: HubStore;
  let auth: RequestAuthenticator;
  let terminalReads: number;

  beforeEach(async () => {
    root = tempDir(`auth-${kind}`);
    const created = (await stores.create(kind, root)).store;
    terminalReads = 0;
    // Counts the separate terminal reads, to show which path a request took.
    store = new Proxy(created, {
      get(target, prop, receiver) {
        if (prop === 'terminal') terminalReads++;
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    auth = new RequestAuthenticator(
      store,
      () => T0,
      300_000,
      () => [AUTHORITY],
    );
  });
  afterEach(() => {
    auth.close();
    store.close();
    cleanup(root);
  });

  const register = (id: string, pem: string) =>
    store.registerTerminal(
      {
        terminalId: id,
        publicKeyPem: pem,
        siteId: 's1',
        gateId: 'g1',
        zone: 'main',
        siteKind: 'stadium-gate',
      },
      T0,
    );

  const signed = async (signer: RequestSigner) => {
    const target = '/v1/feeds/whitelist?after=0';
    const headers = await signRequest(signer, { method: 'GET', authority: AUTHORITY, target }, T0);
    return { method: 'GET', url: target, headers };
  };

  it('refuses a replay and reports the current state after the key was parsed once', async () => {
    const k = newKey('t1');
    register('t1', k.pem);
    expect(auth.check(await signed(k.signer), null)).toMatchObject({ ok: true });
    const readsAfterFirst = terminalReads;
    const second = await signed(k.signer);
    expect(auth.check(second, null)).toMatchObject({ ok: true, terminal: { state: 'active' } });
    expect(terminalReads).toBe(readsAfterFirst); // the one-call path
    expect(auth.check(second, null)).toEqual({
      ok: false,
      code: 'SYNC_REFUSED',
      message: 'request replayed',
    });
    store.setTerminalState('t1', 'disabled', 'stolen', T0);
    expect(auth.check(await signed(k.signer), null)).toMatchObject({
      ok: true,
      terminal: { state: 'disabled', stateReason: 'stolen' },
    });
  });

  it('refuses the old key once the terminal was re-keyed, and accepts the new one', async () => {
    const old = newKey('t2');
    register('t2', old.pem);
    expect(auth.check(await signed(old.signer), null)).toMatchObject({ ok: true });
    const next = newKey('t2');
    store.replaceTerminalKey('t2', next.pem, T0);
    expect(auth.check(await signed(old.signer), null)).toMatchObject({ ok: false, code: 'SYNC_REFUSED' });
    expect(auth.check(await signed(next.signer), null)).toMatchObject({ ok: true });
    expect(auth.check(await signed(old.signer), null)).toMatchObject({ ok: false, code: 'SYNC_REFUSED' });
  });

  it('refuses a request from another terminal id signed with a known key', async () => {
    const a = newKey('t3');
    register('t3', a.pem);
    expect(auth.check(await signed(a.signer), null)).toMatchObject({ ok: true });
    // The same private key claiming another (unregistered) terminal id.
    const forged = { ...a.signer, keyId: 'ghost' };
    expect(auth.check(await signed(forged), null)).toMatchObject({ ok: false, code: 'HUB_UNKNOWN_TERMINAL' });
  });
});
