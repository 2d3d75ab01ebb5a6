// The registration desk's side of a companion seat transfer (hub/companions.ts, protocol/companion.ts):
// one signed POST to the hub with the transfer code and the companion card's certificate-derived
// reference. Online only: a desk without the hub says so (SYNC_UNREACHABLE) and nothing changes.
import { KioskError, ErrorCodes, type ErrorCode } from '../../../base/errors.js';
import {
  COMPANION_BIND_PATH,
  CompanionBindAnswer,
  type CompanionBindRequest,
} from '../../../protocol/companion.js';
import type { RequestSigner } from '../../../protocol/http-signature.js';
import { exchange } from './transport.js';

const MAX_ANSWER_BYTES = 64 * 1024;

async function readAll(body: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of body) {
    n += (chunk as Buffer).length;
    if (n > MAX_ANSWER_BYTES) throw new KioskError('SYNC_LIMIT', 'the hub’s answer is too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** Sends the binding; answers the seat moved, or throws the hub's typed refusal (TRANSFER_*, …). */
export async function bindCompanionAtHub(o: {
  hubUrl: string;
  signer: RequestSigner;
  request: CompanionBindRequest;
  ca?: Buffer;
  timeoutMs?: number;
}): Promise<CompanionBindAnswer> {
  const res = await exchange({
    base: new URL(o.hubUrl),
    method: 'POST',
    target: COMPANION_BIND_PATH,
    body: Buffer.from(JSON.stringify(o.request)),
    contentType: 'application/json',
    signer: o.signer,
    idleTimeoutMs: o.timeoutMs ?? 15_000,
    ...(o.ca ? { ca: o.ca } : {}),
  });
  const text = (await readAll(res.body)).toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new KioskError('SYNC_PROTOCOL', `the hub answered ${res.status} without JSON`);
  }
  if (res.status !== 200) {
    // An unsigned refusal: only shown to staff (its words), it changes nothing on the terminal.
    const error = (json as { error?: { code?: string; message?: string } }).error ?? {};
    const code = error.code;
    const message = error.message ?? `the hub answered ${res.status}`;
    if (code && (ErrorCodes as readonly string[]).includes(code))
      throw new KioskError(code as ErrorCode, message);
    throw new KioskError('SYNC_REFUSED', message);
  }
  const parsed = CompanionBindAnswer.safeParse(json);
  if (!parsed.success) throw new KioskError('SYNC_PROTOCOL', 'the hub’s binding answer is malformed');
  return parsed.data;
}
