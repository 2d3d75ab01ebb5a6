// Who may read the status page. It lists shelter rosters (pseudonymous, still personal data), so it is
// open only while nobody but this machine can reach it; anywhere else it needs the status token, given
// as a Bearer token by scripts or as the password of HTTP Basic auth by a browser's login prompt.
import { createHash, timingSafeEqual } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { KioskError } from '../base/errors.js';
import { readSecret } from '../config/secrets.js';

export const MIN_STATUS_TOKEN_LENGTH = 16;
export const STATUS_REALM = 'jpki-kiosk hub';
export const STATUS_CHALLENGE = `Basic realm="${STATUS_REALM}", charset="UTF-8"`;

const TOKEN_PURPOSE = 'hub status page token (--status-token-file)';

/** The token's digest: requests are compared digest to digest, so lengths never differ and never leak. */
export type StatusTokenDigest = Buffer & { readonly __statusTokenDigest: true };

const digestOf = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

export function statusTokenDigest(token: string): StatusTokenDigest {
  if (token.length < MIN_STATUS_TOKEN_LENGTH)
    throw new KioskError(
      'SECRET_INSECURE',
      `${TOKEN_PURPOSE}: the token has fewer than ${MIN_STATUS_TOKEN_LENGTH} characters; use a long random one (e.g. openssl rand -hex 32)`,
    );
  return digestOf(token) as StatusTokenDigest;
}

/** Reads the token from an owner-only file (the project's secret rules) and refuses a guessable one. */
export function readStatusToken(file: string): StatusTokenDigest {
  return statusTokenDigest(readSecret({ file }, TOKEN_PURPOSE).trim());
}

/** True for addresses only this machine can connect to. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost') return true;
  if (isIPv4(bare)) return bare.startsWith('127.');
  if (isIPv6(bare)) return bare === '::1' || /^::ffff:127\.\d+\.\d+\.\d+$/.test(bare);
  return false;
}

export type StatusAccess =
  { kind: 'open' } | { kind: 'refused-no-token' } | { kind: 'token-required'; token: StatusTokenDigest };

/**
 * `listenHost` is the address the hub is bound to, or null when it is on no TCP address (a Unix socket,
 * or fastify's in-process inject), which no other machine can reach either.
 */
export function statusAccessPolicy(listenHost: string | null, token: StatusTokenDigest | null): StatusAccess {
  if (token) return { kind: 'token-required', token };
  return { kind: listenHost === null || isLoopbackHost(listenHost) ? 'open' : 'refused-no-token' };
}

/** Whether an Authorization header carries the token, as `Bearer <token>` or Basic `<any user>:<token>`. */
export function presentsStatusToken(authorization: string | undefined, token: StatusTokenDigest): boolean {
  const match = /^(\S+)\s+(\S+)\s*$/.exec(authorization ?? '');
  if (!match) return false;
  const scheme = match[1]!.toLowerCase();
  let presented: string;
  if (scheme === 'bearer') presented = match[2]!;
  else if (scheme === 'basic') {
    const decoded = Buffer.from(match[2]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return false;
    presented = decoded.slice(colon + 1);
  } else return false;
  return timingSafeEqual(digestOf(presented), token);
}
