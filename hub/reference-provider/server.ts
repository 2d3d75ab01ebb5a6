// The reference service provider: plays a municipality's certificate service for the demo and the
// tests. For each POST it checks, in order and on its own (it trusts nothing the terminal says):
//   1. the RFC 9421 request signature, with the public key registered for the terminal (keyid), signed for
//      this provider's own authority, recent, nonce not seen before;
//   2. the body: the request fields name the same terminal, at a time near the provider's;
//   3. the idempotency key: a known request id gets the first answer again (never a second document);
//   4. the card certificate: chains to a configured trust anchor, is valid now, is not revoked;
//   5. the holder's proof: the card's signature over the request digest verifies with that certificate,
//      and a service that needs the PIN says the PIN was used;
//   6. the register: the certificate's key belongs to a person on it;
// then answers with an A4 PDF certificate (demo watermark, verification code) or a typed refusal.
import {
  createHash,
  createPublicKey,
  randomBytes,
  verify as nodeVerify,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getLogger } from '../../base/log.js';
import { normalizeAuthority, parseSignedRequest } from '../../protocol/http-signature.js';
import {
  DOCUMENT_ID_HEADER,
  IDEMPOTENCY_HEADER,
  SERVICE_HEALTH_PATH,
  SERVICE_REQUEST_PATH,
  ServiceRequestBody,
  serviceRequestMessage,
  type ServiceRefusal,
} from '../../protocol/service-request.js';
import { certificatePdf, DEFAULT_FONT, type CertificateContent } from './certificate-pdf.js';
import { Register, type RegisterPerson } from './register.js';

const log = getLogger('provider');
const MAX_BODY = 64 * 1024;

export interface ProviderService {
  title: string;
  /** Which register fields the document shows. */
  shows: Array<'name' | 'nameKana' | 'birthDate' | 'address' | 'householdHead' | 'domicile'>;
  pinRequired: boolean;
}

export const DEMO_PROVIDER_SERVICES: Record<string, ProviderService> = {
  'residence-certificate': {
    title: '住民票の写し',
    shows: ['name', 'nameKana', 'birthDate', 'address', 'householdHead'],
    pinRequired: true,
  },
  'seal-certificate': { title: '印鑑登録証明書', shows: ['name', 'birthDate', 'address'], pinRequired: true },
  'tax-certificate': { title: '課税証明書', shows: ['name', 'address'], pinRequired: true },
};

export interface ReferenceProviderOptions {
  host?: string;
  port?: number;
  /** PEM texts of the accepted card-certificate CAs. */
  anchors: string[];
  /** Revoked card certificates as `issuerDN|SERIALHEX` (upper-case hex), or a function. */
  isRevoked?: (certificate: X509Certificate) => boolean;
  /** terminalId → public key PEM (the terminal's HSM request key). */
  terminals?: Record<string, string>;
  register?: RegisterPerson[];
  services?: Record<string, ProviderService>;
  issuer?: string;
  now?: () => number;
  maxSkewMs?: number;
  /** Waits before answering (tests: a slow provider). */
  delayMs?: (serviceId: string) => number;
  fontPath?: string;
  /** Renders the document instead of certificatePdf (a load test that checks isolation, not layout). */
  renderDocument?: (content: CertificateContent) => Promise<Buffer>;
}

export interface ReferenceProvider {
  url: string;
  port: number;
  register: Register;
  registerTerminal(terminalId: string, publicKeyPem: string): void;
  /** Documents issued (one per request id, retries included once). */
  readonly issued: number;
  /** Verification codes issued, by document id. */
  readonly documents: ReadonlyMap<
    string,
    { requestId: string; verificationCode: string; spkiSha256: string }
  >;
  close(): Promise<void>;
}

type Answer = { status: number; type: string; body: Buffer; headers?: Record<string, string> };

function refusal(status: number, code: ServiceRefusal, message: string): Answer {
  return { status, type: 'application/json', body: Buffer.from(JSON.stringify({ refusal: code, message })) };
}

function verificationCode(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  const bytes = randomBytes(12);
  const chars = [...bytes].map((b) => alphabet[b % alphabet.length]!);
  return `${chars.slice(0, 4).join('')}-${chars.slice(4, 8).join('')}-${chars.slice(8, 12).join('')}`;
}

export async function startReferenceProvider(options: ReferenceProviderOptions): Promise<ReferenceProvider> {
  const now = options.now ?? (() => Date.now());
  const maxSkew = options.maxSkewMs ?? 5 * 60_000;
  const anchors = options.anchors.map((pem) => new X509Certificate(pem));
  const terminals = new Map<string, KeyObject>(
    Object.entries(options.terminals ?? {}).map(([id, pem]) => [id, createPublicKey(pem)]),
  );
  const register = new Register(options.register ?? []);
  const services = options.services ?? DEMO_PROVIDER_SERVICES;
  const issuer = options.issuer ?? '見本市 市民課（デモ）';
  const answers = new Map<string, { bodyHash: string; answer: Promise<Answer> }>();
  const nonces = new Map<string, number>();
  const documents = new Map<string, { requestId: string; verificationCode: string; spkiSha256: string }>();
  let issued = 0;
  let authority = '';

  async function issue(body: ServiceRequestBody): Promise<Answer> {
    const { request, proof } = body;
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(Buffer.from(proof.certificate, 'base64'));
    } catch {
      return refusal(422, 'proof_invalid', 'the card certificate cannot be read');
    }
    const anchor = anchors.find((a) => certificate.checkIssued(a) && certificate.verify(a.publicKey));
    if (!anchor)
      return refusal(422, 'card_untrusted', 'the card certificate does not chain to a trust anchor');
    const t = now();
    if (t < Date.parse(certificate.validFrom) || t > Date.parse(certificate.validTo))
      return refusal(422, 'card_expired', 'the card certificate is not valid now');
    if (options.isRevoked?.(certificate))
      return refusal(422, 'card_revoked', 'the card certificate is revoked');
    const signature = Buffer.from(proof.signature, 'base64');
    let proofOk = false;
    try {
      proofOk = nodeVerify('sha256', serviceRequestMessage(request), certificate.publicKey, signature);
    } catch {
      proofOk = false;
    }
    if (!proofOk) return refusal(422, 'proof_invalid', 'the card signature does not match this request');
    const service = services[request.serviceId];
    if (!service) return refusal(404, 'service_unknown', `no service ${request.serviceId}`);
    if (service.pinRequired && !request.pinVerified)
      return refusal(422, 'pin_required', 'this service needs the holder’s PIN');
    const spki = certificate.publicKey.export({ type: 'spki', format: 'der' });
    const spkiSha256 = createHash('sha256').update(spki).digest('hex');
    const person = register.find(spkiSha256);
    if (!person) return refusal(404, 'not_in_register', 'this card’s holder is not in the register');
    const delay = options.delayMs?.(request.serviceId) ?? 0;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const documentId = `D-${randomBytes(6).toString('hex').toUpperCase()}`;
    const code = verificationCode();
    const labels: Record<ProviderService['shows'][number], string> = {
      name: '氏名',
      nameKana: 'フリガナ',
      birthDate: '生年月日',
      address: '住所',
      householdHead: '世帯主',
      domicile: '本籍',
    };
    const render =
      options.renderDocument ??
      ((c: CertificateContent) => certificatePdf(c, options.fontPath ?? DEFAULT_FONT));
    const pdf = await render({
      title: service.title,
      issuer,
      rows: service.shows.filter((k) => person[k] !== undefined).map((k) => [labels[k], person[k]!]),
      documentId,
      verificationCode: code,
      issuedAt: new Date(t),
      terminalId: request.terminalId,
    });
    issued++;
    documents.set(documentId, { requestId: request.requestId, verificationCode: code, spkiSha256 });
    return { status: 200, type: 'application/pdf', body: pdf, headers: { [DOCUMENT_ID_HEADER]: documentId } };
  }

  async function handle(req: IncomingMessage, raw: Buffer): Promise<Answer> {
    const signed = parseSignedRequest(
      { method: req.method ?? 'POST', authority, target: req.url ?? '/', body: raw },
      req.headers,
    );
    if (typeof signed === 'string') return refusal(401, 'terminal_signature', `request signature ${signed}`);
    const key = terminals.get(signed.keyid);
    if (!key) return refusal(401, 'terminal_unknown', `terminal ${signed.keyid} is not registered`);
    if (!signed.verify(key))
      return refusal(401, 'terminal_signature', 'the request signature does not verify');
    const t = now();
    if (Math.abs(signed.created * 1000 - t) > maxSkew)
      return refusal(401, 'request_stale', 'the request time is too far from the provider’s');
    const nonceKey = `${signed.keyid}/${signed.nonce}`;
    if (nonces.has(nonceKey)) return refusal(401, 'terminal_signature', 'request replayed');
    nonces.set(nonceKey, t + 2 * maxSkew);
    if (nonces.size > 10_000) for (const [k, until] of nonces) if (until < t) nonces.delete(k);
    let body: ServiceRequestBody;
    try {
      const parsed = ServiceRequestBody.safeParse(JSON.parse(raw.toString('utf8')));
      if (!parsed.success) return refusal(400, 'proof_invalid', 'the request body is not a service request');
      body = parsed.data;
    } catch {
      return refusal(400, 'proof_invalid', 'the request body is not JSON');
    }
    if (body.request.terminalId !== signed.keyid)
      return refusal(
        401,
        'terminal_signature',
        'the request names another terminal than the one that signed it',
      );
    if (Math.abs(Date.parse(body.request.at) - t) > maxSkew)
      return refusal(422, 'request_stale', 'the request time is too far from the provider’s');
    if (req.headers[IDEMPOTENCY_HEADER] !== body.request.requestId)
      return refusal(400, 'idempotency_conflict', 'the idempotency key must be the request id');
    // Same terminal, same request id: the first answer again, whatever state it is in.
    const idKey = `${signed.keyid}/${body.request.requestId}`;
    const bodyHash = createHash('sha256').update(raw).digest('hex');
    const known = answers.get(idKey);
    if (known) {
      if (known.bodyHash !== bodyHash)
        return refusal(409, 'idempotency_conflict', 'this request id was used for another request');
      return known.answer;
    }
    const answer = issue(body);
    answers.set(idKey, { bodyHash, answer });
    return answer;
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const send = (a: Answer) => {
      res.writeHead(a.status, {
        'content-type': a.type,
        'content-length': a.body.length,
        ...(a.headers ?? {}),
      });
      res.end(a.body);
    };
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === SERVICE_HEALTH_PATH) {
      send({ status: 200, type: 'application/json', body: Buffer.from('{"ok":true}') });
      return;
    }
    if (req.method !== 'POST' || path !== SERVICE_REQUEST_PATH) {
      send({ status: 404, type: 'text/plain', body: Buffer.from('not found') });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY) req.destroy();
      else chunks.push(chunk);
    });
    req.on('end', () => {
      handle(req, Buffer.concat(chunks))
        .then(send)
        .catch((error: unknown) => {
          log.error({ err: (error as Error).message }, 'provider failed');
          send({ status: 500, type: 'text/plain', body: Buffer.from('internal error') });
        });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = options.host ?? '127.0.0.1';
  authority = normalizeAuthority(`${host}:${port}`, 'http');
  return {
    url: `http://${host}:${port}/`,
    port,
    register,
    registerTerminal: (id, pem) => terminals.set(id, createPublicKey(pem)),
    get issued() {
      return issued;
    },
    documents,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
