// The browser shell through real sockets: fastify on 127.0.0.1, the renderer's own WebSocket transport
// and API client (with the `ws` package as the socket), and an in-memory core.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { loadConfig } from '../../config/load.js';
import { startBrowserShell, type BrowserShell } from '../../main/browser/server.js';
import { createApiClient } from '../../renderer/src/api/client.js';
import { createWsTransport, memoryKeyStore, type SocketLike } from '../../renderer/src/api/ws-transport.js';
import { Channels, type KioskEvent } from '../../main/api/contract.js';
import { KioskError } from '../../base/errors.js';
import { launchTicketOf, WsPath } from '../../main/api/wire.js';
import { createFakeCore, makeDecision, type FakeCore } from '../support/fake-core.js';

let PORT = 0;
let dir: string;
let shell: BrowserShell;
let core: FakeCore;

function socketFactory(origin: string) {
  return (url: string) => new WebSocket(url, { origin }) as unknown as SocketLike;
}
function waitFor<T>(predicate: () => T | undefined, ms = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const timer = setInterval(() => {
      const value = predicate();
      if (value !== undefined) {
        clearInterval(timer);
        resolve(value);
      } else if (Date.now() - started > ms) {
        clearInterval(timer);
        reject(new Error('timed out'));
      }
    }, 10);
  });
}

interface RawClient {
  ws: WebSocket;
  messages: { t: string; channel?: string; payload?: unknown; id?: number; key?: string }[];
  closed: Promise<number>;
}

/** A raw WebSocket from a local process: it can send the right Origin, but has only what it is given. */
async function rawClient(hello?: string): Promise<RawClient> {
  const ws = new WebSocket(`ws://127.0.0.1:${PORT}${WsPath}`, { origin: `http://127.0.0.1:${PORT}` });
  const messages: RawClient['messages'] = [];
  ws.on('message', (raw) => messages.push(JSON.parse(String(raw)) as RawClient['messages'][number]));
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  await new Promise((resolve) => ws.on('open', resolve));
  if (hello !== undefined) ws.send(JSON.stringify({ t: 'hello', key: hello }));
  return { ws, messages, closed };
}

async function openWithKey(key: string): Promise<WebSocket> {
  const client = await rawClient(key);
  await waitFor(() => client.messages.find((m) => m.t === 'welcome'));
  return client.ws;
}

function call(client: RawClient, id: number, channel: string, payload?: unknown) {
  client.ws.send(JSON.stringify({ t: 'call', id, channel, payload }));
  return waitFor(() => client.messages.find((m) => m.t === 'result' && m.id === id));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'jpki-ui-shell-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>t</title>');
  core = createFakeCore();
  shell = await startBrowserShell({
    config: loadConfig({ profile: 'demo' }),
    core,
    port: 0,
    rendererDir: dir,
  });
  PORT = Number(new URL(shell.url).port);
});
afterAll(async () => {
  await shell?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('browser shell', () => {
  it('listens on 127.0.0.1 only and serves the renderer with a content security policy', async () => {
    expect(shell.url).toBe(`http://127.0.0.1:${PORT}/`);
    const res = await fetch(shell.url);
    expect(res.status).toBe(200);
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain(`ws://127.0.0.1:${PORT}`);
    expect(res.headers.get('x-frame-options')).toBe('DENY');
  });

  it('refuses a request whose Host is not the loopback address (DNS rebinding)', async () => {
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: PORT, path: '/', headers: { host: 'evil.example:80' } },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(403);
  });

  it('refuses a WebSocket opened by a page of another origin', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${PORT}${WsPath}`, { origin: 'https://evil.example' });
    const outcome = await new Promise<string>((resolve) => {
      ws.on('open', () => resolve('open'));
      ws.on('unexpected-response', (_req, res) => resolve(`http ${res.statusCode}`));
      ws.on('error', () => resolve('error'));
    });
    expect(outcome).toBe('http 403');
  });

  it('carries commands, typed errors and events through the renderer’s own client', async () => {
    const api = createApiClient(
      createWsTransport({
        url: `ws://127.0.0.1:${PORT}${WsPath}`,
        keys: memoryKeyStore(launchTicketOf(shell.launchUrl())),
        createSocket: socketFactory(`http://127.0.0.1:${PORT}`),
      }),
    );
    try {
      await waitFor(() => {
        let up: boolean | undefined;
        api.onConnection((c) => (up = c || undefined))();
        return up;
      });
      expect((await api.getStatus(undefined)).terminalId).toBe('test-terminal');

      // A typed error from the core arrives as a KioskError with its code.
      const locked = await api.recentDecisions({ limit: 5 }).catch((e: unknown) => e);
      expect(locked).toBeInstanceOf(KioskError);
      expect((locked as KioskError).code).toBe('STAFF_LOCKED');

      await api.staffUnlock({ method: 'pin', pin: '2468' });
      const wrong = await api.staffUnlock({ method: 'pin', pin: '0000' }).catch((e: unknown) => e);
      expect((wrong as KioskError).code).toBe('STAFF_CREDENTIAL_WRONG');

      // Events pushed by the core reach the subscriber, validated.
      const seen: KioskEvent[] = [];
      const off = api.subscribe((e) => seen.push(e));
      const d = makeDecision({ staffView: { displayName: '山田 太郎', subjectId: 'S-1' } });
      core.decide(d);
      const decision = await waitFor(() => seen.find((e) => e.name === 'decision'));
      expect(decision.payload).toEqual(d);
      off();
      expect((await api.recentDecisions({ limit: 5 }))[0]?.decision.id).toBe(d.id);
    } finally {
      api.close();
    }
  });

  it('answers an invalid payload with INVALID_REQUEST and closes a socket that sends garbage', async () => {
    const ws = await openWithKey(launchTicketOf(shell.launchUrl())!);
    const replies: unknown[] = [];
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw)) as { t: string };
      if (msg.t === 'result') replies.push(msg);
    });
    ws.send(
      JSON.stringify({
        t: 'call',
        id: 7,
        channel: Channels.commands.answerPin,
        payload: { requestId: 'x', pin: '12' },
      }),
    );
    ws.send(JSON.stringify({ t: 'call', id: 8, channel: 'kiosk:cmd:eval', payload: 'process.exit()' }));
    await waitFor(() => (replies.length >= 2 ? true : undefined));
    expect(replies).toEqual([
      expect.objectContaining({
        id: 7,
        ok: false,
        error: expect.objectContaining({ code: 'INVALID_REQUEST' }),
      }),
      expect.objectContaining({
        id: 8,
        ok: false,
        error: expect.objectContaining({ code: 'INVALID_REQUEST' }),
      }),
    ]);
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.send('{not json');
    expect(await closed).toBe(1007);
    expect(core.calls.find((c) => c.name === 'answerPin')).toBeUndefined();
  });

  it('a local process without the launch key gets no event and no answer', async () => {
    const silent = await rawClient();
    const wrong = await rawClient('x'.repeat(43));
    const before = core.calls.length;
    silent.ws.send(JSON.stringify({ t: 'call', id: 1, channel: Channels.commands.getStatus }));
    core.decide(makeDecision({ staffView: { displayName: '山田 太郎' } }));
    core.emit({ name: 'pinRequest', payload: { requestId: 'pin-x', triesLeft: 3, retry: false } });
    expect(await silent.closed).toBe(1008);
    expect(await wrong.closed).toBe(1008);
    expect(silent.messages).toEqual([]);
    expect(wrong.messages).toEqual([]);
    expect(core.calls.length).toBe(before);
  });

  it('a launch ticket opens one connection; its welcome key opens the next', async () => {
    const ticket = launchTicketOf(shell.launchUrl())!;
    expect(shell.launchUrl()).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${PORT}/#launch=`));
    const first = await rawClient(ticket);
    const welcome = await waitFor(() => first.messages.find((m) => m.t === 'welcome'));
    expect(welcome.key).not.toBe(ticket);
    const replay = await rawClient(ticket);
    expect(await replay.closed).toBe(1008);
    expect(replay.messages).toEqual([]);
    const again = await rawClient(welcome.key);
    await waitFor(() => again.messages.find((m) => m.t === 'welcome'));
    first.ws.close();
    again.ws.close();
  });

  it('a PIN request is answered only by a connection that was shown it', async () => {
    const ui = await rawClient(launchTicketOf(shell.launchUrl())!);
    await waitFor(() => ui.messages.find((m) => m.t === 'welcome'));
    core.emit({ name: 'pinRequest', payload: { requestId: 'pin-42', triesLeft: 3, retry: false } });
    await waitFor(() => ui.messages.find((m) => m.channel === Channels.events.pinRequest));
    // Another keyed connection opened after the request went out cannot answer or cancel it.
    const late = await rawClient(launchTicketOf(shell.launchUrl())!);
    await waitFor(() => late.messages.find((m) => m.t === 'welcome'));
    for (const [id, channel, payload] of [
      [1, Channels.commands.answerPin, { requestId: 'pin-42', pin: '0000' }],
      [2, Channels.commands.cancelPin, { requestId: 'pin-42' }],
    ] as const) {
      const reply = await call(late, id, channel, payload);
      expect(reply).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    }
    expect(core.pinAnswers.find((a) => a.requestId === 'pin-42')).toBeUndefined();
    expect(
      await call(ui, 3, Channels.commands.answerPin, { requestId: 'pin-42', pin: '1234' }),
    ).toMatchObject({
      ok: true,
    });
    expect(core.pinAnswers).toContainEqual({ requestId: 'pin-42', pin: '1234' });
    ui.ws.close();
    late.ws.close();
  });

  it('decision events carry the staff view only while staff mode is unlocked', async () => {
    const ui = await rawClient(launchTicketOf(shell.launchUrl())!);
    await waitFor(() => ui.messages.find((m) => m.t === 'welcome'));
    await call(ui, 1, Channels.commands.staffLock);
    const staffView = { displayName: '山田 花子', careNeeds: ['wheelchair'], residentId: 'R-1' };
    const locked = makeDecision({ staffView });
    core.decide(locked);
    const seenLocked = await waitFor(() =>
      ui.messages.find(
        (m) => m.channel === Channels.events.decision && (m.payload as { id: string }).id === locked.id,
      ),
    );
    expect((seenLocked.payload as { staffView: unknown }).staffView).toEqual({});
    expect(JSON.stringify(ui.messages)).not.toContain('山田');
    await call(ui, 2, Channels.commands.staffUnlock, { method: 'pin', pin: core.staffPin });
    const open = makeDecision({ staffView });
    core.decide(open);
    const seenOpen = await waitFor(() =>
      ui.messages.find(
        (m) => m.channel === Channels.events.decision && (m.payload as { id: string }).id === open.id,
      ),
    );
    expect((seenOpen.payload as { staffView: unknown }).staffView).toEqual(staffView);
    await call(ui, 3, Channels.commands.staffLock);
    ui.ws.close();
  });
});
