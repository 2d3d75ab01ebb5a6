// Key operations in an open session, on the worker thread: find, describe, generate, sign, and the
// extraction audit. Private key material never leaves: only public keys, signatures and flags do.
import { ckrOf, Failure, pk, requireLib, type KeyHandles, type Session } from './pkcs11-calls.js';
import type { ExtractionAttempt, KeyInfo, KeyKind } from './pkcs11-protocol.js';

function findOne(s: Session, cls: number, label: string): Buffer | null {
  const p = requireLib();
  p.C_FindObjectsInit(s.handle, [
    { type: pk.CKA_CLASS, value: cls },
    { type: pk.CKA_LABEL, value: label },
  ]);
  try {
    const found = p.C_FindObjects(s.handle, 2);
    if (found.length > 1) throw new Failure(`more than one object labelled ${label}: refusing to guess`);
    return found[0] ?? null;
  } finally {
    p.C_FindObjectsFinal(s.handle);
  }
}

function keyHandles(s: Session, label: string): KeyHandles {
  const cached = s.keys.get(label);
  if (cached) return cached;
  const priv = findOne(s, pk.CKO_PRIVATE_KEY, label);
  if (!priv) throw new Failure(`no private key labelled ${label} in the token`, 'key');
  const found: KeyHandles = { priv, pub: findOne(s, pk.CKO_PUBLIC_KEY, label) };
  s.keys.set(label, found);
  return found;
}

const P256_OID = Buffer.from('06082a8648ce3d030107', 'hex');
/** Ed25519 in PKCS#11 3.0 (pkcs11js does not name them): key type, key-pair generation, signature. */
export const CKK_EC_EDWARDS = 0x40;
const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
const CKM_EDDSA = 0x1057;
/** CKA_EC_PARAMS of an Ed25519 key: the DER OID 1.3.101.112. */
const ED25519_OID = Buffer.from('06032b6570', 'hex');

function unwrapEdPoint(value: Buffer): Buffer {
  // CKA_EC_POINT is a DER OCTET STRING holding the 32-byte key (some modules return it raw).
  if (value.length === 32) return value;
  if (value.length === 34 && value[0] === 0x04 && value[1] === 32) return value.subarray(2);
  throw new Failure('unexpected Ed25519 CKA_EC_POINT encoding');
}

function unwrapEcPoint(value: Buffer): Buffer {
  // CKA_EC_POINT is a DER OCTET STRING holding 04||X||Y (some modules return the raw point).
  if (value.length === 65 && value[0] === 0x04) return value;
  if (value[0] === 0x04 && value[1] === 65 && value.length === 67) return value.subarray(2);
  throw new Failure('unexpected CKA_EC_POINT encoding');
}

function bool(v: Buffer | undefined): boolean {
  return v !== undefined && v.length > 0 && v[0] !== 0;
}

export function keyInfo(s: Session, label: string): KeyInfo {
  const p = requireLib();
  let handles: KeyHandles;
  try {
    handles = keyHandles(s, label);
  } catch (error) {
    if (error instanceof Failure && error.notFound === 'key') return { present: false };
    throw error;
  }
  const attrs = p.C_GetAttributeValue(s.handle, handles.priv, [
    { type: pk.CKA_KEY_TYPE },
    { type: pk.CKA_SENSITIVE },
    { type: pk.CKA_EXTRACTABLE },
    { type: pk.CKA_PRIVATE },
    { type: pk.CKA_ALWAYS_SENSITIVE },
    { type: pk.CKA_NEVER_EXTRACTABLE },
  ]);
  const keyType = attrs[0]!.value.readUIntLE(0, Math.min(attrs[0]!.value.length, 6));
  const info: KeyInfo = {
    present: true,
    sensitive: bool(attrs[1]?.value),
    extractable: bool(attrs[2]?.value),
    private: bool(attrs[3]?.value),
    alwaysSensitive: bool(attrs[4]?.value),
    neverExtractable: bool(attrs[5]?.value),
  };
  if (keyType === pk.CKK_EC) {
    info.kind = 'ec-p256';
    if (handles.pub) {
      const [params, point] = p.C_GetAttributeValue(s.handle, handles.pub, [
        { type: pk.CKA_EC_PARAMS },
        { type: pk.CKA_EC_POINT },
      ]);
      if (!params!.value.equals(P256_OID)) throw new Failure(`key ${label} is not on P-256`);
      info.publicPoint = unwrapEcPoint(point!.value);
    }
  } else if (keyType === CKK_EC_EDWARDS) {
    info.kind = 'ed25519';
    if (handles.pub) {
      const [params, point] = p.C_GetAttributeValue(s.handle, handles.pub, [
        { type: pk.CKA_EC_PARAMS },
        { type: pk.CKA_EC_POINT },
      ]);
      if (!params!.value.equals(ED25519_OID)) throw new Failure(`key ${label} is not an Ed25519 key`);
      info.publicPoint = unwrapEdPoint(point!.value);
    }
  } else if (keyType === pk.CKK_RSA) {
    info.kind = 'rsa-2048';
    const [mod, exp] = p.C_GetAttributeValue(s.handle, handles.pub ?? handles.priv, [
      { type: pk.CKA_MODULUS },
      { type: pk.CKA_PUBLIC_EXPONENT },
    ]);
    info.publicPoint = mod!.value;
    info.publicExponent = exp!.value;
  } else {
    throw new Failure(`key ${label} has an unsupported key type ${keyType}`);
  }
  return info;
}

export function generateKey(s: Session, label: string, kind: KeyKind): KeyInfo {
  const p = requireLib();
  if (keyInfo(s, label).present) throw new Failure(`a key labelled ${label} already exists`);
  const id = Buffer.from(label, 'utf8');
  const common = [
    { type: pk.CKA_TOKEN, value: true },
    { type: pk.CKA_LABEL, value: label },
    { type: pk.CKA_ID, value: id },
  ];
  const pub =
    kind === 'ec-p256' || kind === 'ed25519'
      ? [
          ...common,
          { type: pk.CKA_EC_PARAMS, value: kind === 'ec-p256' ? P256_OID : ED25519_OID },
          { type: pk.CKA_VERIFY, value: true },
        ]
      : [
          ...common,
          { type: pk.CKA_MODULUS_BITS, value: 2048 },
          { type: pk.CKA_PUBLIC_EXPONENT, value: Buffer.from([1, 0, 1]) },
          { type: pk.CKA_VERIFY, value: true },
        ];
  // Born in the token, never to leave it: sensitive, not extractable, private, sign only.
  const priv = [
    ...common,
    { type: pk.CKA_PRIVATE, value: true },
    { type: pk.CKA_SENSITIVE, value: true },
    { type: pk.CKA_EXTRACTABLE, value: false },
    { type: pk.CKA_SIGN, value: true },
    { type: pk.CKA_DECRYPT, value: false },
    { type: pk.CKA_UNWRAP, value: false },
    { type: pk.CKA_DERIVE, value: false },
  ];
  const mechanism = {
    mechanism:
      kind === 'ec-p256'
        ? pk.CKM_EC_KEY_PAIR_GEN
        : kind === 'ed25519'
          ? CKM_EC_EDWARDS_KEY_PAIR_GEN
          : pk.CKM_RSA_PKCS_KEY_PAIR_GEN,
  };
  p.C_GenerateKeyPair(s.handle, mechanism, pub, priv);
  s.keys.delete(label);
  return keyInfo(s, label);
}

const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/** Signs a SHA-256 digest: ECDSA keys answer r||s, RSA keys PKCS#1 v1.5 over the DigestInfo. */
export function signDigest(s: Session, label: string, digest: Uint8Array): Buffer {
  const p = requireLib();
  if (digest.length !== 32) throw new Failure('a SHA-256 digest is 32 bytes');
  const handles = keyHandles(s, label);
  if (handles.ec === undefined) {
    const [type] = p.C_GetAttributeValue(s.handle, handles.priv, [{ type: pk.CKA_KEY_TYPE }]);
    const keyType = type!.value.readUIntLE(0, Math.min(type!.value.length, 6));
    if (keyType === CKK_EC_EDWARDS)
      throw new Failure(`key ${label} is Ed25519: it signs messages, not digests`);
    handles.ec = keyType === pk.CKK_EC;
  }
  // SoftHSM2 2.6 refuses CKM_ECDSA_SHA256: the caller hashes, the token signs the digest (CKM_ECDSA).
  // For RSA the token pads the DigestInfo (CKM_RSA_PKCS).
  const data = handles.ec ? Buffer.from(digest) : Buffer.concat([SHA256_DIGEST_INFO, digest]);
  p.C_SignInit(s.handle, { mechanism: handles.ec ? pk.CKM_ECDSA : pk.CKM_RSA_PKCS }, handles.priv);
  return Buffer.from(p.C_Sign(s.handle, data, Buffer.alloc(handles.ec ? 132 : 512)));
}

/**
 * Ed25519 (CKM_EDDSA, pure) over the whole message: 64 bytes. The hub's feed signer calls this on its
 * own thread (hsm/feed-signer.ts); the key must be an Ed25519 key.
 */
export function signEddsa(s: Session, label: string, message: Uint8Array): Buffer {
  const p = requireLib();
  const handles = keyHandles(s, label);
  p.C_SignInit(s.handle, { mechanism: CKM_EDDSA }, handles.priv);
  const sig = Buffer.from(p.C_Sign(s.handle, Buffer.from(message), Buffer.alloc(64)));
  if (sig.length !== 64) throw new Failure(`key ${label} did not answer an Ed25519 signature`);
  return sig;
}

/** Tries every way PKCS#11 offers to get a private key out; answers what the token said. */
export function auditExtraction(s: Session, label: string): ExtractionAttempt[] {
  const p = requireLib();
  const { priv } = keyHandles(s, label);
  const attempts: ExtractionAttempt[] = [];
  const tryIt = (attempt: string, fn: () => Buffer | void): void => {
    try {
      const out = fn();
      const leaked = out instanceof Buffer ? out.length > 0 : true;
      attempts.push({ attempt, outcome: leaked ? 'LEAKED' : 'empty', leaked });
    } catch (error) {
      attempts.push({
        attempt,
        outcome: `refused: ${ckrOf(error) ?? (error as Error).message}`,
        leaked: false,
      });
    }
  };
  for (const [name, type] of [
    ['CKA_VALUE', pk.CKA_VALUE],
    ['CKA_PRIVATE_EXPONENT', pk.CKA_PRIVATE_EXPONENT],
    ['CKA_PRIME_1', pk.CKA_PRIME_1],
  ] as const) {
    tryIt(`read ${name}`, () => {
      const [attr] = p.C_GetAttributeValue(s.handle, priv, [{ type }]);
      return attr!.value;
    });
  }
  // Wrap under a session AES key that the caller would know.
  tryIt('wrap with a session AES key', () => {
    const wrapping = p.C_GenerateKey(s.handle, { mechanism: pk.CKM_AES_KEY_GEN }, [
      { type: pk.CKA_TOKEN, value: false },
      { type: pk.CKA_VALUE_LEN, value: 32 },
      { type: pk.CKA_WRAP, value: true },
      { type: pk.CKA_EXTRACTABLE, value: true },
    ]);
    try {
      return p.C_WrapKey(
        s.handle,
        { mechanism: pk.CKM_AES_KEY_WRAP_PAD },
        wrapping,
        priv,
        Buffer.alloc(4096),
      );
    } finally {
      p.C_DestroyObject(s.handle, wrapping);
    }
  });
  tryIt('set CKA_EXTRACTABLE to true', () => {
    p.C_SetAttributeValue(s.handle, priv, [{ type: pk.CKA_EXTRACTABLE, value: true }]);
  });
  tryIt('set CKA_SENSITIVE to false', () => {
    p.C_SetAttributeValue(s.handle, priv, [{ type: pk.CKA_SENSITIVE, value: false }]);
  });
  tryIt('copy as an extractable, non-sensitive object', () => {
    const copy = p.C_CopyObject(s.handle, priv, [
      { type: pk.CKA_TOKEN, value: false },
      { type: pk.CKA_EXTRACTABLE, value: true },
      { type: pk.CKA_SENSITIVE, value: false },
    ]);
    p.C_DestroyObject(s.handle, copy);
  });
  return attempts;
}
