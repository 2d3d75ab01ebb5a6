// HTTP Message Signatures (RFC 9421), the subset this protocol uses: the terminal signs
// ("@method" "@authority" "@path" "@query" "content-digest") with created, nonce, keyid (its terminal id)
// and alg="ecdsa-p256-sha256"; Content-Digest (RFC 9530) binds the body. "@authority" is the hub the
// terminal meant (its configured URL), so a request captured on the way to one hub cannot be replayed to
// another that knows the same terminal; the hub checks it against its own configured name, never the
// Host header. The terminal's key lives in the
// HSM behind RequestSigner; the hub verifies with the public key registered for that terminal id.
import { createHash, randomBytes, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';

export const SIGNATURE_LABEL = 'sig1';
export const SIGNATURE_ALG = 'ecdsa-p256-sha256';

/** Signs bytes with the terminal's ECDSA P-256 key (SHA-256), returning raw r||s (64 bytes). */
export interface RequestSigner {
  /** The terminal id the hub registered this key under; sent as `keyid`. */
  readonly keyId: string;
  sign(data: Uint8Array): Promise<Uint8Array>;
}

/** A signer over a key held in this process: for the hub's simulated terminals and unit tests only. */
export function softwareSigner(keyId: string, privateKey: KeyObject): RequestSigner {
  return {
    keyId,
    sign: async (data) => nodeSign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' }),
  };
}

/** Lower case, no trailing dot, and no port when it is the scheme's default (RFC 9421 §2.2.3). */
export function normalizeAuthority(authority: string, scheme: 'http' | 'https' | null = null): string {
  let a = authority
    .trim()
    .toLowerCase()
    .replace(/\.(?=:\d+$|$)/, '');
  if (scheme === 'http') a = a.replace(/:80$/, '');
  if (scheme === 'https') a = a.replace(/:443$/, '');
  return a;
}

/** The authority a terminal signs for its hub URL. */
export function authorityOf(url: URL): string {
  return normalizeAuthority(url.host, url.protocol === 'https:' ? 'https' : 'http');
}

const COMPONENTS_NO_BODY = ['@method', '@authority', '@path', '@query'];
const COMPONENTS_BODY = [...COMPONENTS_NO_BODY, 'content-digest'];

export function contentDigest(body: Uint8Array): string {
  return `sha-256=:${createHash('sha256').update(body).digest('base64')}:`;
}

export interface SignableRequest {
  method: string;
  /**
   * RFC 9421 §2.2.3: host and port as in the target URI, lower case, the scheme's default port left
   * out (what `new URL(u).host` gives). The terminal signs its configured hub URL's; the hub verifies
   * with its configured name.
   */
  authority: string;
  /** Path and query as sent, e.g. `/v1/feeds/whitelist?after=3`. */
  target: string;
  body?: Uint8Array | null;
}

function splitTarget(target: string): { path: string; query: string } {
  const i = target.indexOf('?');
  return i < 0 ? { path: target, query: '?' } : { path: target.slice(0, i), query: target.slice(i) };
}

function quote(value: string): string {
  if (!/^[\x20-\x7e]*$/.test(value) || value.includes('"') || value.includes('\\'))
    throw new Error('signature parameter has characters outside the allowed set');
  return `"${value}"`;
}

interface SignatureParams {
  components: string[];
  created: number;
  nonce: string;
  keyid: string;
  alg: string;
}

function serializeParams(p: SignatureParams): string {
  const list = `(${p.components.map((c) => `"${c}"`).join(' ')})`;
  return `${list};created=${p.created};nonce=${quote(p.nonce)};keyid=${quote(p.keyid)};alg=${quote(p.alg)}`;
}

function signatureBase(req: SignableRequest, digest: string | null, p: SignatureParams): Buffer {
  const { path, query } = splitTarget(req.target);
  const lines = p.components.map((c) => {
    switch (c) {
      case '@method':
        return `"@method": ${req.method.toUpperCase()}`;
      case '@authority':
        return `"@authority": ${normalizeAuthority(req.authority)}`;
      case '@path':
        return `"@path": ${path}`;
      case '@query':
        return `"@query": ${query}`;
      case 'content-digest':
        return `"content-digest": ${digest ?? ''}`;
      default:
        throw new Error(`unsupported component ${c}`);
    }
  });
  lines.push(`"@signature-params": ${serializeParams(p)}`);
  return Buffer.from(lines.join('\n'), 'utf8');
}

/** Headers to add to a request: Signature-Input, Signature and, with a body, Content-Digest. */
export async function signRequest(
  signer: RequestSigner,
  req: SignableRequest,
  now: number = Date.now(),
): Promise<Record<string, string>> {
  const hasBody = req.body != null;
  const digest = hasBody ? contentDigest(req.body!) : null;
  const params: SignatureParams = {
    components: hasBody ? COMPONENTS_BODY : COMPONENTS_NO_BODY,
    created: Math.floor(now / 1000),
    nonce: randomBytes(16).toString('base64url'),
    keyid: signer.keyId,
    alg: SIGNATURE_ALG,
  };
  const sig = await signer.sign(signatureBase(req, digest, params));
  const headers: Record<string, string> = {
    'signature-input': `${SIGNATURE_LABEL}=${serializeParams(params)}`,
    signature: `${SIGNATURE_LABEL}=:${Buffer.from(sig).toString('base64')}:`,
  };
  if (digest) headers['content-digest'] = digest;
  return headers;
}

export interface ParsedSignature {
  keyid: string;
  created: number;
  nonce: string;
  /** True when the signature verifies with the key over the request as the hub received it. */
  verify(publicKey: KeyObject): boolean;
}

export type SignatureFault = 'missing' | 'malformed' | 'digest';

/**
 * Parses and checks the structure of a signed request. Returns the key id so the caller can find the
 * registered key, and a verify function; or the reason it cannot be a valid request.
 */
export function parseSignedRequest(
  req: SignableRequest,
  headers: Record<string, string | string[] | undefined>,
): ParsedSignature | SignatureFault {
  const input = headers['signature-input'];
  const signature = headers['signature'];
  if (typeof input !== 'string' || typeof signature !== 'string') return 'missing';
  const m =
    /^sig1=\(([^)]*)\);created=(\d{1,12});nonce="([A-Za-z0-9_-]{8,64})";keyid="([\x20-\x21\x23-\x5b\x5d-\x7e]{1,128})";alg="([a-z0-9-]+)"$/.exec(
      input,
    );
  const s = /^sig1=:([A-Za-z0-9+/=]{1,200}):$/.exec(signature);
  if (!m || !s) return 'malformed';
  const components = m[1]!.split(' ').map((c) => c.replace(/^"|"$/g, ''));
  const hasBody = req.body != null && req.body.length > 0;
  const expected = hasBody ? COMPONENTS_BODY : COMPONENTS_NO_BODY;
  if (components.join(' ') !== expected.join(' ') || m[5] !== SIGNATURE_ALG) return 'malformed';
  let digest: string | null = null;
  if (hasBody) {
    digest = contentDigest(req.body!);
    if (headers['content-digest'] !== digest) return 'digest';
  }
  const params: SignatureParams = {
    components,
    created: Number(m[2]),
    nonce: m[3]!,
    keyid: m[4]!,
    alg: m[5]!,
  };
  const sigBytes = Buffer.from(s[1]!, 'base64');
  const base = signatureBase(req, digest, params);
  return {
    keyid: params.keyid,
    created: params.created,
    nonce: params.nonce,
    verify: (publicKey) =>
      sigBytes.length === 64 &&
      nodeVerify('sha256', base, { key: publicKey, dsaEncoding: 'ieee-p1363' }, sigBytes),
  };
}
