// The institution certificate codec: exact encoding, strict parsing, validity by whole UTC days.
import { describe, expect, it } from 'vitest';
import {
  cvcValidAt,
  decodeCvcDate,
  decodeTlvs,
  encodeCvcDate,
  encodeTlv,
  parseCvc,
  readInstitutionCvc,
  verifyCvcSignature,
} from '../../hsm/cvc.js';
import { createMockCa, issueInstitutionCvc } from '../../sim/institution-ca/ca.js';

describe('BER-TLV', () => {
  it('uses the shortest length form and reads it back', () => {
    for (const n of [0, 1, 127, 128, 255, 256, 1000]) {
      const value = new Uint8Array(n).fill(0xab);
      const tlv = encodeTlv(0x5f37, value);
      const header = n < 128 ? 3 : n < 256 ? 4 : 5;
      expect(tlv.length).toBe(header + n);
      const [back] = decodeTlvs(tlv);
      expect(back!.tag).toBe(0x5f37);
      expect(back!.value.length).toBe(n);
    }
  });

  it('refuses non-minimal, indefinite and overlong lengths, and truncation', () => {
    for (const hex of [
      '4281050102030405',
      '42820005' + '00'.repeat(5),
      '4280',
      '4284000000010a',
      '4205010203',
      '5f',
    ]) {
      expect(() => decodeTlvs(Buffer.from(hex, 'hex')), hex).toThrow();
    }
  });
});

describe('dates', () => {
  it('encodes YYMMDD one digit per byte in UTC and refuses impossible dates', () => {
    expect([...encodeCvcDate(new Date('2027-11-21T23:59:00Z'))]).toEqual([2, 7, 1, 1, 2, 1]);
    expect(decodeCvcDate(Uint8Array.of(2, 6, 0, 2, 2, 8)).toISOString()).toBe('2026-02-28T00:00:00.000Z');
    expect(() => decodeCvcDate(Uint8Array.of(2, 6, 0, 2, 3, 0))).toThrow(/calendar/);
    expect(() => decodeCvcDate(Uint8Array.of(2, 6, 1, 3, 0, 1))).toThrow(/calendar/);
    expect(() => decodeCvcDate(Uint8Array.of(2, 6, 0, 1, 0, 0x0a))).toThrow(/digits/);
  });
});

describe('institution certificate', () => {
  const ca = createMockCa();
  const holder = createMockCa('HOLDER');
  const cert = issueInstitutionCvc(ca, {
    chr: 'DEMO0001',
    publicPoint: holder.publicPoint,
    effective: new Date('2026-04-01T15:00:00Z'),
    expiry: new Date('2027-03-31T10:00:00Z'),
  });

  it('round-trips and verifies under its CA only', () => {
    const cvc = parseCvc(cert);
    expect(cvc).toMatchObject({ car: ca.car, chr: 'DEMO0001', rights: 1 });
    expect(Buffer.from(cvc.raw).equals(Buffer.from(cert))).toBe(true);
    expect(verifyCvcSignature(cvc, ca.publicPoint)).toBe(true);
    expect(verifyCvcSignature(cvc, holder.publicPoint)).toBe(false);
  });

  it('is valid from the start of the effective day to the end of the expiry day (UTC)', () => {
    const cvc = parseCvc(cert);
    expect(cvcValidAt(cvc, new Date('2026-03-31T23:59:59Z'))).toBe(false);
    expect(cvcValidAt(cvc, new Date('2026-04-01T00:00:00Z'))).toBe(true);
    expect(cvcValidAt(cvc, new Date('2027-03-31T23:59:59Z'))).toBe(true);
    expect(cvcValidAt(cvc, new Date('2027-04-01T00:00:00Z'))).toBe(false);
  });

  it('refuses trailing bytes, a wrong outer tag, and reports HSM_CERT_INVALID to the terminal', () => {
    expect(() => parseCvc(Uint8Array.from([...cert, 0]))).toThrow();
    const wrongTag = Uint8Array.from(cert);
    wrongTag[1] = 0x22;
    expect(() => parseCvc(wrongTag)).toThrow();
    expect(() => readInstitutionCvc(wrongTag, 'x.cvc')).toThrow(
      expect.objectContaining({ code: 'HSM_CERT_INVALID' }),
    );
  });

  it('refuses a holder reference outside [0-9A-Z-]', () => {
    expect(() => issueInstitutionCvc(ca, { chr: 'demo 1', publicPoint: holder.publicPoint })).toThrow(/CHR/);
  });
});
