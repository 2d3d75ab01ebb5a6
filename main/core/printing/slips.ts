// Paper slips for the other site kinds: layouts only (pdfkit, IPA Gothic), for an 80 mm receipt printer
// or A4. A slip carries what the site configures and nothing else: a seat receipt holds the event, gate,
// zone, seat and time, never a name (the decision's public view is all it is given).
import PDFDocument from 'pdfkit';

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
      ['入場 Entered', view.at.replace('T', ' ').slice(0, 16)],
    ],
  };
}
