// Site kinds are modules keyed by the one list of kinds; what staff may select comes from configuration.
import { describe, expect, it } from 'vitest';
import { SiteKinds, siteFeatures } from '../../base/site-kinds.js';
import { siteModules } from '../../main/core/sites/index.js';
import { selectableSites } from '../../main/core/terminal/index.js';
import { configFor, STAFF_PIN, unstartedTerminal } from './helpers.js';

describe('site modules', () => {
  it('has one module per kind, each with the browser-safe features of its kind', () => {
    expect(Object.keys(siteModules).sort()).toEqual([...SiteKinds].sort());
    for (const kind of SiteKinds) {
      expect(siteModules[kind].kind).toBe(kind);
      expect(siteModules[kind].features).toBe(siteFeatures[kind]);
    }
    expect(siteFeatures.shelter).toMatchObject({ keepsRoster: true, registersUnlisted: true });
    expect(siteFeatures['hospital-reception'].sendsToReception).toBe(true);
    expect(siteFeatures['convenience-kiosk'].opensSession).toBe(true);
  });

  it('a site profile may select only its configured kind and gate', () => {
    const config = configFor({ gateId: 'west-3' }, 'stadium-gate');
    expect(selectableSites(config)).toEqual({
      siteKinds: ['stadium-gate'],
      gates: [{ gateId: 'west-3', zone: config.site.zone, direction: config.site.direction }],
    });
  });

  it('the demo lists every kind and its demo gates from its profile, and selectSite checks them', async () => {
    const { terminal } = unstartedTerminal();
    await terminal.staffUnlock({ method: 'pin', pin: STAFF_PIN });
    const options = await terminal.listSiteOptions(undefined);
    expect(options.siteKinds).toEqual([...SiteKinds]);
    expect(options.gates.map((g) => g.gateId)).toEqual(['gate-a', 'gate-a-exit', 'gate-b']);
    await expect(terminal.selectSite({ siteKind: 'stadium-gate', gateId: 'gate-z' })).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
    });
    const status = await terminal.selectSite({ siteKind: 'stadium-gate', gateId: 'gate-a-exit' });
    expect(status).toMatchObject({ gateId: 'gate-a-exit', direction: 'exit' });
    await terminal.close();
  });
});
