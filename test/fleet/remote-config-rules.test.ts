// The merge rules of remote configuration: which keys a hub may set, and the schema check over the
// configuration running now. Local-only keys (paths, secrets, devices, hub, identity) are refused.
import { describe, expect, it } from 'vitest';
import { checkRemoteLayer, refusedRemoteKeys } from '../../config/remote.js';
import { configFor } from '../terminal/helpers.js';

describe('remote configuration rules', () => {
  it('allows site gate, zone, direction, language, policy, revocation and timing keys', () => {
    expect(
      refusedRemoteKeys({
        site: { zone: 'upper', gateId: 'north', direction: 'exit', language: 'en' },
        revocation: { maxAgeHours: 12 },
        policy: { stadium: { antiPassback: { mode: 'off' } } },
        ui: { volume: 0.5 },
        sync: { pullIntervalSeconds: 60 },
      }),
    ).toEqual([]);
  });

  it.each([
    [{ sync: { hubUrl: 'https://elsewhere.example/' } }, 'sync.hubUrl'],
    [{ sync: { rootPath: '/tmp/root.json' } }, 'sync.rootPath'],
    [{ hsm: { module: '/tmp/evil.so' } }, 'hsm.module'],
    [{ ui: { staffPin: { env: 'X' } } }, 'ui.staffPin.env'],
    [{ data: { dir: '/tmp' } }, 'data.dir'],
    [{ site: { terminalId: 'other' } }, 'site.terminalId'],
    [{ policy: { shelter: { rosterDir: '/tmp' } } }, 'policy.shelter.rosterDir'],
    [{ actuators: { gate: null } }, 'actuators.gate'],
    [{ trust: { allowTestCa: true } }, 'trust.allowTestCa'],
  ])('refuses the local-only key in %j', (layer, key) => {
    expect(refusedRemoteKeys(layer)).toContain(key);
    expect(() => checkRemoteLayer(configFor(), layer)).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    );
  });

  it('checks allowed keys against the schema over the running configuration', () => {
    const config = configFor();
    expect(checkRemoteLayer(config, { site: { zone: 'upper' } })).toEqual({ site: { zone: 'upper' } });
    expect(() => checkRemoteLayer(config, { ui: { volume: 7 } })).toThrow(/ui\.volume/);
    expect(() => checkRemoteLayer(config, { site: { direction: 'sideways' } })).toThrow(/site\.direction/);
  });
});
