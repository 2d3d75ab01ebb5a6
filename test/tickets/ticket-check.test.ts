import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/load.js';
import { runTicketCheck } from '../../main/core/check/ticket-check.js';
import type { KioskData } from '../../whitelist/kiosk-data.js';

describe('a site that does not accept QR tickets', () => {
  it('refuses every scan as ticket_not_accepted before reading the ticket or the data', () => {
    const demo = loadConfig({ profile: 'demo' });
    expect(demo.site.tickets.accept).toBe(true);
    const config = { ...demo, site: { ...demo.site, tickets: { ...demo.site.tickets, accept: false } } };
    // Any touch of the stores would throw: the refusal must come first.
    const data = new Proxy({} as KioskData, {
      get() {
        throw new Error('the data was consulted');
      },
    });
    const result = runTicketCheck(
      {
        config,
        site: { kind: 'stadium-gate', gateId: 'gate-a', zone: 'main', direction: 'entry' },
        data,
        buildTime: Date.parse('2026-01-01T00:00:00Z'),
        lastHub: () => null,
        recentAdmits: new Map(),
        now: () => new Date('2026-12-04T12:00:00Z'),
      },
      'JKT1.anything',
    );
    expect(result.decision).toMatchObject({
      outcome: 'refused',
      credential: 'qr_ticket',
      reasons: ['ticket_not_accepted'],
    });
    expect(result.subject).toBeNull();
  });
});
