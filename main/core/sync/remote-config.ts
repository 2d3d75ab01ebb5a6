// Pulling the remote configuration (protocol/remote-config.ts): one signed GET /v1/config; the sink
// verifies the answer against the root of trust, checks the layer (config/remote.ts) and applies it
// atomically, or refuses it with CONFIG_INVALID and keeps the last good one.
import type { HubLink } from './link.js';
import { errorFrom, exchange, readAll } from './transport.js';

export interface RemoteConfigSink {
  /** The version applied (null: none). */
  version(): number | null;
  /** Verifies and applies a signed answer; CONFIG_INVALID (nothing changed) when it is refused. */
  accept(
    signed: Buffer,
    expect: { nonce: string; terminalId: string },
  ): { version: number; applied: boolean };
}

export async function pullRemoteConfig(
  link: HubLink,
  sink: RemoteConfigSink,
): Promise<{ version: number; applied: boolean }> {
  const res = await exchange({
    base: link.base,
    method: 'GET',
    target: '/v1/config',
    signer: link.signer,
    idleTimeoutMs: link.idleTimeoutMs,
    agent: link.agent,
    ...(link.ca ? { ca: link.ca } : {}),
  });
  if (res.status !== 200) throw await errorFrom(res);
  const bytes = await readAll(res.body, 256 * 1024);
  return sink.accept(bytes, { nonce: res.nonce, terminalId: link.signer.keyId });
}
