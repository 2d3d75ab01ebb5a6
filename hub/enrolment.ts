// Enrolment at the hub: the operator issues a one-time code bound to a site, gate, zone and kind with an
// expiry; a terminal presents it with its HSM public key and a proof of possession (protocol/enrolment.ts)
// and is registered once. Only the code's SHA-256 is stored. Refusals are typed (ENROL_*), each with a
// message saying what to do next.
import { createHash, createPublicKey, randomInt } from 'node:crypto';
import { KioskError } from '../base/errors.js';
import { SiteKinds } from '../base/site-kinds.js';
import {
  ENROL_CODE_ALPHABET,
  ENROL_CODE_LENGTH,
  EnrolRequest,
  enrolProofMessage,
  normalizeEnrolmentCode,
  terminalIdForKey,
  verifyEnrolProof,
  type EnrolAnswer,
} from '../protocol/enrolment.js';
import { normalizeAuthority } from '../protocol/http-signature.js';
import type { HubStore, TerminalRecord } from './store.js';

export interface EnrolmentBinding {
  siteId: string;
  gateId: string;
  zone: string;
  siteKind: string;
}

export const codeDigest = (code: string): string => createHash('sha256').update(code).digest('hex');

/** A new code (normalized, 12 characters); the store keeps its digest with the binding and expiry. */
export function issueEnrolmentCode(
  store: HubStore,
  binding: EnrolmentBinding,
  ttlSeconds: number,
  now: number,
): { code: string; expiresAt: number } {
  if (!(SiteKinds as readonly string[]).includes(binding.siteKind))
    throw new KioskError('INVALID_REQUEST', `--kind must be one of ${SiteKinds.join(', ')}`);
  if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > 30 * 86_400)
    throw new KioskError('INVALID_REQUEST', '--ttl must be between 1 second and 30 days');
  for (const [k, v] of Object.entries({ site: binding.siteId, gate: binding.gateId, zone: binding.zone }))
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(v))
      throw new KioskError('INVALID_REQUEST', `--${k} must be 1–64 letters, digits, '.', '_' or '-'`);
  let code = '';
  for (let i = 0; i < ENROL_CODE_LENGTH; i++)
    code += ENROL_CODE_ALPHABET[randomInt(ENROL_CODE_ALPHABET.length)];
  const expiresAt = now + ttlSeconds * 1000;
  store.createEnrolmentCode({ codeSha256: codeDigest(code), ...binding, createdAt: now, expiresAt });
  return { code, expiresAt };
}

/** An ECDSA P-256 SPKI PEM in one canonical form (so the same key always compares equal), or a typed refusal. */
export function canonicalTerminalKey(pem: string): string {
  let key;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new KioskError('INVALID_REQUEST', 'the terminal key is not a PEM public key');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new KioskError('INVALID_REQUEST', 'the terminal key must be an ECDSA P-256 public key');
  return key.export({ type: 'spki', format: 'pem' }) as string;
}

/**
 * Checks an enrolment request and registers the terminal: the body must parse, the proof must verify
 * with the offered key over the code, the key and one of this hub's authorities; the store then spends
 * the code in the same transaction that registers the key.
 */
export function enrol(
  store: HubStore,
  body: unknown,
  o: { hubId: string; authorities: readonly string[]; root: Buffer | null; now: number },
): { answer: EnrolAnswer; terminal: TerminalRecord } {
  const parsed = EnrolRequest.safeParse(body);
  if (!parsed.success)
    throw new KioskError('INVALID_REQUEST', `enrol body: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
  const req = parsed.data;
  const code = normalizeEnrolmentCode(req.code);
  if (!code) throw new KioskError('ENROL_CODE_UNKNOWN', 'this is not an enrolment code (12 characters)');
  const publicKeyPem = canonicalTerminalKey(req.publicKey);
  const terminalId = req.terminalId ?? terminalIdForKey(publicKeyPem);
  const authority = normalizeAuthority(req.authority);
  if (!o.authorities.includes(authority))
    throw new KioskError(
      'ENROL_PROOF_INVALID',
      `the enrolment was meant for ${authority}, not this hub (${o.authorities.join(', ')})`,
    );
  const message = enrolProofMessage({ code, publicKeyPem, authority, terminalId });
  if (!verifyEnrolProof(message, publicKeyPem, Buffer.from(req.proof, 'base64')))
    throw new KioskError(
      'ENROL_PROOF_INVALID',
      'the proof of possession does not verify with the offered key',
    );
  const terminal = store.enrolTerminal(codeDigest(code), { terminalId, publicKeyPem }, o.now);
  return {
    terminal,
    answer: {
      v: 1,
      hubId: o.hubId,
      terminalId: terminal.terminalId,
      siteId: terminal.siteId,
      gateId: terminal.gateId,
      zone: terminal.zone,
      siteKind: terminal.siteKind,
      root: o.root ? o.root.toString('base64') : null,
    },
  };
}
