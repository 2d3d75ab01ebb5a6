// The read-only status page: terminals with last seen / data age / queue / version, and a shelter's
// live occupancy and roster built from pushed journals; hostile names are escaped.
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, journalEntry, openTerminal, startHub, tempDir, type TestHub } from '../sync/helpers.js';

let root: string;
let hub: TestHub;

beforeAll(async () => {
  root = tempDir('status');
  hub = await startHub(root, 0);
});
afterAll(async () => {
  await hub.stop();
  cleanup(root);
});

describe('hub status page', () => {
  it('shows terminals and a shelter roster, escaping what terminals report', async () => {
    const t = openTerminal(root, 'shelter-door', hub.dir, hub.url, {
      version: '<b>1.2</b>',
      register: false,
    });
    hub.dir.store.registerTerminal(
      {
        terminalId: 'shelter-door',
        publicKeyPem: t.publicPem,
        siteId: 'hall-7',
        gateId: 'door',
        zone: 'hall',
        siteKind: 'shelter',
      },
      Date.now(),
    );
    try {
      journalEntry(t, 'R-001');
      journalEntry(t, 'R-002');
      journalEntry(t, 'R-001', 'exit');
      await t.client.syncNow();
      const json = (await (await fetch(`${hub.url}/status.json`)).json()) as {
        terminals: Array<{
          terminalId: string;
          version: string;
          queueLength: number;
          lastSeenSecondsAgo: number;
        }>;
        shelters: Array<{ siteId: string; occupancy: number; roster: Array<{ subject: string }> }>;
      };
      expect(json.terminals[0]).toMatchObject({
        terminalId: 'shelter-door',
        version: '<b>1.2</b>',
        queueLength: 0,
      });
      expect(json.terminals[0]!.lastSeenSecondsAgo).toBeLessThan(60);
      expect(json.shelters).toEqual([
        { siteId: 'hall-7', occupancy: 1, roster: [expect.objectContaining({ subject: 'R-002' })] },
      ]);
      const res = await fetch(`${hub.url}/`);
      expect(res.headers.get('content-type')).toContain('text/html');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("default-src 'none'");
      expect(csp).not.toMatch(/script-src|unsafe-/);
      const html = await res.text();
      // The one inline style sheet is exactly what the policy's hash allows.
      const style = /<style>([^<]*)<\/style>/.exec(html)![1]!;
      const hash = createHash('sha256').update(style, 'utf8').digest('base64');
      expect(csp).toContain(`style-src 'sha256-${hash}'`);
      const jsonRes = await fetch(`${hub.url}/status.json`);
      expect(jsonRes.headers.get('x-content-type-options')).toBe('nosniff');
      expect(jsonRes.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(html).toContain('hall-7 — 1 inside');
      expect(html).toContain('R-002');
      expect(html).not.toContain('<b>1.2</b>');
      expect(html).toContain('&lt;b&gt;1.2&lt;/b&gt;');
      // Read-only: nothing but GET.
      expect((await fetch(`${hub.url}/`, { method: 'POST' })).status).toBe(404);
    } finally {
      await t.close();
    }
  });
});
