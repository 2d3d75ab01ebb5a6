// Enrolment and the operator's terminal states, through the real hub (fastify on a loopback port, SQLite)
// and the real terminal stores and sync client: a one-time code enrols a key once; reuse, expiry, a key
// clash, a forged proof and a proof meant for another hub are refused with their codes and spend
// nothing; the enrolled terminal syncs; disable takes it out of service at its next contact and enable
// puts it back; retire wipes only after the signed reply holds the whole journal.
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run as hubCli } from '../../main/cli/hub-command.js';
import { run as enrolCli } from '../../main/cli/enrol-command.js';
import { enrolAtHub } from '../../main/core/sync/enrol.js';
import { issueEnrolmentCode } from '../../hub/enrolment.js';
import { loadConfig } from '../../config/load.js';
import { softwareSigner } from '../../protocol/http-signature.js';
import { terminalIdForKey } from '../../protocol/enrolment.js';
import { captureStdout } from '../support/capture-stdout.js';
import { cleanup, journalEntry, openTerminal, startHub, tempDir, type TestHub } from '../sync/helpers.js';

function newKey(): { key: KeyObject; pem: string; sign: (m: Uint8Array) => Promise<Uint8Array> } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = softwareSigner('x', privateKey);
  return {
    key: privateKey,
    pem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
    sign: signer.sign,
  };
}

describe('fleet: enrolment with a one-time code', () => {
  let root: string;
  let hub: TestHub;
  let common: string[];
  const cli = (...args: string[]) => captureStdout(() => hubCli([...args, ...common]));

  async function newCode(site = 'stadium-1', gate = 'north', zone = 'upper', ttl = '600'): Promise<string> {
    const r = await cli(
      'enrol-code',
      'create',
      '--site',
      site,
      '--gate',
      gate,
      '--zone',
      zone,
      '--kind',
      'stadium-gate',
      '--ttl',
      ttl,
      '--json',
    );
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { code: string; uri: string };
    expect(out.code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    return out.code;
  }

  beforeAll(async () => {
    root = tempDir('fleet-enrol');
    writeFileSync(join(root, 'index-key'), 'cd'.repeat(32) + '\n', { mode: 0o600 });
    hub = await startHub(root, 0, { indexKeyFile: join(root, 'index-key') });
    // The running hub hands out its root at enrolment.
    await hub.stop();
    hub = await startHub(root, 0, {
      indexKeyFile: join(root, 'index-key'),
      rootFile: join(root, 'hub', 'root.json'),
    });
    common = ['--dir', join(root, 'hub'), '--index-key', join(root, 'index-key')];
  }, 60_000);
  afterAll(async () => {
    await hub?.stop();
    cleanup(root);
  });

  it('enrols a key once; reuse, expiry, key clash, forged or misdirected proofs are refused and spend nothing', async () => {
    const code = await newCode();
    const a = newKey();
    const enrolA = (c: string, k = a, extra: Partial<Parameters<typeof enrolAtHub>[0]> = {}) =>
      enrolAtHub({ hubUrl: hub.url, code: c, publicKeyPem: k.pem, sign: k.sign, ...extra });

    // A proof signed by another key than the one offered: refused, and the code stays good.
    const thief = newKey();
    await expect(enrolA(code, { ...a, sign: thief.sign })).rejects.toMatchObject({
      code: 'ENROL_PROOF_INVALID',
    });
    // A request meant for another hub (replayed here): refused.
    const misdirected = await fetch(`${hub.url}/v1/enrol`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        v: 1,
        code,
        publicKey: a.pem,
        terminalId: null,
        authority: 'other-hub.example:8630',
        proof: Buffer.from(await a.sign(Buffer.from('x'))).toString('base64'),
      }),
    });
    expect(misdirected.status).toBe(401);
    expect(((await misdirected.json()) as { error: { code: string } }).error.code).toBe(
      'ENROL_PROOF_INVALID',
    );
    await expect(enrolA('ZZZZ-ZZZZ-ZZZZ')).rejects.toMatchObject({ code: 'ENROL_CODE_UNKNOWN' });

    const answer = await enrolA(code.toLowerCase());
    expect(answer).toMatchObject({
      terminalId: terminalIdForKey(a.pem),
      siteId: 'stadium-1',
      gateId: 'north',
      zone: 'upper',
      siteKind: 'stadium-gate',
      hubId: hub.dir.hubId,
    });
    expect(Buffer.from(answer.root!, 'base64').equals(readFileSync(hub.dir.rootFile))).toBe(true);
    expect(hub.dir.store.terminal(answer.terminalId)).toMatchObject({ gateId: 'north', state: 'active' });

    // The same code again, with another key: used.
    const b = newKey();
    await expect(enrolA(code, b)).rejects.toMatchObject({ code: 'ENROL_CODE_USED' });
    // A fresh code with the key already enrolled: refused, and that code stays good for another terminal.
    const second = await newCode('stadium-1', 'south', 'lower');
    await expect(enrolA(second, a, { terminalId: 'another-id' })).rejects.toMatchObject({
      code: 'ENROL_KEY_REGISTERED',
    });
    await expect(enrolA(second, b)).resolves.toMatchObject({ gateId: 'south', zone: 'lower' });

    // Expired: a code issued ten minutes ago that lived one minute.
    const old = issueEnrolmentCode(
      hub.dir.store,
      { siteId: 'stadium-1', gateId: 'east', zone: 'main', siteKind: 'stadium-gate' },
      60,
      Date.now() - 600_000,
    );
    await expect(enrolA(old.code, newKey())).rejects.toMatchObject({ code: 'ENROL_CODE_EXPIRED' });
    expect(
      hub.dir.store
        .terminals()
        .map((t) => t.gateId)
        .sort(),
    ).toEqual(['north', 'south']);
  });

  it('register-terminal no longer replaces a registered key; rotate-key does, explicitly', async () => {
    const a = newKey();
    const code = await newCode('site-r', 'gate-r', 'main');
    const { terminalId } = await enrolAtHub({ hubUrl: hub.url, code, publicKeyPem: a.pem, sign: a.sign });
    const b = newKey();
    const pemFile = join(root, 'b.pem');
    writeFileSync(pemFile, b.pem);
    await expect(
      hubCli([
        'register-terminal',
        '--id',
        terminalId,
        '--public-key',
        pemFile,
        '--site',
        'site-r',
        ...common,
      ]),
    ).rejects.toMatchObject({ code: 'HUB_TERMINAL_EXISTS' });
    expect(hub.dir.store.terminal(terminalId)?.publicKeyPem).toBe(a.pem);
    const r = await cli('terminals', 'rotate-key', terminalId, '--public-key', pemFile, '--json');
    expect(r.code).toBe(0);
    expect(hub.dir.store.terminal(terminalId)?.publicKeyPem).toBe(b.pem);
  });

  it('the enrolled terminal syncs; disabled it is out of service at its next contact; enabled it is back', async () => {
    const k = newKey();
    const code = await newCode('site-1', 'gate-a', 'main');
    const { terminalId } = await enrolAtHub({ hubUrl: hub.url, code, publicKeyPem: k.pem, sign: k.sign });
    const t = openTerminal(root, terminalId, hub.dir, hub.url, {
      register: false,
      signer: softwareSigner(terminalId, k.key),
      version: '9.9.9',
    });
    try {
      journalEntry(t, 'D1');
      expect((await t.client.syncNow()).ok).toBe(true);
      expect(t.client.status().outOfService).toBeNull();

      expect((await cli('terminals', 'disable', terminalId, '--reason', 'reported stolen')).code).toBe(0);
      journalEntry(t, 'D2');
      const refused = await t.client.syncNow();
      expect(refused.ok).toBe(false);
      expect(refused.push).toMatchObject({ code: 'TERMINAL_DISABLED' });
      expect(refused.pulls.whitelist).toMatchObject({ code: 'TERMINAL_DISABLED' });
      expect(t.client.status().outOfService).toMatchObject({ code: 'TERMINAL_DISABLED' });
      expect(t.client.status().outOfService?.message).toMatch(/reported stolen/);
      // Nothing of the disabled terminal's was taken.
      expect(hub.dir.store.journalCount(terminalId)).toBe(1);

      // Sightings reach the store in the hub's next write batch (about a second).
      await vi.waitFor(() => expect(hub.dir.store.terminal(terminalId)?.status?.version).toBe('9.9.9'), {
        timeout: 5_000,
      });
      const list = await cli('terminals', 'list', '--json');
      const row = (JSON.parse(list.stdout) as Array<Record<string, unknown>>).find(
        (x) => x.terminalId === terminalId,
      );
      expect(row).toMatchObject({
        state: 'disabled',
        version: '9.9.9',
        outOfService: 'disabled: reported stolen',
      });
      expect(row).toHaveProperty('configVersion');
      expect(row).toHaveProperty('queueLength', 0);
      // A site's view: only that site's terminals.
      const site = JSON.parse(
        (await cli('terminals', 'list', '--site', 'site-1', '--json')).stdout,
      ) as Array<{
        siteId: string;
        terminalId: string;
      }>;
      expect(site.map((x) => x.terminalId)).toContain(terminalId);
      expect(new Set(site.map((x) => x.siteId))).toEqual(new Set(['site-1']));
      const other = JSON.parse(
        (await cli('terminals', 'list', '--site', 'nowhere', '--json')).stdout,
      ) as unknown[];
      expect(other).toEqual([]);

      expect((await cli('terminals', 'enable', terminalId)).code).toBe(0);
      expect((await t.client.syncNow()).ok).toBe(true);
      expect(t.client.status().outOfService).toBeNull();
      expect(hub.dir.store.journalCount(terminalId)).toBe(2);
    } finally {
      await t.close();
    }
  });

  it('retire: the journal is uploaded first, then the wipe runs once, and the terminal stays out of service', async () => {
    const k = newKey();
    const code = await newCode('site-1', 'gate-b', 'main');
    const { terminalId } = await enrolAtHub({ hubUrl: hub.url, code, publicKeyPem: k.pem, sign: k.sign });
    const wipes: number[] = [];
    const t = openTerminal(root, terminalId, hub.dir, hub.url, {
      register: false,
      signer: softwareSigner(terminalId, k.key),
      pushBatchSize: 2,
      onRetire: () => {
        // What the wipe may rely on: every journal row is acknowledged by then.
        wipes.push(t.data.journal.pendingUpload());
      },
    });
    try {
      for (let i = 0; i < 5; i++) journalEntry(t, `R${i}`);
      expect((await cli('terminals', 'retire', terminalId, '--reason', 'venue closed')).code).toBe(0);
      // A pull is refused as retiring; the push carries all five rows, in batches, then the order.
      const report = await t.client.syncNow();
      expect(report.pulls.whitelist).toMatchObject({ code: 'TERMINAL_RETIRING' });
      expect(report.push).toMatchObject({ retire: true });
      expect(hub.dir.store.journalCount(terminalId)).toBe(5);
      expect(wipes).toEqual([0]);
      expect(t.client.status().outOfService).toMatchObject({ code: 'TERMINAL_RETIRED' });
      expect(hub.dir.store.terminal(terminalId)?.state).toBe('retired');
      // Retired is final: the hub refuses it, enable is refused, and no second wipe runs.
      const after = await t.client.syncNow();
      expect(after.push).toMatchObject({ code: 'TERMINAL_RETIRED' });
      await expect(hubCli(['terminals', 'enable', terminalId, ...common])).rejects.toMatchObject({
        code: 'TERMINAL_RETIRED',
      });
      expect(wipes).toEqual([0]);
    } finally {
      await t.close();
    }
  });

  it("jpki-kiosk enrol keeps the hub's binding, and the configuration loads it", async () => {
    const k = newKey();
    const code = await newCode('shelter-9', 'door-1', 'hall', '600');
    const dataDir = join(root, 'kiosk-data');
    const configFile = join(root, 'kiosk.json');
    writeFileSync(configFile, JSON.stringify({ profile: 'demo', data: { dir: dataDir } }));
    const r = await captureStdout(() =>
      enrolCli(['--hub', hub.url, '--code', code, '--config', configFile, '--json'], {
        key: { publicKeyPem: k.pem, sign: k.sign },
      }),
    );
    expect(r.code).toBe(0);
    const config = loadConfig({ file: configFile });
    expect(config.site).toMatchObject({
      terminalId: terminalIdForKey(k.pem),
      siteId: 'shelter-9',
      gateId: 'door-1',
      zone: 'hall',
      kind: 'stadium-gate',
    });
    expect(config.sync).toMatchObject({ enabled: true, hubUrl: hub.url });
    // Used: a second enrol with the same code is refused with its code.
    const other = newKey();
    await expect(
      enrolCli(['--hub', hub.url, '--code', code, '--config', configFile], {
        key: { publicKeyPem: other.pem, sign: other.sign },
      }),
    ).rejects.toMatchObject({ code: 'ENROL_CODE_USED' });
  });
});
