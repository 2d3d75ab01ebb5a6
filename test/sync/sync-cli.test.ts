// The operator's sync commands through `jpki-kiosk sync …` (in-process run()) against a real hub on a free
// loopback port and the terminal's real stores from a config file: `--once` pulls and pushes and prints per
// feed the result, the trusted position, data age and any error code; `status` prints the stored state
// without contacting the hub; a refused answer exits 1, an unreachable hub 3.
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.js';
import { openHubDir, type HubDir } from '../../hub/hub-dir.js';
import { createHub, type Hub } from '../../hub/server.js';
import { main } from '../../main/cli/index.js';
import { run, type SyncCommandDeps } from '../../main/cli/sync-command.js';
import { softwareSigner, type RequestSigner } from '../../protocol/http-signature.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { cardRow, cleanup, newTerminalKey, register, tempDir } from './helpers.js';
import { captureStdout } from '../support/capture-stdout.js';

interface Out {
  command: string;
  ok: boolean;
  feeds: Record<
    string,
    {
      result: string;
      applied?: number;
      epoch: string | null;
      seq: number;
      asOf: string | null;
      dataAgeSeconds: number | null;
      checkpoint: unknown;
      error: { code: string; message: string } | null;
    }
  >;
  push: { result: string; queueLength: number; error?: { code: string } | null } | null;
}

describe('jpki-kiosk sync', () => {
  let root: string;
  let dir: HubDir;
  let hub: Hub | null = null;
  let port: number;
  let configFile: string;
  let signer: RequestSigner;
  const TERMINAL = 'cli-gate-1';

  const cli = async (deps: SyncCommandDeps, ...args: string[]) => {
    const r = await captureStdout(() => run(['--config', configFile, ...args], { env: {}, ...deps }));
    return { code: r.code, out: (args.includes('--json') ? JSON.parse(r.stdout) : r.stdout) as Out };
  };

  async function startHub(): Promise<void> {
    hub = createHub({ store: dir.store, publisher: dir.publisher, hubId: dir.hubId });
    await hub.app.listen({ host: '127.0.0.1', port });
  }

  beforeAll(async () => {
    root = tempDir('sync-cli');
    dir = openHubDir(join(root, 'hub'), { indexKeyFile: null, keyStore: 'file' });
    // A free port, kept for the restart below.
    hub = createHub({ store: dir.store, publisher: dir.publisher, hubId: dir.hubId });
    await hub.app.listen({ host: '127.0.0.1', port: 0 });
    port = (hub.app.server.address() as AddressInfo).port;
    dir.publisher.publishWhitelist([cardRow(1), cardRow(2), cardRow(3)], 'cli test');
    const { key, publicPem } = newTerminalKey();
    register(dir, TERMINAL, publicPem);
    signer = softwareSigner(TERMINAL, key);
    configFile = join(root, 'gate.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        version: 1,
        profile: 'demo',
        site: { terminalId: TERMINAL },
        data: { dir: './data', indexKey: { file: dir.indexKeyFile } },
        sync: { enabled: true, hubUrl: `http://127.0.0.1:${port}`, rootPath: dir.rootFile },
      }),
    );
    // One journaled entry waiting to be pushed.
    const data = KioskData.fromConfig(loadConfig({ file: configFile, env: {} }), {});
    data.journal.append({
      kind: 'grant',
      terminalId: TERMINAL,
      siteId: 'site-1',
      gateId: 'gate-a',
      direction: 'entry',
      subject: 'S-cli',
      outcome: 'admitted',
      reasons: ['ok'],
    });
    data.close();
  }, 60_000);
  afterAll(async () => {
    await hub?.close();
    dir.close();
    cleanup(root);
  });

  it('status before the first sync: nothing held, never synced, one record queued', async () => {
    const { code, out } = await cli({}, 'status', '--json');
    expect(code).toBe(0);
    expect(out.command).toBe('sync status');
    expect(out.feeds.whitelist).toMatchObject({
      result: 'stored',
      seq: 0,
      epoch: null,
      dataAgeSeconds: null,
    });
    expect(out.push).toMatchObject({ queueLength: 1 });
  });

  it('--once pulls every feed and pushes the journal, printing the trusted position per feed', async () => {
    const { code, out } = await cli({ signer }, '--once', '--json');
    expect(code, JSON.stringify(out)).toBe(0);
    expect(out.ok).toBe(true);
    const head = dir.store.feedInfo('whitelist');
    expect(out.feeds.whitelist).toMatchObject({
      result: 'ok',
      seq: head.head,
      epoch: head.epoch,
      error: null,
      // The trusted checkpoint: signed by the hub for this very request, at the hub's head.
      checkpoint: { epoch: head.epoch, head: head.head, position: head.head },
    });
    expect(out.feeds.whitelist!.applied).toBeGreaterThan(0);
    expect(out.feeds.whitelist!.asOf).not.toBeNull();
    expect(out.feeds.whitelist!.dataAgeSeconds).toBeLessThan(60);
    expect(out.feeds.revocations).toMatchObject({ result: 'ok', error: null });
    expect(out.push).toMatchObject({ result: 'ok', queueLength: 0, error: null });
    expect(dir.store.journalCount(TERMINAL)).toBe(1);
  });

  it('status afterwards reads the same from the stores, with the hub stopped', async () => {
    await hub!.close();
    hub = null;
    const { code, out } = await cli({}, 'status', '--json');
    expect(code).toBe(0);
    const head = dir.store.feedInfo('whitelist');
    expect(out.feeds.whitelist).toMatchObject({
      result: 'stored',
      seq: head.head,
      epoch: head.epoch,
      checkpoint: { epoch: head.epoch, head: head.head },
    });
    expect(out.push).toMatchObject({ queueLength: 0 });
    const plain = await cli({}, 'status');
    expect(plain.out as unknown as string).toMatch(/^whitelist\s+stored\s+\S+:\d+ as of /m);
  });

  it('--once with the hub down exits 3 (unreachable), naming the code per feed', async () => {
    const { code, out } = await cli({ signer }, '--once', '--json');
    expect(code).toBe(3);
    expect(out.ok).toBe(false);
    expect(out.feeds.whitelist).toMatchObject({ result: 'unreachable', error: { code: 'SYNC_UNREACHABLE' } });
  });

  it('--once exits 1 when the hub refuses the answer (a key the hub does not know for this terminal)', async () => {
    await startHub();
    const stranger = softwareSigner(TERMINAL, newTerminalKey().key);
    const { code, out } = await cli({ signer: stranger }, '--once', '--json');
    expect(code).toBe(1);
    expect(out.feeds.whitelist).toMatchObject({ result: 'refused', error: { code: 'SYNC_REFUSED' } });
    expect(out.push).toMatchObject({ result: 'refused', error: { code: 'SYNC_REFUSED' } });
  });

  it('--help lists both commands; a wrong use exits 2; the group is registered', async () => {
    const help = await captureStdout(() => run(['--help']));
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('sync --once');
    expect(help.stdout).toContain('sync status');
    expect((await captureStdout(() => run(['sideways']))).code).toBe(2);
    const top = await captureStdout(() => main(['--help']));
    expect(top.stdout).toMatch(/^\s+sync\s+sync --once \| status/m);
    expect((await captureStdout(() => main(['sync', '--help']))).stdout).toContain('Exit status');
  });

  it('refuses to run --once when sync is not configured (typed config error)', async () => {
    const off = join(root, 'off.json');
    writeFileSync(
      off,
      JSON.stringify({
        version: 1,
        profile: 'demo',
        data: { dir: './data-off', indexKey: { file: dir.indexKeyFile } },
      }),
    );
    await expect(run(['--once', '--config', off], { env: {}, signer })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });
});
