// What a retired terminal removes (main/core/sync/retire.ts), on real files laid out as the kiosk lays
// them out: the whitelist files and the shelter roster database in the store folder, the roster exports
// and the hospital hand-offs go; the journal (the audit record the hub already holds) and the revocation
// list (no personal data) stay.
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wipePersonalData } from '../../main/core/sync/retire.js';
import { KioskData, storeDir } from '../../whitelist/kiosk-data.js';
import { IndexKey } from '../../whitelist/privacy.js';
import { RosterKeyLabel, ShelterRoster } from '../../main/core/sites/shelter/roster.js';
import { configFor } from '../terminal/helpers.js';

describe('retire: the wipe', () => {
  it('removes whitelist, roster and outputs; keeps the journal and the revocation list', () => {
    const config = configFor();
    const store = storeDir(config);
    const indexKey = IndexKey.fromSecret('ab'.repeat(32));
    const data = KioskData.open({ dir: store, indexKey });
    data.journal.append({
      kind: 'grant',
      terminalId: 't',
      siteId: 's',
      gateId: 'g',
      direction: 'entry',
      subject: 'S-1',
      outcome: 'admitted',
      reasons: ['ok'],
    });
    data.close();
    const roster = ShelterRoster.inDir(store, indexKey.derive(RosterKeyLabel));
    roster.record({ personRef: 'p-1', registered: true, state: 'inside', at: Date.now() });
    roster.exportCsv(config.policy.shelter.rosterDir);
    roster.close();
    mkdirSync(config.policy.hospital.folder, { recursive: true });
    writeFileSync(join(config.policy.hospital.folder, 'handoff.json'), '{}');
    const before = readdirSync(store);
    expect(before.some((n) => n.startsWith('whitelist'))).toBe(true);
    expect(before.some((n) => n.startsWith('shelter-roster'))).toBe(true);

    const { removed } = wipePersonalData(config, store);
    expect(removed.length).toBeGreaterThan(0);
    const after = readdirSync(store);
    expect(after.filter((n) => n.startsWith('whitelist') || n.startsWith('shelter-roster'))).toEqual([]);
    expect(existsSync(config.policy.shelter.rosterDir)).toBe(false);
    expect(existsSync(config.policy.hospital.folder)).toBe(false);
    expect(after).toContain('terminal.db');
    expect(after.some((n) => n.startsWith('revocations'))).toBe(true);
  });

  it('never removes an output folder that holds the stores (a misconfiguration keeps the journal)', () => {
    const base = configFor();
    const config = {
      ...base,
      policy: { ...base.policy, shelter: { ...base.policy.shelter, rosterDir: base.data.dir } },
    } as typeof base;
    const store = storeDir(config);
    KioskData.open({ dir: store, indexKey: IndexKey.fromSecret('ab'.repeat(32)) }).close();
    wipePersonalData(config, store);
    expect(readdirSync(store)).toContain('terminal.db');
  });
});
