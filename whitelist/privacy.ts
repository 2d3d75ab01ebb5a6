// Privacy at rest. A row is found by a keyed hash of (issuer key id, serial) under the fleet index key,
// and its content is sealed with AES-256-GCM under a key derived from the card certificate's
// SubjectPublicKeyInfo hash: a copied database, even with the index key, reveals nothing about a card
// whose certificate the reader does not hold. See docs/data.md for the threat model.
import * as nodeCrypto from 'node:crypto';
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { KioskError } from '../base/errors.js';
import { readSecret } from '../config/secrets.js';
import type { SecretRef } from '../config/schema.js';
import { KEY_BYTES } from '../protocol/feed-format.js';
import { decodeCardRecord, encodeCardRecord, type CardRecord, type CardRecordInput } from './entitlements.js';

/** Bytes of a row key (truncated HMAC-SHA-256; the feed format fixes it). 128 bits: no collisions at 10^8 rows. */
export { KEY_BYTES };
const SEAL_VERSION = 1;
const NONCE_BYTES = 8; // padded to GCM's 12 with zeros; per-card keys seal only a handful of values
const TAG_BYTES = 12; // GCM with a 96-bit tag (NIST SP 800-38D): 4 bytes less per row
const KEY_DOMAIN = Buffer.from('jpki-kiosk/card-key/v1\0', 'utf8');
const SEAL_INFO = Buffer.from('jpki-kiosk/entitlement/v1', 'utf8');
const DERIVE_DOMAIN = Buffer.from('jpki-kiosk/derived-key/v1\0', 'utf8');

const HMAC_BLOCK = 64;
/** crypto.hash (Node ≥ 20.12): SHA-256 without a Hash object; absent on older runtimes. */
const oneShotSha256: ((data: Buffer) => Buffer) | null =
  typeof (nodeCrypto as { hash?: unknown }).hash === 'function'
    ? (data) =>
        (nodeCrypto as unknown as { hash: (a: string, d: Buffer, e: 'buffer') => Buffer }).hash(
          'sha256',
          data,
          'buffer',
        )
    : null;

/** The key (at most one block) XOR the HMAC inner and outer pads (RFC 2104). */
function hmacPads(key: Uint8Array): { ipad: Buffer; opad: Buffer } {
  const ipad = Buffer.alloc(HMAC_BLOCK, 0x36);
  const opad = Buffer.alloc(HMAC_BLOCK, 0x5c);
  for (let i = 0; i < key.length; i++) {
    ipad[i]! ^= key[i]!;
    opad[i]! ^= key[i]!;
  }
  return { ipad, opad };
}

/**
 * HMAC-SHA-256 of `message` from precomputed pads. With crypto.hash it is two one-shot hashes, which
 * costs less than half a createHmac object for the short messages keyed here (card keys, row seals).
 */
function hmacWithPads(ipad: Buffer, opad: Buffer, message: Buffer): Buffer {
  if (!oneShotSha256) {
    const inner = createHash('sha256').update(ipad).update(message).digest();
    return createHash('sha256').update(opad).update(inner).digest();
  }
  const inner = Buffer.allocUnsafe(HMAC_BLOCK + message.length);
  ipad.copy(inner, 0);
  message.copy(inner, HMAC_BLOCK);
  const outer = Buffer.allocUnsafe(HMAC_BLOCK + 32);
  opad.copy(outer, 0);
  oneShotSha256(inner).copy(outer, HMAC_BLOCK);
  return oneShotSha256(outer);
}

/** The fleet index key: 32 bytes, from config `data.indexKey` (64 hex characters, or any ≥ 32-char string). */
export class IndexKey {
  /** The key XOR the HMAC pads (RFC 2104; the key is shorter than SHA-256's 64-byte block). */
  private readonly ipad: Buffer;
  private readonly opad: Buffer;

  private constructor(private readonly key: Buffer) {
    ({ ipad: this.ipad, opad: this.opad } = hmacPads(key));
  }

  static fromSecret(secret: string): IndexKey {
    const trimmed = secret.trim();
    if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return new IndexKey(Buffer.from(trimmed, 'hex'));
    if (trimmed.length < 32)
      throw new KioskError(
        'SECRET_INSECURE',
        'the index key must be 64 hex characters or at least 32 characters',
      );
    return new IndexKey(createHash('sha256').update(trimmed, 'utf8').digest());
  }

  static fromBytes(bytes: Uint8Array): IndexKey {
    if (bytes.length !== 32) throw new KioskError('SECRET_INSECURE', 'the index key must be 32 bytes');
    return new IndexKey(Buffer.from(bytes));
  }

  static generateHex(): string {
    return randomBytes(32).toString('hex');
  }

  /** Row key of a card: HMAC(indexKey, domain ‖ len ‖ issuerKeyId ‖ len ‖ serial), first 16 bytes. */
  cardKey(issuerKeyId: string | Uint8Array, serial: string | Uint8Array): Buffer {
    const issuer =
      typeof issuerKeyId === 'string' ? hexBytes(issuerKeyId, 'issuer key id') : Buffer.from(issuerKeyId);
    const ser = typeof serial === 'string' ? serialBytes(serial) : Buffer.from(serial);
    // A hub keys every row of a 10-million-row import and a terminal every card it reads: the HMAC is
    // computed from the precomputed pads (hmacWithPads), not through a createHmac object per call.
    const message = Buffer.allocUnsafe(KEY_DOMAIN.length + 2 + issuer.length + ser.length);
    let o = KEY_DOMAIN.copy(message, 0);
    message[o++] = issuer.length;
    o += issuer.copy(message, o);
    message[o++] = ser.length;
    ser.copy(message, o);
    return hmacWithPads(this.ipad, this.opad, message).subarray(0, KEY_BYTES);
  }

  /**
   * A 32-byte key for another purpose (e.g. sealing the shelter roster), derived from the index key so
   * that it is as secret as the index key and needs no file of its own: HMAC(indexKey, domain ‖ label).
   */
  derive(label: string): Buffer {
    return createHmac('sha256', this.key).update(DERIVE_DOMAIN).update(label, 'utf8').digest();
  }

  /** Hex keyed hash of a serial for the journal (`serialRef`): correlates entries, reveals no serial. */
  serialRef(issuerKeyId: string | Uint8Array, serial: string | Uint8Array): string {
    return this.cardKey(issuerKeyId, serial).toString('hex');
  }
}

function hexBytes(value: string, what: string): Buffer {
  // Fast path: plain hex as the verifier produces it.
  if (value.length % 2 === 0 && value.length <= 128) {
    const direct = Buffer.from(value, 'hex');
    if (direct.length * 2 === value.length) return direct;
  }
  const clean = value.replace(/[\s:]/g, '').toLowerCase();
  if (!/^([0-9a-f]{2})+$/.test(clean) || clean.length > 128)
    throw new KioskError('INVALID_REQUEST', `${what} must be hex bytes`);
  return Buffer.from(clean, 'hex');
}

/** Canonical serial bytes: hex, separators allowed, leading zero bytes dropped (DER sign padding). */
export function serialBytes(serial: string): Buffer {
  if (serial.length % 2 === 0 && serial.length <= 80 && !serial.startsWith('00')) {
    const direct = Buffer.from(serial, 'hex');
    if (direct.length * 2 === serial.length && direct.length > 0) return direct;
  }
  let clean = serial.replace(/[\s:]/g, '').toLowerCase();
  if (!/^[0-9a-f]+$/.test(clean) || clean.length > 80)
    throw new KioskError('INVALID_REQUEST', 'certificate serial must be hex');
  if (clean.length % 2) clean = '0' + clean;
  let bytes = Buffer.from(clean, 'hex');
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  bytes = bytes.subarray(start);
  return bytes;
}

/** SHA-256 of a certificate's SubjectPublicKeyInfo DER: what the hub and import rows carry. */
export function spkiHash(spkiDer: Uint8Array): Buffer {
  return createHash('sha256').update(spkiDer).digest();
}

function spkiHashBytes(value: string | Uint8Array): Buffer {
  const bytes = typeof value === 'string' ? hexBytes(value, 'SPKI hash') : Buffer.from(value);
  if (bytes.length !== 32) throw new KioskError('INVALID_REQUEST', 'SPKI hash must be 32 bytes (SHA-256)');
  return bytes;
}

/**
 * HKDF-Expand (RFC 5869) with the SPKI hash as the pseudorandom key — it is a SHA-256 output — and
 * info = label ‖ row key; one block of output is a single HMAC.
 */
function rowCipherKey(spki: Buffer, rowKey: Uint8Array): Buffer {
  const { ipad, opad } = hmacPads(spki);
  const info = Buffer.allocUnsafe(SEAL_INFO.length + rowKey.length + 1);
  SEAL_INFO.copy(info, 0);
  info.set(rowKey, SEAL_INFO.length);
  info[info.length - 1] = 1;
  return hmacWithPads(ipad, opad, info);
}

/**
 * Nonces for sealing, taken from a pool the CSPRNG refills: randomBytes per row cost as much as the
 * encryption on a hub sealing millions of rows. Each nonce is used once (the pool is never rewound).
 */
const noncePool = { bytes: Buffer.alloc(0), at: 0 };
function freshNonce(): Buffer {
  if (noncePool.at + NONCE_BYTES > noncePool.bytes.length) {
    noncePool.bytes = randomBytes(NONCE_BYTES * 8192);
    noncePool.at = 0;
  }
  const nonce = noncePool.bytes.subarray(noncePool.at, noncePool.at + NONCE_BYTES);
  noncePool.at += NONCE_BYTES;
  return nonce;
}

/** Seals a card record for row `rowKey`: version ‖ nonce(8) ‖ ciphertext ‖ tag(16). */
export function sealCardRecord(
  record: CardRecordInput,
  rowKey: Uint8Array,
  spkiSha256: string | Uint8Array,
): Buffer {
  return sealEncodedRecord(encodeCardRecord(record), rowKey, spkiSha256);
}

/**
 * Seals a record already encoded (encodeCardRecord): the hub validates and encodes a whole import before
 * it publishes the first part of it, and seals only the rows that changed.
 */
export function sealEncodedRecord(
  plain: Uint8Array,
  rowKey: Uint8Array,
  spkiSha256: string | Uint8Array,
): Buffer {
  const nonce = freshNonce();
  const iv = Buffer.alloc(12);
  nonce.copy(iv, 12 - NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', rowCipherKey(spkiHashBytes(spkiSha256), rowKey), iv, {
    authTagLength: TAG_BYTES,
  });
  cipher.setAAD(rowKey);
  const body = cipher.update(plain);
  cipher.final(); // GCM: nothing more to output; computes the tag
  return Buffer.concat([Buffer.of(SEAL_VERSION), nonce, body, cipher.getAuthTag()]);
}

/**
 * Opens a sealed row with the presented card's SPKI hash. A card whose public key differs from the one
 * the row was built for (a cloned serial on another key) fails authentication → null, like "not found".
 */
export function openCardRecord(
  sealed: Uint8Array,
  rowKey: Uint8Array,
  spkiSha256: string | Uint8Array,
): CardRecord | null {
  if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES || sealed[0] !== SEAL_VERSION)
    throw new KioskError('STORE_CORRUPT', 'whitelist row has an unknown seal format');
  const buf = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
  const iv = Buffer.alloc(12);
  buf.copy(iv, 12 - NONCE_BYTES, 1, 1 + NONCE_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', rowCipherKey(spkiHashBytes(spkiSha256), rowKey), iv, {
    authTagLength: TAG_BYTES,
  });
  decipher.setAAD(rowKey);
  decipher.setAuthTag(buf.subarray(buf.length - TAG_BYTES));
  // GCM returns the whole plaintext from update(); final() only checks the tag (throws on a mismatch).
  const plain = decipher.update(buf.subarray(1 + NONCE_BYTES, buf.length - TAG_BYTES));
  try {
    decipher.final();
  } catch {
    return null;
  }
  return decodeCardRecord(plain);
}

/** Structural check of a sealed value (no key needed): used when applying deltas and snapshots. */
export function isWellFormedSeal(value: Uint8Array): boolean {
  return value.length >= 1 + NONCE_BYTES + TAG_BYTES + 3 && value.length <= 4096 && value[0] === SEAL_VERSION;
}

/**
 * Reads the fleet index key from config. The demo profile, with no key configured, generates one into an
 * owner-only file under `<data>/demo/index-key` on first use.
 */
export function loadIndexKey(options: {
  ref: SecretRef | null;
  dataDir: string;
  demo: boolean;
  env?: NodeJS.ProcessEnv;
}): IndexKey {
  let ref = options.ref;
  if (ref === null) {
    if (!options.demo)
      throw new KioskError(
        'SECRET_MISSING',
        'data.indexKey is not configured: the whitelist cannot be indexed',
      );
    const file = `${options.dataDir}/demo/index-key`;
    if (!existsSync(file)) {
      mkdirSync(dirname(file), { recursive: true });
      writeFileSync(file, IndexKey.generateHex() + '\n', { mode: 0o600, flag: 'wx' });
    }
    ref = { file };
  }
  return IndexKey.fromSecret(readSecret(ref, 'index key (data.indexKey)', options.env));
}
