// The core's side of the utility-process protocol, with an in-memory core.
import { describe, expect, it } from 'vitest';
import { packagedConfigFile, serveCore, type ParentPortLike } from '../../main/electron/core-host.js';
import type { CoreToMain } from '../../main/electron/core-protocol.js';
import { Channels } from '../../main/api/contract.js';
import { createFakeCore, makeDecision } from '../support/fake-core.js';

function fakePort() {
  const sent: CoreToMain[] = [];
  let listener: ((e: { data: unknown }) => void) | null = null;
  const port: ParentPortLike = {
    postMessage: (m) => void sent.push(m),
    on: (_event, fn) => (listener = fn),
  };
  return { port, sent, deliver: (data: unknown) => listener!({ data }) };
}
const tick = () => new Promise((r) => setTimeout(r, 5));

describe('core host', () => {
  it('says ready, answers calls through the contract and forwards events', async () => {
    const core = createFakeCore();
    const { port, sent, deliver } = fakePort();
    serveCore(port, core, () => {});
    expect(sent[0]).toEqual({ t: 'ready' });
    deliver({ t: 'call', id: 1, channel: Channels.commands.getStatus, payload: undefined });
    deliver({
      t: 'call',
      id: 2,
      channel: Channels.commands.answerPin,
      payload: { requestId: 'r', pin: 'x' },
    });
    deliver({ t: 'call', id: 3, channel: 'kiosk:cmd:nope', payload: undefined });
    deliver(null);
    deliver('garbage');
    await tick();
    const results = sent.filter((m) => m.t === 'result') as Extract<CoreToMain, { t: 'result' }>[];
    expect(results.map((r) => [r.id, r.reply.ok]).sort()).toEqual([
      [1, true],
      [2, false],
      [3, false],
    ]);
    const d = makeDecision();
    core.decide(d);
    expect(sent).toContainEqual({ t: 'event', channel: Channels.events.decision, payload: d });
  });

  it('the IPC path carries a decision’s staff view only while staff mode is unlocked', async () => {
    const core = createFakeCore();
    const { port, sent } = fakePort();
    serveCore(port, core, () => {});
    const staffView = { displayName: '山田 花子', careNeeds: ['insulin'] };
    const locked = makeDecision({ staffView });
    core.decide(locked);
    expect(sent).toContainEqual({
      t: 'event',
      channel: Channels.events.decision,
      payload: { ...locked, staffView: {} },
    });
    expect(JSON.stringify(sent)).not.toContain('山田');
    await core.staffUnlock({ method: 'pin', pin: core.staffPin });
    const open = makeDecision({ staffView });
    core.decide(open);
    expect(sent).toContainEqual({ t: 'event', channel: Channels.events.decision, payload: open });
  });

  it('shuts the core down when told', async () => {
    const core = createFakeCore();
    let closed = false;
    let exited = false;
    Object.assign(core, { close: async () => void (closed = true) });
    const { port, deliver } = fakePort();
    serveCore(port, core, () => (exited = true));
    deliver({ t: 'shutdown' });
    await tick();
    expect([closed, exited]).toEqual([true, true]);
  });

  it('a packaged kiosk reads its site file from one fixed place per platform', () => {
    expect(packagedConfigFile('linux', {})).toBe('/etc/jpki-kiosk/config.json');
    expect(packagedConfigFile('win32', { PROGRAMDATA: 'D:\\PD' })).toBe('D:\\PD\\jpki-kiosk\\config.json');
  });
});
