// The signature algorithm of an X.509 certificate or CRL, read from its DER without a full parser, so
// that the terminal (certificates) and the hub (CRLs) refuse the same things: JPKI signs both with
// sha256WithRSAEncryption, and anything else (SHA-1, PSS, ECDSA…) is not a JPKI object. Browser-safe.

export const SHA256_WITH_RSA = '1.2.840.113549.1.1.11';

const NAMES: Readonly<Record<string, string>> = {
  '1.2.840.113549.1.1.4': 'md5WithRSAEncryption',
  '1.2.840.113549.1.1.5': 'sha1WithRSAEncryption',
  '1.2.840.113549.1.1.10': 'RSASSA-PSS',
  '1.2.840.113549.1.1.11': 'sha256WithRSAEncryption',
  '1.2.840.113549.1.1.12': 'sha384WithRSAEncryption',
  '1.2.840.113549.1.1.13': 'sha512WithRSAEncryption',
  '1.2.840.113549.1.1.14': 'sha224WithRSAEncryption',
  '1.2.840.10045.4.1': 'ecdsa-with-SHA1',
  '1.2.840.10045.4.3.2': 'ecdsa-with-SHA256',
  '1.2.840.10045.4.3.3': 'ecdsa-with-SHA384',
  '1.3.101.112': 'Ed25519',
};

/** A readable name for an algorithm OID (the OID itself when unknown). */
export function algorithmName(oid: string): string {
  return NAMES[oid] ?? oid;
}

interface Tlv {
  tag: number;
  start: number; // of the value
  end: number;
}

function readTlv(der: Uint8Array, at: number, limit: number): Tlv {
  if (at + 2 > limit) throw new RangeError('truncated DER');
  const tag = der[at]!;
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 3 || start + n > limit) throw new RangeError('unsupported DER length');
    length = 0;
    for (let i = 0; i < n; i++) length = (length << 8) | der[start + i]!;
    start += n;
  }
  if (start + length > limit) throw new RangeError('DER value past its container');
  return { tag, start, end: start + length };
}

function children(der: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.start; at < parent.end;) {
    const tlv = readTlv(der, at, parent.end);
    out.push(tlv);
    at = tlv.end;
  }
  return out;
}

function decodeOid(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new RangeError('empty OID');
  const parts: number[] = [];
  let value = 0;
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(value);
      value = 0;
    }
  }
  const first = parts.shift()!;
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80];
  return [...head, ...parts].join('.');
}

/** AlgorithmIdentifier → { oid, parameters: 'absent' | 'null' | 'other' }. */
function algorithmIdentifier(der: Uint8Array, seq: Tlv): { oid: string; parameters: string } {
  if (seq.tag !== 0x30) throw new RangeError('AlgorithmIdentifier is not a SEQUENCE');
  const [oid, params, ...rest] = children(der, seq);
  if (!oid || oid.tag !== 0x06 || rest.length > 0) throw new RangeError('malformed AlgorithmIdentifier');
  const parameters = !params
    ? 'absent'
    : params.tag === 0x05 && params.end === params.start
      ? 'null'
      : 'other';
  return { oid: decodeOid(der.subarray(oid.start, oid.end)), parameters };
}

export type SignatureAlgorithmVerdict = { ok: true } | { ok: false; algorithm: string; detail: string };

/**
 * Accepts a certificate or CRL (DER) only when both its outer signatureAlgorithm and the signature
 * field inside the signed part are sha256WithRSAEncryption with NULL (or absent) parameters.
 */
export function requireSha256WithRsa(der: Uint8Array): SignatureAlgorithmVerdict {
  let outer: { oid: string; parameters: string };
  let inner: { oid: string; parameters: string } | null = null;
  try {
    const top = readTlv(der, 0, der.length);
    const [tbs, sigAlg] = children(der, top);
    if (top.tag !== 0x30 || !tbs || tbs.tag !== 0x30 || !sigAlg) throw new RangeError('not a signed object');
    outer = algorithmIdentifier(der, sigAlg);
    // certificate: [0] version, serial, signature…; CRL: version?, signature…
    const field = children(der, tbs).find((c) => c.tag === 0x30);
    if (field) inner = algorithmIdentifier(der, field);
  } catch (error) {
    return {
      ok: false,
      algorithm: 'unreadable',
      detail: `signature algorithm unreadable: ${(error as Error).message}`,
    };
  }
  for (const alg of [outer, inner]) {
    if (!alg)
      return { ok: false, algorithm: 'unreadable', detail: 'no signature algorithm in the signed part' };
    if (alg.oid !== SHA256_WITH_RSA)
      return {
        ok: false,
        algorithm: algorithmName(alg.oid),
        detail: `signature algorithm ${algorithmName(alg.oid)} is not sha256WithRSAEncryption`,
      };
    if (alg.parameters === 'other')
      return {
        ok: false,
        algorithm: 'sha256WithRSAEncryption',
        detail: 'signature algorithm parameters are not NULL',
      };
  }
  return { ok: true };
}
