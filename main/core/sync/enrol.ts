// The terminal's half of enrolment (protocol/enrolment.ts): sign the proof of possession with the HSM
// key, send it with the public key and the code to POST /v1/enrol, and keep what the hub answers (the
// terminal's id and binding, the hub's root of trust) in the data folder, where the configuration
// loader picks it up (config/enrolment.ts). The private key never leaves the HSM.
import { createHash } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { KioskError } from '../../../base/errors.js';
import {
  EnrolAnswer,
  enrolProofMessage,
  parseEnrolmentInput,
  terminalIdForKey,
} from '../../../protocol/enrolment.js';
import { authorityOf } from '../../../protocol/http-signature.js';
import { errorFrom, readAll } from './transport.js';
import type { DigestSigner } from './index.js';
import { isLoopbackHost, type KioskConfig } from '../../../config/load.js';
import { saveEnrolment, type EnrolmentRecord } from '../../../config/enrolment.js';

/** Signs messages with a key in the HSM: the digest is made here, the signature in the token. */
export function hsmMessageSigner(hsm: DigestSigner, label: string): (m: Uint8Array) => Promise<Uint8Array> {
  return (m) => hsm.signDigest(label, createHash('sha256').update(m).digest());
}

export interface EnrolOptions {
  hubUrl: string;
  /** The code as typed or scanned (a bare code or a `jpki-enrol:` QR payload). */
  code: string;
  /** SPKI PEM of the terminal's key. */
  publicKeyPem: string;
  /** Signs with its private half (raw r‖s over SHA-256): the HSM (hsmMessageSigner) on a terminal. */
  sign(message: Uint8Array): Promise<Uint8Array>;
  /** A terminal id to ask for; default the one derived from the key. */
  terminalId?: string | null;
  version?: string;
  /** CA for an https hub with a private CA (sync.caFile). */
  ca?: Buffer;
  timeoutMs?: number;
  /**
   * Plain http: to a hub that is not on this machine (the demo profile only). Otherwise refused before
   * anything is signed or sent: the hub's answer carries the root of trust the terminal keeps, and anyone
   * on the path of a plain exchange could hand it their own.
   */
  plainHttpAllowed?: boolean;
}

/** Enrols at the hub; typed refusals (ENROL_*, HUB_TERMINAL_EXISTS, SYNC_UNREACHABLE) come back as KioskError. */
export async function enrolAtHub(o: EnrolOptions): Promise<EnrolAnswer> {
  const input = parseEnrolmentInput(o.code);
  if (!input) throw new KioskError('ENROL_CODE_UNKNOWN', 'this is not an enrolment code (12 characters)');
  let base: URL;
  try {
    base = new URL(input.hubUrl ?? o.hubUrl);
  } catch {
    throw new KioskError('INVALID_REQUEST', `hub URL is not a URL: ${o.hubUrl}`);
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:')
    throw new KioskError('INVALID_REQUEST', 'the hub URL must be http: or https:');
  if (base.protocol === 'http:' && !isLoopbackHost(base.hostname) && !o.plainHttpAllowed)
    throw new KioskError(
      'INVALID_REQUEST',
      `the hub URL must be https: (plain http: only to a loopback address): ${base.origin}`,
    );
  const terminalId = o.terminalId ?? terminalIdForKey(o.publicKeyPem);
  const authority = authorityOf(base);
  const message = enrolProofMessage({
    code: input.code,
    publicKeyPem: o.publicKeyPem,
    authority,
    terminalId,
  });
  const proof = Buffer.from(await o.sign(message));
  const body = Buffer.from(
    JSON.stringify({
      v: 1,
      code: input.code,
      publicKey: o.publicKeyPem,
      terminalId,
      authority,
      proof: proof.toString('base64'),
      ...(o.version ? { version: o.version } : {}),
    }),
  );
  const path = base.pathname.replace(/\/$/, '') + '/v1/enrol';
  const lib = base.protocol === 'https:' ? https : http;
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    const req = lib.request(
      {
        protocol: base.protocol,
        hostname: base.hostname,
        port: base.port || undefined,
        method: 'POST',
        path,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
        ...(o.ca ? { ca: o.ca } : {}),
      },
      resolve,
    );
    req.setTimeout(o.timeoutMs ?? 15_000, () =>
      req.destroy(new KioskError('SYNC_UNREACHABLE', 'hub did not answer')),
    );
    req.on('error', (error) =>
      reject(
        error instanceof KioskError
          ? error
          : new KioskError('SYNC_UNREACHABLE', `hub unreachable: ${error.message}`),
      ),
    );
    req.end(body);
  });
  const status = res.statusCode ?? 0;
  if (status !== 200) {
    throw await errorFrom({ status, body: res, headers: res.headers, nonce: '', abort: () => res.destroy() });
  }
  const parsed = EnrolAnswer.safeParse(JSON.parse((await readAll(res, 256 * 1024)).toString('utf8')));
  if (!parsed.success) throw new KioskError('SYNC_PROTOCOL', 'the hub’s enrolment answer is malformed');
  if (parsed.data.terminalId !== terminalId)
    throw new KioskError('SYNC_PROTOCOL', 'the hub enrolled another terminal id than the one asked for');
  return parsed.data;
}

/** The terminal key in the HSM (or a test's software key) that enrols. */
export interface EnrolKey {
  publicKeyPem: string;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/**
 * Enrols at the hub and keeps its answer in the data folder: the one path of `jpki-kiosk enrol` and the
 * staff screen's "enrol". Nothing is written unless the hub accepted the code.
 */
export async function enrolTerminal(o: {
  config: KioskConfig;
  hubUrl: string;
  code: string;
  key: EnrolKey;
  terminalId?: string | null;
  ca?: Buffer;
  timeoutMs?: number;
}): Promise<EnrolmentRecord> {
  const answer = await enrolAtHub({
    hubUrl: o.hubUrl,
    code: o.code,
    publicKeyPem: o.key.publicKeyPem,
    sign: o.key.sign,
    terminalId: o.terminalId ?? null,
    plainHttpAllowed: o.config.source.profile === 'demo',
    ...(o.ca ? { ca: o.ca } : {}),
    ...(o.timeoutMs ? { timeoutMs: o.timeoutMs } : {}),
  });
  const record: EnrolmentRecord = {
    hubUrl: o.hubUrl,
    hubId: answer.hubId,
    terminalId: answer.terminalId,
    siteId: answer.siteId,
    gateId: answer.gateId,
    zone: answer.zone,
    kind: answer.siteKind as EnrolmentRecord['kind'],
    enrolledAt: new Date().toISOString(),
  };
  saveEnrolment(o.config.data.dir, record, answer.root ? Buffer.from(answer.root, 'base64') : null);
  return record;
}
