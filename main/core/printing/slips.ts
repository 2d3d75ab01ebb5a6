// Paper slips for the other site kinds: layouts only (pdfkit, IPA Gothic), for an 80 mm receipt printer
// or A4. A slip carries what the site configures and nothing else: a seat receipt holds the event, gate,
// zone, seat and time, never a name (the decision's public view is all it is given); a reception or
// shelter slip holds the fields the site lists (printing.receptionSlip / shelterSlip), in a fixed order.
import PDFDocument from 'pdfkit';
import type { Decision } from '../../../base/decision.js';
import type { ReceptionSlipFields, ShelterSlipFields } from '../../../config/schema.js';

export const SLIP_FONT = '/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf';
const MM = 72 / 25.4;

export interface SlipContent {
  title: string;
  lines: Array<[label: string, value: string]>;
  footer?: string;
}

export function slipPdf(
  content: SlipContent,
  media: 'receipt-80mm' | 'A4',
  fontPath = SLIP_FONT,
): Promise<Buffer> {
  const receipt = media === 'receipt-80mm';
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({
      size: receipt ? [80 * MM, (40 + content.lines.length * 9) * MM] : 'A4',
      margin: receipt ? 4 * MM : 56,
      info: { Title: content.title },
    });
    const chunks: Buffer[] = [];
    doc.on('data', (c: Buffer) => chunks.push(c));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    doc.registerFont('gothic', fontPath);
    doc.font('gothic');
    doc.fontSize(receipt ? 14 : 22).text(content.title, { align: 'center' });
    doc.moveDown(0.6);
    for (const [label, value] of content.lines) {
      doc.fontSize(receipt ? 9 : 12).text(label);
      doc.fontSize(receipt ? 16 : 20).text(value);
      doc.moveDown(0.3);
    }
    if (content.footer) doc.fontSize(receipt ? 7 : 10).text(content.footer);
    doc.end();
  });
}

/** The seat receipt at a stadium gate: seat, gate, zone and time; no name, no card data. */
export function seatReceipt(view: { seat: string; gateId: string; zone?: string; at: string }): SlipContent {
  return {
    title: '座席票 Seat receipt',
    lines: [
      ['ゲート Gate', view.gateId],
      ...(view.zone ? ([['エリア Zone', view.zone]] as Array<[string, string]>) : []),
      ['座席 Seat', view.seat],
      ['入場 Entered', slipTime(view.at)],
    ],
  };
}

/** The decision's time as printed: minutes, UTC as journaled. */
function slipTime(at: string): string {
  return at.replace('T', ' ').slice(0, 16);
}

const INSURANCE_WORDS: Record<string, string> = {
  valid: '確認済 Confirmed',
  expired: '期限切れ Expired',
  not_found: '未登録 Not found',
  superseded: '要確認 Check at desk',
};

/**
 * The patient's reception slip: only the listed fields, read from the decision (the journal sequence is
 * the reception number); a field the decision lacks is left out rather than printed empty.
 */
export function receptionSlip(
  decision: Decision,
  fields: ReadonlyArray<(typeof ReceptionSlipFields)[number]>,
): SlipContent {
  const want = new Set(fields);
  const insurance = decision.staffView.insurance;
  const lines: Array<[string, string]> = [];
  if (want.has('receptionNumber') && decision.journalSeq !== undefined)
    lines.push(['受付番号 Reception no.', String(decision.journalSeq)]);
  if (want.has('name') && decision.staffView.displayName)
    lines.push(['氏名 Name', decision.staffView.displayName]);
  if (want.has('insuranceStatus') && insurance)
    lines.push(['保険資格 Insurance', INSURANCE_WORDS[insurance.status] ?? insurance.status]);
  if (want.has('insurerNumber') && insurance?.insurerNumber)
    lines.push(['保険者番号 Insurer no.', insurance.insurerNumber]);
  if (want.has('copayRatio') && insurance?.copayRatio !== undefined)
    lines.push([
      '負担割合 Co-pay',
      `${Math.round(insurance.copayRatio * 10)}割 (${Math.round(insurance.copayRatio * 100)}%)`,
    ]);
  if (want.has('time')) lines.push(['受付 Received', slipTime(decision.at)]);
  return { title: '受付票 Reception slip', lines };
}

/** The shelter check-in slip: household number and time by default; what else the site lists. */
export function shelterSlip(
  decision: Decision,
  fields: ReadonlyArray<(typeof ShelterSlipFields)[number]>,
): SlipContent {
  const want = new Set(fields);
  const sv = decision.staffView;
  const lines: Array<[string, string]> = [];
  if (want.has('shelter')) lines.push(['避難所 Shelter', decision.gateId]);
  if (want.has('householdNumber') && sv.householdId) lines.push(['世帯番号 Household no.', sv.householdId]);
  if (want.has('name') && sv.displayName) lines.push(['氏名 Name', sv.displayName]);
  if (want.has('householdSize') && decision.publicView.householdSize !== undefined)
    lines.push(['世帯人数 Household size', String(decision.publicView.householdSize)]);
  if (want.has('careNeeds') && sv.careNeeds?.length)
    lines.push(['配慮事項 Care needs', sv.careNeeds.join('、')]);
  if (want.has('time')) lines.push(['受付 Checked in', slipTime(decision.at)]);
  return { title: '避難所受付票 Shelter check-in', lines };
}
