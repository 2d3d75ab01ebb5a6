// The hub's publisher and root keys in a PKCS#11 token, used on the hub's own thread: the hub signs
// peer-entry batches inside the SQLite transaction that accepts a journal, so signing must be
// synchronous (FeedSigner). It runs the same plain PKCS#11 calls as the terminal's worker thread
// (pkcs11-calls.ts, pkcs11-keys.ts) but on the calling thread: the hub is its own process and a
// SoftHSM2 Ed25519 signature takes tens of microseconds. The keys are generated in the token as
// sensitive and non-extractable; only public keys and signatures leave it. The PIN is read from its
// source when the session opens and is never logged or kept.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { KioskError, type ErrorCode } from '../base/errors.js';
import { publisherKeyId, type FeedSigner } from '../protocol/feed-format.js';
import * as calls from './pkcs11-calls.js';
import * as keys from './pkcs11-keys.js';
import type { RequestSigner } from '../protocol/http-signature.js';
import { spkiFromKeyInfo } from './client.js';
import { moduleLoaded } from './pkcs11-thread.js';
import type { ExtractionAttempt, KeyInfo, KeyKind, TokenSummary } from './pkcs11-protocol.js';

export interface InThreadTokenOptions {
  module: string;
  /** SoftHSM2 configuration: applies to the whole process, read at the first C_Initialize. */
  softhsmConf: string | null;
  tokenLabel: string;
  /** Read when a session opens; never stored or logged. */
  pin: () => string;
}

let loadedConf: string | null | undefined;

function typed(error: unknown, what: string): KioskError {
  if (error instanceof KioskError) return error;
  const f = calls.failure(error);
  let code: ErrorCode = 'HSM_FAILED';
  if (f.pinProblem) code = 'HSM_LOGIN_FAILED';
  else if (f.notFound === 'token') code = 'HSM_TOKEN_NOT_FOUND';
  else if (f.notFound === 'key') code = 'HSM_KEY_NOT_FOUND';
  else if (f.sessionLost) code = 'HSM_UNAVAILABLE';
  return new KioskError(code, `${what}: ${f.ckr ? `${f.ckr} ` : ''}${f.message}`.trim(), { ckr: f.ckr });
}

/** Loads and initialises the module on this thread, once per process and configuration. */
function loadHere(module: string, conf: string | null): void {
  if (loadedConf !== undefined) {
    if (conf !== null && loadedConf !== conf)
      throw new KioskError(
        'HSM_FAILED',
        `this process already uses the SoftHSM2 configuration ${loadedConf}; one per process`,
      );
    calls.initialize();
    return;
  }
  if (conf !== null) {
    if (!existsSync(conf))
      throw new KioskError('HSM_UNAVAILABLE', `SoftHSM2 configuration ${conf} does not exist`);
    // The terminal's worker thread in this same process (tests) may have initialised the module already.
    const current = process.env.SOFTHSM2_CONF;
    if (moduleLoaded() && current !== conf)
      throw new KioskError('HSM_FAILED', `this process already uses the SoftHSM2 configuration ${current}`);
    process.env.SOFTHSM2_CONF = conf;
  }
  if (!existsSync(module)) throw new KioskError('HSM_UNAVAILABLE', `PKCS#11 module ${module} does not exist`);
  try {
    calls.load(module);
  } catch (error) {
    throw typed(error, `loading ${module}`);
  }
  loadedConf = conf;
}

/** Tokens this thread sees (after loading the module with `conf`). */
export function tokensHere(module: string, conf: string | null): TokenSummary[] {
  loadHere(module, conf);
  return calls.tokens();
}

/** Initialises a free SoftHSM2 slot as token `label` with its SO and user PINs, on this thread. */
export function initTokenHere(
  module: string,
  conf: string | null,
  label: string,
  soPin: string,
  userPin: string,
): TokenSummary {
  loadHere(module, conf);
  try {
    return calls.initToken(label, soPin, userPin);
  } catch (error) {
    throw typed(error, `creating token ${label}`);
  }
}

function publicKeyOf(info: KeyInfo, label: string, kind: KeyKind): KeyObject {
  if (!info.present) throw new KioskError('HSM_KEY_NOT_FOUND', `no key labelled ${label} in the token`);
  if (info.kind !== kind || !info.publicPoint)
    throw new KioskError('HSM_FAILED', `key ${label} is not an ${kind} key with a public half`);
  return createPublicKey({ key: spkiFromKeyInfo(info), format: 'der', type: 'spki' });
}

/** One logged-in session on this thread; Ed25519 (feed) and EC P-256 (request) keys by label. */
export class InThreadToken {
  private sid: number | null = null;

  private constructor(private readonly o: InThreadTokenOptions) {}

  static open(o: InThreadTokenOptions): InThreadToken {
    loadHere(o.module, o.softhsmConf);
    const t = new InThreadToken(o);
    t.session();
    return t;
  }

  private session(): calls.Session {
    if (this.sid === null) {
      try {
        this.sid = calls.open(this.o.tokenLabel, null, this.o.pin()).sid;
      } catch (error) {
        throw typed(error, `opening token ${this.o.tokenLabel}`);
      }
    }
    return calls.session(this.sid);
  }

  /** Runs `fn` in the session; a session the token dropped is reopened once. */
  private run<T>(what: string, fn: (s: calls.Session) => T): T {
    try {
      return fn(this.session());
    } catch (error) {
      const f = calls.failure(error);
      if (!f.sessionLost) throw typed(error, what);
      if (this.sid !== null) calls.close(this.sid);
      this.sid = null;
      try {
        return fn(this.session());
      } catch (again) {
        throw typed(again, what);
      }
    }
  }

  keyInfo(label: string): KeyInfo {
    return this.run(`reading key ${label}`, (s) => keys.keyInfo(s, label));
  }

  has(label: string): boolean {
    return this.keyInfo(label).present;
  }

  /** A new Ed25519 key pair born in the token: sensitive, never extractable, sign only. */
  generateEd25519(label: string): KeyObject {
    return this.generate(label, 'ed25519');
  }

  /** A new EC P-256 key pair born in the token, for request signatures (RFC 9421): never extractable. */
  generateEcP256(label: string): KeyObject {
    return this.generate(label, 'ec-p256');
  }

  private generate(label: string, kind: KeyKind): KeyObject {
    return publicKeyOf(
      this.run(`generating key ${label}`, (s) => keys.generateKey(s, label, kind)),
      label,
      kind,
    );
  }

  publicKey(label: string, kind: KeyKind = 'ed25519'): KeyObject {
    return publicKeyOf(this.keyInfo(label), label, kind);
  }

  /**
   * The EC P-256 key `label` signing HTTP requests as `keyId` (RFC 9421, ecdsa-p256-sha256): the token
   * signs the SHA-256 digest (CKM_ECDSA) and answers raw r‖s.
   */
  requestSigner(keyId: string, label: string): RequestSigner {
    this.publicKey(label, 'ec-p256');
    return {
      keyId,
      sign: async (data) => {
        const raw = this.run(`signing with ${label}`, (s) =>
          keys.signDigest(s, label, createHash('sha256').update(data).digest()),
        );
        if (raw.length !== 64) throw new KioskError('HSM_FAILED', `key ${label} is not an EC P-256 key`);
        return raw;
      },
    };
  }

  /** The key `label` as a synchronous FeedSigner (CKM_EDDSA in the token). */
  signer(label: string): FeedSigner {
    const publicKey = this.publicKey(label);
    return {
      keyId: publisherKeyId(publicKey),
      publicKey,
      sign: (data) => this.run(`signing with ${label}`, (s) => keys.signEddsa(s, label, data)),
    };
  }

  /** Every PKCS#11 way to get the private key out, and what the token answered (tests, audits). */
  auditExtraction(label: string): ExtractionAttempt[] {
    return this.run(`auditing key ${label}`, (s) => keys.auditExtraction(s, label));
  }

  close(): void {
    if (this.sid !== null) calls.close(this.sid);
    this.sid = null;
  }
}
