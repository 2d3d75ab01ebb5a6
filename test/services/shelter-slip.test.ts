// Paper at the shelter: a check-in slip with the household number after the decision commits, on A4,
// through a private CUPS queue; the name and care needs on the whitelist entry stay off it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_RECORDS } from '../../main/demo/data.js';
import { pdfText } from '../support/cups.js';
import {
  expectNoName,
  pageWidth,
  startRig,
  stopRig,
  touch,
  waitForJobs,
  type SlipRig,
} from '../support/slip-rig.js';

describe('check-in slip at the shelter', () => {
  let rig: SlipRig;
  beforeAll(async () => {
    rig = await startRig(
      'shelter-slips',
      36752,
      { kind: 'shelter', gateId: 'shelter-gym', direction: 'entry' },
      { shelterSlip: { enabled: true, fields: ['householdNumber', 'time', 'shelter'] }, slipMedia: 'A4' },
    );
  }, 120_000);
  afterAll(() => stopRig(rig));

  it('prints the household number on A4 and not the resident name the roster holds', async () => {
    const decision = await touch(rig, 'shelter-resident');
    expect(decision.outcome).toBe('admitted');
    await waitForJobs(rig.cups, 1);
    const [job] = rig.cups.jobs();
    expect(job?.title).toBe(`slip:shelter:${decision.id}`);
    const text = await pdfText(job!.pdf);
    const resident = DEMO_RECORDS['shelter-resident']!.entitlements[0] as {
      householdId: string;
      displayName: string;
      careNeeds: string[];
    };
    expect(text).toContain('避難所受付票');
    expect(text).toContain(resident.householdId);
    expect(text).toContain('shelter-gym');
    // the whitelist entry carries a name and care needs (the roster keeps them); neither is listed
    expect(text).not.toContain(resident.displayName);
    expect(text).not.toContain(resident.careNeeds[0]);
    expectNoName(text);
    expect(await pageWidth(job!.pdf)).toBeCloseTo(595.28, 0);
  }, 60_000);
});
