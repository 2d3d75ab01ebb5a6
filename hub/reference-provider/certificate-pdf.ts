// The reference provider's document: an A4 certificate made with pdfkit in IPA Gothic (a Japanese font
// Debian ships), with a diagonal DEMO watermark on the page and a verification code printed on it.
// Why pdfkit: a well-kept, dependency-light PDF writer that embeds a subset of a TrueType font, so the
// text (names in kanji) is real text a reader and `pdftotext` can extract.
import PDFDocument from 'pdfkit';

export const DEFAULT_FONT = '/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf';

export interface CertificateContent {
  /** e.g. 住民票の写し */
  title: string;
  issuer: string;
  rows: Array<[label: string, value: string]>;
  documentId: string;
  verificationCode: string;
  issuedAt: Date;
  terminalId: string;
}

export function certificatePdf(
  content: CertificateContent,
  fontPath: string = DEFAULT_FONT,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const doc = new PDFDocument({
      size: 'A4',
      margin: 56,
      info: { Title: content.title, Author: content.issuer, Subject: `document ${content.documentId}` },
    });
    const chunks: Buffer[] = [];
    doc.on('data', (chunk: Buffer) => chunks.push(chunk));
    doc.on('end', () => resolve(Buffer.concat(chunks)));
    doc.on('error', reject);
    doc.registerFont('gothic', fontPath);
    doc.font('gothic');

    // The watermark first, so the text sits above it.
    doc.save();
    doc.rotate(-35, { origin: [297, 421] });
    doc.fillColor('#d0d0d0').fontSize(54).text('見本 DEMO 無効', 60, 380, { width: 480, align: 'center' });
    doc.restore();

    doc.fillColor('#000000');
    doc.fontSize(22).text(content.title, 56, 70, { align: 'center' });
    doc.moveDown(0.5);
    doc.fontSize(10).text('この証明書はデモ用の見本です。公的な証明には使えません。', { align: 'center' });
    doc.text('DEMONSTRATION DOCUMENT - NOT VALID AS A CERTIFICATE', { align: 'center' });
    doc.moveDown(1.5);
    let y = doc.y;
    for (const [label, value] of content.rows) {
      doc.fontSize(12).text(label, 70, y, { width: 130 });
      doc.text(value, 210, y, { width: 320 });
      y = Math.max(doc.y, y + 20) + 8;
    }
    doc.fontSize(10);
    doc.text(`発行: ${content.issuer}`, 70, 640);
    doc.text(`発行日時: ${content.issuedAt.toISOString()}`, 70);
    doc.text(`交付端末: ${content.terminalId}`, 70);
    doc.text(`文書番号: ${content.documentId}`, 70);
    doc.fontSize(14).text(`照合番号 Verification code: ${content.verificationCode}`, 70, 720);
    doc.end();
  });
}
