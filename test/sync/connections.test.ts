// A terminal's connections to the hub: kept alive between the requests of a sync, closed on request when
// idle (closeIdleConnections) without breaking the next sync; and a current terminal's pull answer (hello
// and checkpoint only) comes as one plain body, a pull with batches gzipped, both verified end to end.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Socket } from 'node:net';
import {
  cardRow,
  cleanup,
  openTerminal,
  startHub,
  tempDir,
  type TestHub,
  type TestTerminal,
} from './helpers.js';

describe('terminal connections to the hub', () => {
  let root: string;
  let hub: TestHub;
  let terminal: TestTerminal;
  const open = new Set<Socket>();
  const encodings: Array<string | null> = [];

  beforeEach(async () => {
    root = tempDir('connections');
    hub = await startHub(root, 0, {
      beforeListen: (h) => {
        h.app.addHook('onSend', async (req, reply, payload) => {
          if (req.url.startsWith('/v1/feeds/'))
            encodings.push((reply.getHeader('content-encoding') as string | undefined) ?? null);
          return payload;
        });
      },
    });
    hub.hub.app.server.on('connection', (s: Socket) => {
      open.add(s);
      s.on('close', () => open.delete(s));
    });
    hub.dir.publisher.publishWhitelist([cardRow(1), cardRow(2)], 'test');
    terminal = openTerminal(root, 'conn-1', hub.dir, hub.url);
  });
  afterEach(async () => {
    await terminal.close();
    await hub.stop();
    cleanup(root);
    open.clear();
    encodings.length = 0;
  });

  const settle = async (cond: () => boolean) => {
    for (let i = 0; i < 200 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  };

  it('closes idle connections when asked, and the next sync opens new ones', async () => {
    expect((await terminal.client.syncNow()).ok).toBe(true);
    expect(open.size).toBeGreaterThan(0); // kept alive
    terminal.client.closeIdleConnections();
    await settle(() => open.size === 0);
    expect(open.size).toBe(0);
    expect((await terminal.client.syncNow()).ok).toBe(true);
    expect(open.size).toBeGreaterThan(0);
  });

  it('answers a current terminal plainly and a terminal behind with gzip, both verified', async () => {
    expect((await terminal.client.pull('whitelist')).applied).toBe(1);
    expect(encodings).toEqual(['gzip']);
    const again = await terminal.client.pull('whitelist');
    expect(again).toMatchObject({ applied: 0, hubTime: expect.any(Number) });
    expect(encodings).toEqual(['gzip', null]);
    expect(terminal.client.status().feeds.whitelist?.lastError).toBeNull();
  });
});
