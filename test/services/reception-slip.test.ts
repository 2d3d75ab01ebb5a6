// Paper at the hospital reception: a site that enables the reception slip prints one after the
// decision commits, through a private CUPS queue, with the fields the site lists and no name. Out of
// paper leaves the decision standing and shows as the printer's state.
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

describe('reception slip at the hospital reception', () => {
  let rig: SlipRig;
  beforeAll(async () => {
    rig = await startRig(
      'reception-slips',
      36751,
      { kind: 'hospital-reception', gateId: 'desk-1', direction: 'entry' },
      { receptionSlip: { enabled: true }, slipMedia: 'receipt-80mm' },
    );
  }, 120_000);
  afterAll(() => stopRig(rig));

  it('prints the reception number, time and insurance status on 80 mm, and nothing that names the patient', async () => {
    const decision = await touch(rig, 'insured');
    expect(decision.outcome).toBe('admitted');
    await waitForJobs(rig.cups, 1);
    const [job] = rig.cups.jobs();
    expect(job?.title).toBe(`slip:reception:${decision.id}`);
    const text = await pdfText(job!.pdf);
    expect(text).toContain('受付票');
    expect(text).toContain('確認済');
    expect(text).toMatch(new RegExp(`\\b${decision.journalSeq}\\b`));
    expect(text).toContain(decision.at.slice(0, 10));
    // not listed by default: the insurer number and co-pay ratio stay off the slip
    const insurance = DEMO_RECORDS.insured!.entitlements[0] as { insurerNumber: string };
    expect(text).not.toContain(insurance.insurerNumber);
    expect(text).not.toContain(DEMO_RECORDS.insured!.subject);
    expectNoName(text);
    expect(await pageWidth(job!.pdf)).toBeCloseTo(80 * (72 / 25.4), 0);
  }, 60_000);

  it('prints no slip for a patient whose insurance has ended (refused)', async () => {
    const before = rig.cups.jobs().length;
    const decision = await touch(rig, 'insurance-expired');
    expect(decision.outcome).not.toBe('admitted');
    // a later admission's slip arrives, and it is the only new one
    const next = await touch(rig, 'insured');
    await waitForJobs(rig.cups, before + 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(
      rig.cups
        .jobs()
        .map((j) => j.title)
        .slice(before),
    ).toEqual([`slip:reception:${next.id}`]);
  }, 60_000);

  it('out of paper: the patient is still admitted and the printer shows unavailable', async () => {
    rig.cups.setPaperOut(true);
    try {
      const decision = await touch(rig, 'insured');
      expect(decision.outcome).toBe('admitted');
      let state: string | undefined;
      for (let i = 0; i < 150 && state !== 'unavailable'; i++) {
        state = (await rig.terminal.getStatus(undefined)).printer?.state;
        if (state !== 'unavailable') await new Promise((r) => setTimeout(r, 100));
      }
      expect(state).toBe('unavailable');
      expect((await rig.terminal.getStatus(undefined)).outOfService).toBeNull();
    } finally {
      rig.cups.setPaperOut(false);
      await rig.cups.enable();
      rig.terminal.printer!.supervisor.retryNow();
      for (let i = 0; i < 100 && !rig.terminal.printer!.ready; i++)
        await new Promise((r) => setTimeout(r, 100));
    }
    expect(rig.terminal.printer!.ready).toBe(true);
  }, 60_000);
});
