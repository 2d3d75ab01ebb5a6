// The root of trust: a small signed document that names the publisher keys terminals accept, and the
// root keys that may sign its successor. Terminals pin one root (config sync.rootPath), persist the
// newest one they verified, and build their PublisherTrust from it; the hub rotates its publisher key
// by publishing root version N+1 signed by the root keys of version N (TUF's root rotation, § 5.3 of
// its specification). A blob (batch, manifest, checkpoint, …) signed by a key the trusted root does not
// list is refused with DELTA_WRONG_PUBLISHER by feed-format.ts's openBlob, whatever it carries.
//
// Signed root = one header line of JSON `{"signatures":[{"kid":…,"sig":…},…]}` + "\n" + the payload JSON
// bytes; each `sig` is Ed25519 over DOMAIN ‖ payload bytes by the root key `kid` (publisherKeyId() of
// its SPKI). Rules (verifyRoot):
//  - every key's keyId is the hash of its public key, every key is Ed25519, and keyIds are distinct;
//  - a root is valid on its own when `threshold` distinct root keys it lists signed it;
//  - a successor must have version = trusted version + 1 and be signed by `threshold` of the trusted
//    root's root keys AND by `threshold` of its own (so a new root key proves it exists);
//  - a lower or equal version is never taken, so an old root cannot be replayed;
//  - an expired root still chains (a terminal that was off for a year can catch up), but a trusted root
//    past `expires` publishes nothing: trustFromRoot throws ROOT_EXPIRED, and the data ages into the
//    site's stale policy instead of trusting keys nobody vouches for any more.
import { createPublicKey, verify as edVerify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { KioskError } from '../base/errors.js';
import { Feeds, publisherKeyId, type FeedName, type FeedSigner, type PublisherTrust } from './feed-format.js';

export const ROOT_FORMAT = 'jpki-kiosk/root/v1';
const ROOT_DOMAIN = Buffer.from('jpki-kiosk/root/v1\n', 'utf8');
/** Largest signed root either side accepts. */
export const MAX_ROOT_BYTES = 64 * 1024;
/** Most successors a hub sends in one answer; the terminal asks again from the last one. */
export const MAX_ROOTS_PER_ANSWER = 32;

const KeyIdHex = z.string().regex(/^[0-9a-f]{32}$/);
const SpkiBase64 = z
  .string()
  .regex(/^[A-Za-z0-9+/]*={0,2}$/)
  .max(1024);

export const RootKeyEntry = z.object({ keyId: KeyIdHex, publicKey: SpkiBase64 }).strict();
export type RootKeyEntry = z.output<typeof RootKeyEntry>;

export const RootPayload = z
  .object({
    format: z.literal(ROOT_FORMAT),
    version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
    expires: z.iso.datetime({ offset: true }),
    threshold: z.number().int().min(1).max(16),
    rootKeys: z.array(RootKeyEntry).min(1).max(16),
    publishers: z
      .array(RootKeyEntry.extend({ feeds: z.array(z.enum(Feeds)).min(1).max(Feeds.length) }).strict())
      .min(1)
      .max(16),
  })
  .strict();
export type RootPayload = z.output<typeof RootPayload>;

export interface TrustedKey {
  keyId: string;
  publicKey: KeyObject;
}

/** A verified root, as a terminal or the hub holds it. */
export interface RootOfTrust {
  version: number;
  /** ms since 1970 */
  expires: number;
  threshold: number;
  rootKeys: readonly TrustedKey[];
  publishers: ReadonlyArray<TrustedKey & { feeds: readonly FeedName[] }>;
  /** The signed bytes, exactly as verified (persisted and served as is). */
  bytes: Buffer;
}

const invalid = (message: string, detail?: Record<string, unknown>) =>
  new KioskError('ROOT_INVALID', message, detail);

/** A public key as a root lists it: keyId and base64 SPKI DER. */
export function rootKeyEntry(publicKey: KeyObject): RootKeyEntry {
  if (publicKey.asymmetricKeyType !== 'ed25519')
    throw new KioskError('CONFIG_INVALID', 'root and publisher keys must be Ed25519');
  return {
    keyId: publisherKeyId(publicKey),
    publicKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
  };
}

/** Signs a root payload with each signer (root keys of this and, for a successor, the previous root). */
export function signRoot(root: RootPayload, signers: readonly FeedSigner[]): Buffer {
  const payload = Buffer.from(JSON.stringify(RootPayload.parse(root)), 'utf8');
  const seen = new Set<string>();
  const signatures: Array<{ kid: string; sig: string }> = [];
  for (const s of signers) {
    if (seen.has(s.keyId)) continue;
    seen.add(s.keyId);
    signatures.push({ kid: s.keyId, sig: s.sign(Buffer.concat([ROOT_DOMAIN, payload])).toString('base64') });
  }
  return Buffer.concat([Buffer.from(JSON.stringify({ signatures }) + '\n', 'utf8'), payload]);
}

function trustedKey(entry: RootKeyEntry, what: string): TrustedKey {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(entry.publicKey, 'base64'), format: 'der', type: 'spki' });
  } catch {
    throw invalid(`root: ${what} ${entry.keyId} is not a public key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw invalid(`root: ${what} ${entry.keyId} is not Ed25519`);
  if (publisherKeyId(key) !== entry.keyId)
    throw invalid(`root: ${what} ${entry.keyId} does not match its public key`);
  return { keyId: entry.keyId, publicKey: key };
}

interface Parsed {
  root: RootOfTrust;
  payload: Buffer;
  signatures: Map<string, Buffer>;
}

function parse(bytes: Uint8Array): Parsed {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buf.length > MAX_ROOT_BYTES) throw invalid(`root: larger than ${MAX_ROOT_BYTES} bytes`);
  const nl = buf.indexOf(0x0a);
  if (nl <= 0 || nl > 8192) throw invalid('root: no header line');
  let header: { signatures?: unknown };
  try {
    header = JSON.parse(buf.subarray(0, nl).toString('utf8')) as typeof header;
  } catch {
    throw invalid('root: header is not JSON');
  }
  const sigs = z
    .array(z.object({ kid: KeyIdHex, sig: z.string().max(128) }).strict())
    .max(32)
    .safeParse(header.signatures);
  if (!sigs.success) throw invalid('root: header lacks a signature list');
  const signatures = new Map<string, Buffer>();
  for (const s of sigs.data) signatures.set(s.kid, Buffer.from(s.sig, 'base64'));
  const payload = buf.subarray(nl + 1);
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    throw invalid('root: payload is not JSON');
  }
  const r = RootPayload.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw invalid(`root: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  const p = r.data;
  const rootKeys = p.rootKeys.map((k) => trustedKey(k, 'root key'));
  const publishers = p.publishers.map((k) => ({ ...trustedKey(k, 'publisher key'), feeds: k.feeds }));
  for (const list of [rootKeys, publishers])
    if (new Set(list.map((k) => k.keyId)).size !== list.length) throw invalid('root: a key is listed twice');
  if (p.threshold > rootKeys.length)
    throw invalid(`root: threshold ${p.threshold} exceeds its ${rootKeys.length} root keys`);
  return {
    root: {
      version: p.version,
      expires: Date.parse(p.expires),
      threshold: p.threshold,
      rootKeys,
      publishers,
      bytes: Buffer.from(buf),
    },
    payload,
    signatures,
  };
}

/** How many of `keys` made a valid signature over the payload. */
function validSignatures(parsed: Parsed, keys: readonly TrustedKey[]): number {
  const message = Buffer.concat([ROOT_DOMAIN, parsed.payload]);
  let n = 0;
  for (const key of keys) {
    const sig = parsed.signatures.get(key.keyId);
    if (!sig || sig.length !== 64) continue;
    try {
      if (edVerify(null, message, key.publicKey, sig)) n++;
    } catch {
      // not a signature: not counted
    }
  }
  return n;
}

/**
 * A root taken as the starting point (the one the operator pinned in the configuration): it must be
 * well formed and signed by a threshold of its own root keys. Trust comes from where the file came from.
 */
export function openPinnedRoot(bytes: Uint8Array): RootOfTrust {
  const parsed = parse(bytes);
  if (validSignatures(parsed, parsed.root.rootKeys) < parsed.root.threshold)
    throw invalid(`root v${parsed.root.version} is not signed by ${parsed.root.threshold} of its root keys`);
  return parsed.root;
}

/**
 * The successor of `trusted`: version exactly trusted + 1, signed by a threshold of the trusted root's
 * root keys and by a threshold of its own. ROOT_INVALID otherwise (a lower or equal version included).
 */
export function openSuccessorRoot(bytes: Uint8Array, trusted: RootOfTrust): RootOfTrust {
  const parsed = parse(bytes);
  const v = parsed.root.version;
  if (v <= trusted.version)
    throw invalid(`root v${v} is not newer than the trusted v${trusted.version}`, {
      version: v,
      trusted: trusted.version,
    });
  if (v !== trusted.version + 1)
    throw invalid(
      `root v${v} does not follow the trusted v${trusted.version}: v${trusted.version + 1} first`,
    );
  if (validSignatures(parsed, trusted.rootKeys) < trusted.threshold)
    throw invalid(
      `root v${v} is not signed by ${trusted.threshold} root key(s) of the trusted v${trusted.version}`,
    );
  if (validSignatures(parsed, parsed.root.rootKeys) < parsed.root.threshold)
    throw invalid(`root v${v} is not signed by ${parsed.root.threshold} of its own root keys`);
  return parsed.root;
}

/** Follows a chain of successors from `trusted`; the first bad link stops it (ROOT_INVALID). */
export function followRoots(trusted: RootOfTrust, successors: readonly Uint8Array[]): RootOfTrust {
  let current = trusted;
  for (const bytes of successors) current = openSuccessorRoot(bytes, current);
  return current;
}

/**
 * The publishers a verified root names, as openBatch / openManifest (and any other signed blob) take
 * them. ROOT_EXPIRED when the root is past its expiry: nothing is published under an expired root.
 */
export function trustFromRoot(root: RootOfTrust, now: number = Date.now()): PublisherTrust {
  if (now > root.expires)
    throw new KioskError(
      'ROOT_EXPIRED',
      `the trusted root v${root.version} expired ${new Date(root.expires).toISOString()}; the hub must publish its successor`,
      { version: root.version },
    );
  return { publishers: root.publishers.map((p) => ({ publicKey: p.publicKey, feeds: p.feeds })) };
}
