// A CRL read without holding its entries: a complete CRL of ten million serials is ~450 MB of DER, and
// parsed into objects it would not fit in memory. The DER is walked where it lies (a file read a window at
// a time, or a buffer): everything but revokedCertificates is cut out into a small "skeleton" CRL that the
// ordinary parser checks (issuer, dates, extensions), the signature is verified over the original
// tbsCertList bytes by a streaming verifier, and the entries are decoded one at a time when asked for.
import { createPublicKey, createVerify } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/** Random access to the DER bytes. */
export interface DerSource {
  readonly size: number;
  read(offset: number, length: number): Buffer;
  close(): void;
}

export function bufferSource(buf: Buffer): DerSource {
  return {
    size: buf.length,
    read: (offset, length) => buf.subarray(offset, Math.min(buf.length, offset + length)),
    close: () => undefined,
  };
}

export function fileSource(file: string): DerSource {
  const fd = openSync(file, 'r');
  const size = fstatSync(fd).size;
  return {
    size,
    read: (offset, length) => {
      const n = Math.max(0, Math.min(length, size - offset));
      const out = Buffer.allocUnsafe(n);
      let got = 0;
      while (got < n) {
        const r = readSync(fd, out, got, n - got, offset + got);
        if (r === 0) break;
        got += r;
      }
      return out.subarray(0, got);
    },
    close: () => closeSync(fd),
  };
}

interface Header {
  tag: number;
  /** Bytes of tag and length. */
  hdr: number;
  len: number;
}

class DerError extends Error {}

function headerAt(buf: Buffer, i: number): Header {
  if (i + 2 > buf.length) throw new DerError('truncated');
  const tag = buf[i]!;
  let len = buf[i + 1]!;
  let hdr = 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 6 || i + 2 + n > buf.length) throw new DerError('bad length');
    len = 0;
    for (let j = 0; j < n; j++) len = len * 256 + buf[i + 2 + j]!;
    hdr += n;
  }
  return { tag, hdr, len };
}

function readHeader(src: DerSource, offset: number): Header {
  const h = headerAt(src.read(offset, 8), 0);
  if (offset + h.hdr + h.len > src.size) throw new DerError('truncated');
  return h;
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

export interface CrlLayout {
  /** The CRL without its revokedCertificates, for the ordinary parser (its signature no longer fits). */
  skeleton: Buffer;
  /** tbsCertList as signed: [start, end) of the source. */
  tbs: { start: number; end: number };
  /** The content of revokedCertificates, or null when the CRL lists none. */
  entries: { start: number; end: number } | null;
  /** The signature value's bits. */
  signature: Buffer;
}

/** Finds the parts of a DER CRL (CertificateList, RFC 5280 §5.1) without reading its entries. */
export function crlLayout(src: DerSource): CrlLayout {
  try {
    const outer = readHeader(src, 0);
    if (outer.tag !== 0x30 || outer.hdr + outer.len !== src.size) throw new DerError('not a SEQUENCE');
    const tbsAt = outer.hdr;
    const tbs = readHeader(src, tbsAt);
    if (tbs.tag !== 0x30) throw new DerError('no tbsCertList');
    const tbsEnd = tbsAt + tbs.hdr + tbs.len;
    let i = tbsAt + tbs.hdr;
    let entries: { start: number; end: number } | null = null;
    let cut: { start: number; end: number } | null = null;
    // version?, signature, issuer, thisUpdate, nextUpdate?, revokedCertificates?, [0] crlExtensions?
    const next = (): Header | null => (i < tbsEnd ? readHeader(src, i) : null);
    const skip = (h: Header) => {
      i += h.hdr + h.len;
      if (i > tbsEnd) throw new DerError('field past tbsCertList');
    };
    const isTime = (h: Header | null) => h !== null && (h.tag === 0x17 || h.tag === 0x18);
    let h = next();
    if (h?.tag === 0x02) {
      skip(h);
      h = next();
    }
    for (const what of ['signature', 'issuer']) {
      if (h?.tag !== 0x30) throw new DerError(`no ${what}`);
      skip(h);
      h = next();
    }
    if (!isTime(h)) throw new DerError('no thisUpdate');
    skip(h!);
    h = next();
    if (isTime(h)) {
      skip(h!);
      h = next();
    }
    if (h?.tag === 0x30) {
      entries = { start: i + h.hdr, end: i + h.hdr + h.len };
      cut = { start: i, end: i + h.hdr + h.len };
      skip(h);
      h = next();
    }
    if (h?.tag === 0xa0) {
      skip(h);
      h = next();
    }
    if (h !== null || i !== tbsEnd) throw new DerError('unexpected field in tbsCertList');
    const afterTbs = src.read(tbsEnd, src.size - tbsEnd);
    const alg = headerAt(afterTbs, 0);
    const sig = headerAt(afterTbs, alg.hdr + alg.len);
    if (alg.tag !== 0x30 || sig.tag !== 0x03) throw new DerError('no signature');
    const sigStart = alg.hdr + alg.len + sig.hdr;
    const signature = afterTbs.subarray(sigStart + 1, sigStart + sig.len); // after the unused-bits byte
    const tbsContent =
      cut === null
        ? src.read(tbsAt + tbs.hdr, tbs.len)
        : Buffer.concat([
            src.read(tbsAt + tbs.hdr, cut.start - (tbsAt + tbs.hdr)),
            src.read(cut.end, tbsEnd - cut.end),
          ]);
    const tbsSkeleton = Buffer.concat([Buffer.of(0x30), derLength(tbsContent.length), tbsContent]);
    const body = Buffer.concat([tbsSkeleton, afterTbs]);
    return {
      skeleton: Buffer.concat([Buffer.of(0x30), derLength(body.length), body]),
      tbs: { start: tbsAt, end: tbsEnd },
      entries,
      signature: Buffer.from(signature),
    };
  } catch (error) {
    if (error instanceof DerError) throw new Error(`not a DER CRL: ${error.message}`, { cause: error });
    throw error;
  }
}

const WINDOW = 1 << 20;

/** Verifies sha256WithRSAEncryption over the original tbsCertList, read a window at a time. */
export function verifyTbs(src: DerSource, layout: CrlLayout, caPem: string): boolean {
  const v = createVerify('sha256');
  for (let o = layout.tbs.start; o < layout.tbs.end; o += WINDOW)
    v.update(src.read(o, Math.min(WINDOW, layout.tbs.end - o)));
  try {
    return v.verify(createPublicKey(caPem), layout.signature);
  } catch {
    return false;
  }
}

export interface RawCrlEntry {
  /** The serial's INTEGER content, hex (lower case). */
  serial: string;
  /** Seconds since 1970. */
  at: number;
  /** reasonCode (0 when absent). */
  reason: number;
  /** Critical entry extensions other than the ones named in `processed`. */
  unprocessedCritical: string | null;
}

/** A DER OBJECT IDENTIFIER content as dotted text. */
function oidText(c: Buffer): string {
  const parts: number[] = [];
  let v = 0;
  for (const b of c) {
    v = v * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

function timeSeconds(tag: number, c: Buffer): number {
  const s = c.toString('latin1');
  const m =
    tag === 0x17
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s)
      : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) throw new DerError(`bad time ${s}`);
  let year = Number(m[1]);
  if (tag === 0x17) year += year >= 50 ? 1900 : 2000;
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])) / 1000;
}

const REASON_CODE = '2.5.29.21';

/** The entries of revokedCertificates, decoded one at a time, a window of the source at a time. */
export function* crlEntries(
  src: DerSource,
  layout: CrlLayout,
  processed: ReadonlySet<string>,
): Generator<RawCrlEntry> {
  if (!layout.entries) return;
  const { start, end } = layout.entries;
  let base = start;
  let buf = src.read(base, Math.min(WINDOW, end - base));
  let i = 0;
  while (base + i < end) {
    let h: Header;
    try {
      h = headerAt(buf, i);
    } catch {
      h = { tag: 0, hdr: 0, len: Infinity };
    }
    if (i + h.hdr + h.len > buf.length) {
      // The entry runs past the window: read on from it.
      base += i;
      i = 0;
      buf = src.read(base, Math.min(Math.max(WINDOW, h.len === Infinity ? 0 : h.hdr + h.len), end - base));
      h = headerAt(buf, 0);
      if (h.hdr + h.len > buf.length) throw new Error('not a DER CRL: truncated entry');
    }
    if (h.tag !== 0x30) throw new Error('not a DER CRL: an entry is not a SEQUENCE');
    const entry = buf.subarray(i + h.hdr, i + h.hdr + h.len);
    i += h.hdr + h.len;
    yield decodeEntry(entry, processed);
  }
}

function decodeEntry(e: Buffer, processed: ReadonlySet<string>): RawCrlEntry {
  try {
    const sh = headerAt(e, 0);
    if (sh.tag !== 0x02) throw new DerError('no serial');
    // The serial's value: DER's sign-padding zero bytes are not part of it (as the whole-CRL parser has it).
    let from = sh.hdr;
    while (from < sh.hdr + sh.len - 1 && e[from] === 0) from++;
    const serial = e.toString('hex', from, sh.hdr + sh.len);
    let p = sh.hdr + sh.len;
    const th = headerAt(e, p);
    const at = timeSeconds(th.tag, e.subarray(p + th.hdr, p + th.hdr + th.len));
    p += th.hdr + th.len;
    let reason = 0;
    let unprocessedCritical: string | null = null;
    if (p < e.length) {
      const xs = headerAt(e, p);
      if (xs.tag !== 0x30) throw new DerError('bad entry extensions');
      let q = p + xs.hdr;
      const xEnd = q + xs.len;
      while (q < xEnd) {
        const x = headerAt(e, q);
        const xc = e.subarray(q + x.hdr, q + x.hdr + x.len);
        q += x.hdr + x.len;
        const oh = headerAt(xc, 0);
        const oid = oidText(xc.subarray(oh.hdr, oh.hdr + oh.len));
        let r = oh.hdr + oh.len;
        let critical = false;
        let f = headerAt(xc, r);
        if (f.tag === 0x01) {
          critical = xc[r + f.hdr] !== 0;
          r += f.hdr + f.len;
          f = headerAt(xc, r);
        }
        if (f.tag !== 0x04) throw new DerError('bad extension value');
        const value = xc.subarray(r + f.hdr, r + f.hdr + f.len);
        if (critical && !processed.has(oid) && unprocessedCritical === null) unprocessedCritical = oid;
        if (oid === REASON_CODE) {
          const en = headerAt(value, 0);
          if (en.tag !== 0x0a || en.len !== 1) throw new DerError('bad reasonCode');
          reason = value[en.hdr]!;
        }
      }
    }
    return { serial, at, reason, unprocessedCritical };
  } catch (error) {
    if (error instanceof DerError) throw new Error(`not a DER CRL: ${error.message}`, { cause: error });
    throw error;
  }
}
