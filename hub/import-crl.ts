// `hub import-crl`: a DER or PEM X.509 CRL as a platform operator receives it, checked as RFC 5280 §6.3.3
// asks before the hub publishes anything from it:
// - its signature verifies with a configured CA certificate whose keyUsage has cRLSign;
// - it is current: thisUpdate not in the future, nextUpdate present and not past (CRL_EXPIRED);
// - no critical extension the hub does not process (CRL_UNSUPPORTED: indirect CRLs, certificateIssuer…);
// - its number does not go backwards against the last CRL of that scope (CRL_INVALID);
// - a delta CRL (deltaCRLIndicator) is applied against its base: BaseCRLNumber ≤ the number the hub holds
//   and its own number higher; listed entries are added, removeFromCRL entries removed, nothing else
//   deleted — or it is refused (CRL_DELTA_BASE). It is never taken as a complete list;
// - a partitioned CRL (issuingDistributionPoint) is refused (CRL_PARTITIONED) unless the operator allowed
//   that partition (`--allow-partition ID`); it then replaces only the rows of its own partition.
// The CRL's number, thisUpdate and nextUpdate are published to terminals with the rows, signed, in the
// same transaction (protocol/crl-status.ts): terminals judge revocation age from them.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as x509 from '@peculiar/x509';
import { KioskError } from '../base/errors.js';
import { requireSha256WithRsa } from '../base/signature-algorithm.js';
import { RevocationReasons, type RevocationReason } from '../protocol/feed-format.js';
import type { Publisher, PublishSummary, RevocationEntry } from './publisher.js';
import type { CrlState, HubStore } from './store.js';
import { bufferSource, crlEntries, crlLayout, fileSource, verifyTbs, type DerSource } from './crl-stream.js';

x509.cryptoProvider.set(webcrypto as unknown as ReturnType<typeof x509.cryptoProvider.get>);

const OID = {
  crlNumber: '2.5.29.20',
  deltaCrlIndicator: '2.5.29.27',
  issuingDistributionPoint: '2.5.29.28',
  authorityKeyIdentifier: '2.5.29.35',
  // entry extensions
  reasonCode: '2.5.29.21',
  holdInstruction: '2.5.29.23',
  invalidityDate: '2.5.29.24',
} as const;
/** Critical CRL extensions this importer processes (§5.2: a CRL with any other critical one is not used). */
const PROCESSED_CRL_EXTENSIONS = new Set<string>([
  OID.crlNumber,
  OID.deltaCrlIndicator,
  OID.issuingDistributionPoint,
  OID.authorityKeyIdentifier,
]);
const PROCESSED_ENTRY_EXTENSIONS = new Set<string>([OID.reasonCode, OID.holdInstruction, OID.invalidityDate]);
/** A CRL whose thisUpdate is further ahead of the hub clock than this is refused (a clock or CA fault). */
const MAX_FUTURE_MS = 5 * 60_000;

export interface ParsedCrl {
  issuer: string;
  issuerKeyId: string;
  crlNumber: bigint | null;
  thisUpdate: Date;
  nextUpdate: Date | null;
  /** Revoked serials (for a delta: the additions). */
  entries: RevocationEntry[];
  /** Serials listed with reason removeFromCRL (a delta CRL's removals). */
  removals: string[];
  /** BaseCRLNumber of a delta CRL; null for a complete CRL. */
  deltaBase: bigint | null;
  /** The IDP partition id (see partitionId), or null for a CRL of the issuer's whole scope. */
  partition: string | null;
  /** The IDP says indirectCRL: entries may belong to other issuers. */
  indirect: boolean;
}

/** A DER INTEGER extension value (cRLNumber, BaseCRLNumber) as a bigint; null if it is not one. */
function derInteger(value: ArrayBuffer): bigint | null {
  const v = Buffer.from(value);
  if (v[0] !== 0x02 || v.length < 3 || v[1]! > 21 || v.length !== 2 + v[1]!) return null;
  if (v[2]! & 0x80) return null; // negative: not a CRL number
  return BigInt('0x' + v.subarray(2).toString('hex'));
}

interface Tlv {
  tag: number;
  content: Buffer;
}

function readTlvs(buf: Buffer): Tlv[] {
  const out: Tlv[] = [];
  let i = 0;
  while (i < buf.length) {
    const tag = buf[i++]!;
    let len = buf[i++];
    if (len === undefined) throw new Error('truncated');
    if (len & 0x80) {
      const n = len & 0x7f;
      if (n === 0 || n > 4 || i + n > buf.length) throw new Error('bad length');
      len = 0;
      for (let j = 0; j < n; j++) len = len * 256 + buf[i++]!;
    }
    if (i + len > buf.length) throw new Error('truncated');
    out.push({ tag, content: buf.subarray(i, i + len) });
    i += len;
  }
  return out;
}

/**
 * The partition an issuingDistributionPoint describes, as the operator names it in `--allow-partition`:
 * the distribution point's URI (or `dirName:<hex>` for another name form), followed by the scope flags it
 * sets (`onlyUserCerts`, `onlyCACerts`, `onlyAttributeCerts`, `onlySomeReasons:<hex>`), joined by `;`.
 */
export function partitionId(idpDer: ArrayBuffer): { id: string; indirect: boolean } {
  const outer = readTlvs(Buffer.from(idpDer));
  if (outer.length !== 1 || outer[0]!.tag !== 0x30) throw new Error('not a SEQUENCE');
  const parts: string[] = [];
  let indirect = false;
  const isTrue = (c: Buffer) => c.length === 1 && c[0] !== 0;
  for (const field of readTlvs(outer[0]!.content)) {
    switch (field.tag) {
      case 0xa0: {
        // distributionPoint [0] DistributionPointName: fullName [0] GeneralNames | nameRelativeToCRLIssuer [1]
        const [name] = readTlvs(field.content);
        const uris =
          name?.tag === 0xa0
            ? readTlvs(name.content)
                .filter((g) => g.tag === 0x86)
                .map((g) => g.content.toString('latin1'))
            : [];
        parts.push(uris[0] ?? `dirName:${field.content.toString('hex')}`);
        break;
      }
      case 0x81:
        if (isTrue(field.content)) parts.push('onlyUserCerts');
        break;
      case 0x82:
        if (isTrue(field.content)) parts.push('onlyCACerts');
        break;
      case 0x83:
        parts.push(`onlySomeReasons:${field.content.toString('hex')}`);
        break;
      case 0x84:
        indirect = isTrue(field.content);
        break;
      case 0x85:
        if (isTrue(field.content)) parts.push('onlyAttributeCerts');
        break;
      default:
        throw new Error(`unknown field ${field.tag.toString(16)}`);
    }
  }
  return { id: parts.join(';') || '(empty)', indirect };
}

function hasCrlSign(ca: x509.X509Certificate): boolean {
  const ku = ca.getExtension(x509.KeyUsagesExtension);
  return ku !== null && (ku.usages & x509.KeyUsageFlags.cRLSign) !== 0;
}

/** The parts of a CRL the import checks before its entries, and who signed it. */
export type CrlHeader = Omit<ParsedCrl, 'entries' | 'removals'>;

/**
 * Checks a parsed CRL (RFC 5280 §6.3.3: algorithm, a configured CA with cRLSign, critical extensions,
 * number, delta base, partition); `verify` says whether a CA's key signed it.
 */
async function checkCrl(
  crl: x509.X509Crl,
  caPems: readonly string[],
  verify: (ca: x509.X509Certificate, pem: string) => Promise<boolean>,
): Promise<CrlHeader> {
  // JPKI signs its CRLs with sha256WithRSAEncryption; anything else is not the CA's list.
  const algorithm = requireSha256WithRsa(new Uint8Array(crl.rawData));
  if (!algorithm.ok)
    throw new KioskError('CRL_INVALID', `CRL refused: ${algorithm.detail}`, {
      algorithm: algorithm.algorithm,
    });
  let signer: x509.X509Certificate | null = null;
  for (const pem of caPems) {
    let ca: x509.X509Certificate;
    try {
      ca = new x509.X509Certificate(pem);
    } catch {
      throw new KioskError('CONFIG_INVALID', 'a configured CA certificate cannot be parsed');
    }
    if (ca.subject !== crl.issuer) continue;
    let ok = false;
    try {
      ok = await verify(ca, pem);
    } catch {
      ok = false;
    }
    if (ok) {
      signer = ca;
      break;
    }
  }
  if (!signer)
    throw new KioskError('CRL_INVALID', `the CRL of ${crl.issuer} is not signed by a configured CA`, {
      issuer: crl.issuer,
    });
  // RFC 5280 §6.3.3 (f): the key that signed a CRL must be one the CA certified for CRL signing.
  if (!hasCrlSign(signer))
    throw new KioskError(
      'CRL_SIGNER_USAGE',
      `the CRL of ${crl.issuer} is signed by a CA certificate whose keyUsage lacks cRLSign: refused`,
      { issuer: crl.issuer },
    );
  const ski = signer.getExtension(x509.SubjectKeyIdentifierExtension);
  if (!ski) throw new KioskError('CONFIG_INVALID', 'the CA certificate has no subject key identifier');
  const issuerKeyId = ski.keyId.toLowerCase();

  for (const ext of crl.extensions)
    if (ext.critical && !PROCESSED_CRL_EXTENSIONS.has(ext.type))
      throw new KioskError(
        'CRL_UNSUPPORTED',
        `the CRL of ${crl.issuer} has a critical extension ${ext.type} the hub does not process: refused`,
        { issuer: crl.issuer, extension: ext.type },
      );
  const crlNumberExt = crl.getExtension(OID.crlNumber);
  const crlNumber = crlNumberExt ? derInteger(crlNumberExt.value) : null;
  if (crlNumberExt && crlNumber === null)
    throw new KioskError('CRL_INVALID', `the CRL of ${crl.issuer} has a malformed cRLNumber`);
  const deltaExt = crl.getExtension(OID.deltaCrlIndicator);
  const deltaBase = deltaExt ? derInteger(deltaExt.value) : null;
  if (deltaExt && deltaBase === null)
    throw new KioskError('CRL_INVALID', `the delta CRL of ${crl.issuer} has a malformed BaseCRLNumber`);
  let partition: string | null = null;
  let indirect = false;
  const idp = crl.getExtension(OID.issuingDistributionPoint);
  if (idp) {
    try {
      ({ id: partition, indirect } = partitionId(idp.value));
    } catch (error) {
      throw new KioskError(
        'CRL_INVALID',
        `the CRL of ${crl.issuer} has a malformed issuingDistributionPoint`,
        undefined,
        { cause: error },
      );
    }
  }
  if (indirect)
    throw new KioskError(
      'CRL_UNSUPPORTED',
      `the CRL of ${crl.issuer} is an indirect CRL (entries of other issuers): refused`,
      { issuer: crl.issuer },
    );

  return {
    issuer: crl.issuer,
    issuerKeyId,
    crlNumber,
    thisUpdate: crl.thisUpdate,
    nextUpdate: crl.nextUpdate ?? null,
    deltaBase,
    partition,
    indirect,
  };
}

/**
 * Parses and verifies a CRL against the CA certificates (PEM): CRL_INVALID (not a CRL, not signed by a
 * configured CA), CRL_SIGNER_USAGE (the signing CA's keyUsage lacks cRLSign), CRL_UNSUPPORTED (a
 * critical extension the hub does not process, an indirect CRL).
 */
export async function readCrl(bytes: Buffer, caPems: readonly string[]): Promise<ParsedCrl> {
  let crl: x509.X509Crl;
  try {
    const text = bytes.subarray(0, 64).toString('latin1');
    crl = new x509.X509Crl(text.includes('-----BEGIN') ? bytes.toString('latin1') : new Uint8Array(bytes));
  } catch (error) {
    throw new KioskError('CRL_INVALID', 'not a DER or PEM X.509 CRL', undefined, { cause: error });
  }
  const header = await checkCrl(crl, caPems, (ca) => crl.verify({ publicKey: ca.publicKey }));
  const { issuerKeyId } = header;
  const entries: RevocationEntry[] = [];
  const removals: string[] = [];
  for (const e of crl.entries) {
    for (const ext of e.extensions)
      if (ext.critical && !PROCESSED_ENTRY_EXTENSIONS.has(ext.type))
        throw new KioskError(
          'CRL_UNSUPPORTED',
          `the CRL of ${crl.issuer} lists ${e.serialNumber} with a critical entry extension ${ext.type} the hub does not process: refused`,
          { issuer: crl.issuer, extension: ext.type },
        );
    const code = e.reason ?? 0;
    const serial = e.serialNumber.toLowerCase();
    if (code === 8) {
      removals.push(serial); // removeFromCRL: no longer revoked (delta CRLs only)
      continue;
    }
    const reason: RevocationReason = RevocationReasons[code] ?? 'unspecified';
    entries.push({
      issuerKeyId,
      serial,
      at: Math.floor(e.revocationDate.getTime() / 1000),
      reason,
    });
  }
  return { ...header, entries, removals };
}

/** A CRL as DER: PEM is decoded; DER is taken as it is. */
function derOf(bytes: Buffer): Buffer {
  const text = bytes.subarray(0, 64).toString('latin1');
  if (!text.includes('-----BEGIN')) return bytes;
  const m = /-----BEGIN X509 CRL-----([A-Za-z0-9+/=\s]+)-----END X509 CRL-----/.exec(
    bytes.toString('latin1'),
  );
  if (!m) throw new KioskError('CRL_INVALID', 'not a DER or PEM X.509 CRL');
  return Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
}

type CrlItem = { removal: false; entry: RevocationEntry } | { removal: true; serial: string };

/**
 * readCrl without holding the entries: the CRL is checked as readCrl checks it (the signature over the
 * original tbsCertList, streamed), and its entries are decoded one at a time when `items` is iterated
 * (a critical entry extension the hub does not process ends it with CRL_UNSUPPORTED).
 */
export async function openCrl(
  src: DerSource,
  caPems: readonly string[],
): Promise<{ header: CrlHeader; items: () => Generator<CrlItem> }> {
  let layout: ReturnType<typeof crlLayout>;
  let crl: x509.X509Crl;
  try {
    layout = crlLayout(src);
    crl = new x509.X509Crl(new Uint8Array(layout.skeleton));
  } catch (error) {
    throw new KioskError('CRL_INVALID', 'not a DER or PEM X.509 CRL', undefined, { cause: error });
  }
  const header = await checkCrl(crl, caPems, (_ca, pem) => Promise.resolve(verifyTbs(src, layout, pem)));
  function* items(): Generator<CrlItem> {
    let raw: Generator<ReturnType<typeof crlEntries> extends Generator<infer T> ? T : never>;
    try {
      raw = crlEntries(src, layout, PROCESSED_ENTRY_EXTENSIONS);
    } catch (error) {
      throw new KioskError('CRL_INVALID', 'not a DER X.509 CRL', undefined, { cause: error });
    }
    for (;;) {
      let next: IteratorResult<ReturnType<typeof crlEntries> extends Generator<infer T> ? T : never>;
      try {
        next = raw.next();
      } catch (error) {
        throw new KioskError(
          'CRL_INVALID',
          `the CRL of ${header.issuer}: ${(error as Error).message}`,
          undefined,
          {
            cause: error,
          },
        );
      }
      if (next.done) return;
      const e = next.value;
      if (e.unprocessedCritical !== null)
        throw new KioskError(
          'CRL_UNSUPPORTED',
          `the CRL of ${header.issuer} lists ${e.serial} with a critical entry extension ${e.unprocessedCritical} the hub does not process: refused`,
          { issuer: header.issuer, extension: e.unprocessedCritical },
        );
      if (e.reason === 8) {
        yield { removal: true, serial: e.serial }; // removeFromCRL: no longer revoked (delta CRLs only)
        continue;
      }
      const reason: RevocationReason = RevocationReasons[e.reason] ?? 'unspecified';
      yield {
        removal: false,
        entry: { issuerKeyId: header.issuerKeyId, serial: e.serial, at: e.at, reason },
      };
    }
  }
  return { header, items };
}

export interface CrlImportOptions {
  /** The hub clock (ms); tests inject one. */
  now?: () => number;
  /** IDP partitions (partitionId) the operator allowed; any other partitioned CRL is refused. */
  allowPartitions?: readonly string[];
}

export interface CrlImportResult extends PublishSummary {
  issuer: string;
  crlNumber: string | null;
  kind: 'complete' | 'delta';
  partition: string | null;
  /** Serials the CRL lists as revoked (a delta: its additions). */
  entries: number;
  /** A delta's removeFromCRL entries. */
  removals: number;
  thisUpdate: string;
  nextUpdate: string;
}

const num = (n: bigint | null): string => (n === null ? '-' : n.toString());

export async function importCrl(
  store: HubStore,
  publisher: Publisher,
  input: Buffer | { file: string },
  caPems: readonly string[],
  source: string,
  options: CrlImportOptions = {},
): Promise<CrlImportResult> {
  // A file is read where it lies, a window at a time: a CRL of millions of entries is never in memory.
  let src: DerSource;
  if (Buffer.isBuffer(input)) src = bufferSource(derOf(input));
  else
    try {
      src = fileSource(input.file);
      if (src.read(0, 64).toString('latin1').includes('-----BEGIN')) {
        // PEM is decoded whole (a CRL of millions of entries comes as DER).
        src.close();
        src = bufferSource(derOf(readFileSync(input.file)));
      }
    } catch (error) {
      if (error instanceof KioskError) throw error;
      throw new KioskError('CRL_INVALID', `${input.file} cannot be read`);
    }
  try {
    return await importOpenedCrl(store, publisher, src, caPems, source, options);
  } finally {
    src.close();
  }
}

async function importOpenedCrl(
  store: HubStore,
  publisher: Publisher,
  src: DerSource,
  caPems: readonly string[],
  source: string,
  options: CrlImportOptions,
): Promise<CrlImportResult> {
  const now = (options.now ?? Date.now)();
  const { header: crl, items } = await openCrl(src, caPems);
  const what = `${crl.deltaBase !== null ? 'delta ' : ''}CRL ${num(crl.crlNumber)} of ${crl.issuer}`;

  if (crl.partition !== null && !(options.allowPartitions ?? []).includes(crl.partition))
    throw new KioskError(
      'CRL_PARTITIONED',
      `${what} covers only the partition "${crl.partition}" (issuingDistributionPoint), not the issuer's complete list: refused. If this CA publishes its CRL in partitions, import each with --allow-partition '${crl.partition}'`,
      { issuer: crl.issuer, partition: crl.partition },
    );
  if (crl.nextUpdate === null)
    throw new KioskError('CRL_INVALID', `${what} has no nextUpdate: its age cannot be judged`, {
      issuer: crl.issuer,
    });
  if (crl.nextUpdate.getTime() <= crl.thisUpdate.getTime())
    throw new KioskError('CRL_INVALID', `${what}: nextUpdate is not after thisUpdate`);
  if (crl.nextUpdate.getTime() <= now)
    throw new KioskError(
      'CRL_EXPIRED',
      `${what} expired at ${crl.nextUpdate.toISOString()} (nextUpdate): refused; import the CA's current CRL`,
      { issuer: crl.issuer, nextUpdate: crl.nextUpdate.toISOString() },
    );
  if (crl.thisUpdate.getTime() > now + MAX_FUTURE_MS)
    throw new KioskError(
      'CRL_INVALID',
      `${what} is issued in the future (thisUpdate ${crl.thisUpdate.toISOString()}): check the hub clock`,
    );

  const scope = crl.partition === null ? crl.issuerKeyId : `${crl.issuerKeyId}#${crl.partition}`;
  const prior = store.crlState(scope);
  if (prior && crl.crlNumber !== null && prior.crlNumber !== null) {
    const held = BigInt(prior.crlNumber);
    // Complete and delta CRLs of one scope share a numbering (RFC 5280 §5.2.3).
    if (crl.crlNumber < held || (crl.deltaBase !== null && crl.crlNumber === held))
      throw new KioskError(
        'CRL_INVALID',
        `${what} of ${crl.thisUpdate.toISOString()} is older than the one already imported (${prior.crlNumber})`,
        { issuer: crl.issuer, held: prior.crlNumber },
      );
  } else if (prior && crl.thisUpdate.getTime() < prior.thisUpdate) {
    throw new KioskError(
      'CRL_INVALID',
      `${what} of ${crl.thisUpdate.toISOString()} is older than the one already imported (${prior.crlNumber ?? '-'})`,
    );
  }

  const state: CrlState & { nextUpdate: number } = {
    scope,
    issuerKeyId: crl.issuerKeyId,
    partition: crl.partition,
    crlNumber: crl.crlNumber === null ? null : crl.crlNumber.toString(),
    thisUpdate: crl.thisUpdate.getTime(),
    nextUpdate: crl.nextUpdate.getTime(),
  };
  let summary: PublishSummary;
  let entries = 0;
  const additions: RevocationEntry[] = [];
  const removals: string[] = [];
  if (crl.deltaBase !== null) {
    // RFC 5280 §5.2.4: usable only with a complete CRL numbered at least BaseCRLNumber.
    if (crl.crlNumber === null)
      throw new KioskError('CRL_DELTA_BASE', `${what} has no cRLNumber: a delta CRL cannot be placed`);
    if (!prior || prior.crlNumber === null)
      throw new KioskError(
        'CRL_DELTA_BASE',
        `${what} is a delta against complete CRL ${crl.deltaBase}, but the hub holds no complete CRL of this issuer: import the complete CRL first`,
        { issuer: crl.issuer, base: crl.deltaBase.toString(), held: null },
      );
    if (crl.deltaBase > BigInt(prior.crlNumber))
      throw new KioskError(
        'CRL_DELTA_BASE',
        `${what} is a delta against complete CRL ${crl.deltaBase}, newer than the CRL the hub holds (${prior.crlNumber}): import complete CRL ${crl.deltaBase} or later first`,
        { issuer: crl.issuer, base: crl.deltaBase.toString(), held: prior.crlNumber },
      );
    // A delta is small: its entries are collected.
    for (const item of items()) {
      if (item.removal) removals.push(item.serial);
      else additions.push(item.entry);
    }
    entries = additions.length;
    summary = publisher.applyRevocationDelta(
      crl.issuerKeyId,
      additions,
      removals,
      `delta CRL ${num(crl.crlNumber)} (base ${crl.deltaBase}) from ${source}`,
      state,
    );
  } else {
    // removeFromCRL in a complete CRL means nothing more than "not listed".
    // Streamed into the publication as they are decoded; nothing is published before the last is read.
    function* listed(): Generator<RevocationEntry> {
      for (const item of items()) {
        if (item.removal) removals.push(item.serial);
        else {
          entries++;
          yield item.entry;
        }
      }
    }
    summary = publisher.publishRevocations(
      crl.issuerKeyId,
      listed(),
      `CRL ${num(crl.crlNumber)} from ${source}`,
      state,
    );
  }
  return {
    ...summary,
    issuer: crl.issuer,
    crlNumber: state.crlNumber,
    kind: crl.deltaBase !== null ? 'delta' : 'complete',
    partition: crl.partition,
    entries,
    removals: removals.length,
    thisUpdate: crl.thisUpdate.toISOString(),
    nextUpdate: crl.nextUpdate.toISOString(),
  };
}
