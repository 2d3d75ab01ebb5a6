import { describe, expect, it } from 'vitest';
import {
  Channels,
  CommandNames,
  Commands,
  DecisionSchema,
  EventNames,
  TerminalStatusSchema,
  commandForChannel,
  eventForChannel,
  toErrorPayload,
  validateRequest,
} from '../../main/api/contract.js';
import { dispatchCommand, eventToWire } from '../../main/api/dispatch.js';
import { KioskError } from '../../base/errors.js';
import { ProfileNames, SiteKinds } from '../../config/schema.js';
import { SiteKinds as BaseSiteKinds } from '../../base/site-kinds.js';
import { baseStatus, createFakeCore, makeDecision } from '../support/fake-core.js';

describe('channel table', () => {
  it('every channel name is unique and maps back to its command or event', () => {
    const all = [
      ...Object.values(Channels.commands),
      ...Object.values(Channels.events),
      ...Object.values(Channels.shell),
    ];
    expect(new Set(all).size).toBe(all.length);
    for (const name of CommandNames) expect(commandForChannel(Channels.commands[name])).toBe(name);
    for (const name of EventNames) expect(eventForChannel(Channels.events[name])).toBe(name);
    expect(commandForChannel(Channels.events.decision)).toBeUndefined();
    expect(commandForChannel('kiosk:cmd:__proto__')).toBeUndefined();
    expect(commandForChannel('toString')).toBeUndefined();
    expect(commandForChannel(42)).toBeUndefined();
  });

  it('site kinds and profiles agree with the configuration schema', () => {
    // One list: configuration re-exports the base list itself, not a copy of it.
    expect(SiteKinds).toBe(BaseSiteKinds);
    expect(ProfileNames.slice(1)).toEqual([...BaseSiteKinds]);
  });

  it('staff-only commands are the ones that show or change what staff own', () => {
    const staff = CommandNames.filter((n) => Commands[n].staff).sort();
    expect(staff).toEqual(
      [
        'annulEntry',
        'bindCompanion',
        'getRoster',
        'listSiteOptions',
        'lookupTicket',
        'recentDecisions',
        'registerPerson',
        'reverseAnnulment',
        'selectSite',
        'sendToReception',
        'setVolume',
        'syncNow',
        'enrol',
        'rosterExport',
      ].sort(),
    );
  });
});

describe('payload validation', () => {
  it('accepts a 4-digit PIN and refuses anything else without echoing it', () => {
    expect(validateRequest('answerPin', { requestId: 'r1', pin: '0123' }).ok).toBe(true);
    for (const pin of ['123', '12345', '12a4', ' 1234', 1234, null]) {
      const result = validateRequest('answerPin', { requestId: 'r1', pin });
      expect(result.ok).toBe(false);
      if (!result.ok) {
        expect(result.error.code).toBe('INVALID_REQUEST');
        if (typeof pin === 'string' && pin.trim()) expect(result.error.message).not.toContain(pin.trim());
      }
    }
  });

  it('refuses unknown keys, wrong types and missing fields', () => {
    expect(validateRequest('annulEntry', { decisionId: 'd', reason: 'other', extra: 1 }).ok).toBe(false);
    expect(validateRequest('annulEntry', { decisionId: 'd', reason: 'because' }).ok).toBe(false);
    expect(validateRequest('recentDecisions', { limit: 10_000 }).ok).toBe(false);
    expect(validateRequest('lookupTicket', { ticketNumber: 'TK-1001' }).ok).toBe(true);
    expect(validateRequest('lookupTicket', { ticketNumber: "TK'; DROP" }).ok).toBe(false);
    expect(validateRequest('lookupTicket', { ticketNumber: 'x'.repeat(33) }).ok).toBe(false);
    expect(validateRequest('getStatus', { anything: true }).ok).toBe(false);
    expect(validateRequest('getStatus', undefined).ok).toBe(true);
    // There is no staff card: a request for one is refused at the boundary, not answered NOT_AVAILABLE.
    expect(validateRequest('staffUnlock', { method: 'card' }).ok).toBe(false);
    expect(validateRequest('staffUnlock', { method: 'pin' }).ok).toBe(false);
    expect(validateRequest('demoInsertCard', { name: '../etc/passwd' }).ok).toBe(false);
  });

  it('the status and decision fixtures the UI tests use satisfy the schemas', () => {
    expect(TerminalStatusSchema.safeParse(baseStatus()).success).toBe(true);
    expect(DecisionSchema.safeParse(makeDecision()).success).toBe(true);
    expect(DecisionSchema.safeParse({ ...makeDecision(), secret: 1 }).success).toBe(false);
  });
});

describe('dispatch (the server side of both transports)', () => {
  it('runs a valid command and returns its value', async () => {
    const core = createFakeCore();
    const reply = await dispatchCommand(core, Channels.commands.getStatus, undefined);
    expect(reply).toEqual({ ok: true, value: core.status });
  });

  it('refuses an unknown channel and an invalid payload before the core sees them', async () => {
    const core = createFakeCore();
    const unknown = await dispatchCommand(core, 'kiosk:cmd:shutdown', undefined);
    expect(unknown.ok === false && unknown.error.code).toBe('INVALID_REQUEST');
    const bad = await dispatchCommand(core, Channels.commands.answerPin, { requestId: 'r', pin: 'abcd' });
    expect(bad.ok === false && bad.error.code).toBe('INVALID_REQUEST');
    expect(core.calls).toEqual([]);
  });

  it('lets the core’s typed error cross as {code, message} and hides untyped ones', async () => {
    const core = createFakeCore();
    const locked = await dispatchCommand(core, Channels.commands.recentDecisions, { limit: 5 });
    expect(locked).toEqual({ ok: false, error: { code: 'STAFF_LOCKED', message: 'staff mode is locked' } });
    core.getStatus = async () => {
      throw new TypeError('boom at /secret/path');
    };
    const internal = await dispatchCommand(core, Channels.commands.getStatus, undefined);
    expect(internal.ok === false && internal.error.code).toBe('INTERNAL');
    expect(JSON.stringify(internal)).not.toContain('stack');
  });

  it('toErrorPayload keeps only a known code and the message', () => {
    expect(toErrorPayload(new KioskError('PIN_BLOCKED', 'blocked', { pin: '1234' }))).toEqual({
      code: 'PIN_BLOCKED',
      message: 'blocked',
    });
    expect(toErrorPayload({ code: 'NOT_A_CODE', message: 'x' }).code).toBe('INTERNAL');
    expect(toErrorPayload('string').code).toBe('INTERNAL');
  });

  it('drops an event that breaks the contract instead of sending it', () => {
    const good = eventToWire({ name: 'decision', payload: makeDecision() });
    expect('channel' in good && good.channel).toBe(Channels.events.decision);
    const bad = eventToWire({ name: 'reading', payload: { phase: 'nope', progress: 2 } as never });
    expect('invalid' in bad).toBe(true);
  });
});
