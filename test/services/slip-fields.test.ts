// The slips carry the fields a site lists and nothing else: the same decision, with a name, care needs
// and insurance numbers on it, printed with the default lists and with wider ones.
import { describe, expect, it } from 'vitest';
import type { Decision } from '../../base/decision.js';
import { receptionSlip, shelterSlip, type SlipContent } from '../../main/core/printing/slips.js';
import { PrintingSchema } from '../../config/schema.js';

const decision: Decision = {
  id: 'd-1',
  at: '2026-05-01T09:30:12.000Z',
  site: 'shelter',
  gateId: 'shelter-gym',
  direction: 'entry',
  outcome: 'admitted',
  reasons: ['ok'],
  degraded: false,
  journalSeq: 42,
  publicView: { headline: 'ok', householdSize: 3 },
  staffView: {
    subjectId: 'S-1',
    displayName: '山田 花子',
    householdId: 'H-0007',
    careNeeds: ['車椅子'],
    insurance: { status: 'valid', insurerNumber: '06139999', copayRatio: 0.3 },
  },
  timings: [],
};

const text = (slip: SlipContent) => [slip.title, ...slip.lines.flat(), slip.footer ?? ''].join('\n');
const defaults = PrintingSchema.parse({});

describe('slip fields', () => {
  it('the default reception slip has the number, status and time, no name and no insurer number', () => {
    const t = text(receptionSlip(decision, defaults.receptionSlip.fields));
    expect(t).toContain('42');
    expect(t).toContain('確認済');
    expect(t).toContain('2026-05-01 09:30');
    expect(t).not.toContain('山田');
    expect(t).not.toContain('06139999');
    expect(t).not.toContain('S-1');
  });

  it('the default shelter slip has the household number and time, no name and no care needs', () => {
    const t = text(shelterSlip(decision, defaults.shelterSlip.fields));
    expect(t).toContain('H-0007');
    expect(t).toContain('2026-05-01 09:30');
    expect(t).not.toContain('山田');
    expect(t).not.toContain('車椅子');
    expect(t).not.toContain('shelter-gym');
  });

  it('a site that lists the name, co-pay or care needs gets them', () => {
    const r = text(receptionSlip(decision, ['name', 'copayRatio', 'insurerNumber']));
    expect(r).toContain('山田 花子');
    expect(r).toContain('3割');
    expect(r).toContain('06139999');
    expect(r).not.toContain('2026-05-01');
    const s = text(shelterSlip(decision, ['name', 'careNeeds', 'householdSize', 'shelter']));
    expect(s).toContain('山田 花子');
    expect(s).toContain('車椅子');
    expect(s).toContain('shelter-gym');
    expect(s).not.toContain('H-0007');
  });

  it('a field the site may not list is refused by the configuration', () => {
    expect(() => PrintingSchema.parse({ shelterSlip: { enabled: true, fields: ['address'] } })).toThrow();
    expect(() => PrintingSchema.parse({ receptionSlip: { enabled: true, fields: ['birthDate'] } })).toThrow();
  });
});
