// What `npm start` shows: the demo composition starts its own reference provider, registers the demo
// terminal's HSM key there, and a demo card gets 住民票の写し printed to the demo's folder printer.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ComposedCore } from '../../main/extension.js';
import { composeDemoTerminal } from '../../main/demo/compose.js';
import { writeDemoConfig } from '../../main/demo/config.js';
import { DEMO_STAFF_PIN } from '../../main/demo/provision.js';
import { DEMO_PIN } from '../../sim/pki/demo-pki.js';
import { EventLog } from './helpers.js';

const dataDir = mkdtempSync(join(tmpdir(), 'jpki-demo-services-'));
let composed: ComposedCore;

beforeAll(async () => {
  const config = writeDemoConfig(dataDir, 'demo', {
    demo: { enabled: true, vpcdPort: 36770 },
    ui: { staffPin: { file: '${data}/demo/staff-pin' } },
  });
  composed = await composeDemoTerminal(config, { demoTiming: 'instant' });
}, 120_000);

afterAll(async () => {
  await composed?.close();
});

describe('the demo composition', () => {
  it('offers the kiosk services from the demo profile and prints a certificate for a demo card', async () => {
    const { terminal } = composed;
    await terminal.staffUnlock({ method: 'pin', pin: DEMO_STAFF_PIN });
    await terminal.selectSite({ siteKind: 'convenience-kiosk' });
    await terminal.staffLock(undefined);
    for (let i = 0; i < 50 && !(await terminal.getStatus(undefined)).services?.every((s) => s.available); i++)
      await new Promise((r) => setTimeout(r, 100));
    expect((await terminal.getStatus(undefined)).services?.map((s) => [s.names.ja, s.available])).toEqual([
      ['住民票の写し', true],
      ['印鑑登録証明書', true],
      ['課税証明書', true],
    ]);
    const log = new EventLog(terminal);
    await terminal.demoInsertCard({ name: 'kiosk-member' });
    const open = await log.waitFor((e) => e.name === 'session' && e.payload.state === 'open', 20_000, 0);
    const sessionId = (open.payload as { sessionId: string }).sessionId;
    const from = log.events.length;
    await terminal.requestService({ sessionId, serviceId: 'residence-certificate' });
    const ask = await log.waitFor((e) => e.name === 'pinRequest', 20_000, from);
    await terminal.answerPin({ requestId: (ask.payload as { requestId: string }).requestId, pin: DEMO_PIN });
    const end = await log.waitFor((e) => e.name === 'service' && e.payload.state !== 'working', 30_000, from);
    expect(end.payload).toMatchObject({ state: 'done', printed: true, feeYen: 200 });
    expect(readdirSync(join(dataDir, 'demo', 'printed')).some((f) => f.includes(sessionId))).toBe(true);
  }, 90_000);
});
