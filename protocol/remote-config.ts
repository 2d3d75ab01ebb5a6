// Remote configuration: the configuration layer the hub publishes for a site, a gate (a gate group of a
// site) or one terminal, merged in that order, with a version, signed by the publisher key (the same
// root of trust as the feeds) and bound to the terminal's request nonce so an old answer cannot be
// replayed to roll a terminal back. The terminal checks the layer's keys and the schema itself
// (config/remote.ts) before it applies anything.
import { z } from 'zod';
import { KioskError } from '../base/errors.js';
import { openBlob, signBlob, type PublisherKey, type PublisherTrust } from './feed-format.js';

const REMOTE_CONFIG_DOMAIN = Buffer.from('jpki-kiosk/remote-config/v1\n', 'utf8');
export const REMOTE_CONFIG_FORMAT = 'jpki-kiosk/remote-config/v1';

export const SignedRemoteConfig = z
  .object({
    format: z.literal(REMOTE_CONFIG_FORMAT),
    publisherKeyId: z.string().regex(/^[0-9a-f]{32}$/),
    terminalId: z.string().min(1).max(64),
    nonce: z.string().regex(/^[A-Za-z0-9_-]{8,64}$/),
    hubTime: z.number().int().nonnegative(),
    /** 0: nothing published for this terminal. */
    version: z.number().int().nonnegative(),
    layer: z.record(z.string(), z.unknown()),
  })
  .strict();
export type SignedRemoteConfig = z.output<typeof SignedRemoteConfig>;

export function signRemoteConfig(c: SignedRemoteConfig, key: PublisherKey): Buffer {
  return signBlob(REMOTE_CONFIG_DOMAIN, Buffer.from(JSON.stringify(c), 'utf8'), key);
}

/** Verifies the signature and that it answers this terminal's request; CONFIG_INVALID otherwise. */
export function openRemoteConfig(
  bytes: Uint8Array,
  trust: PublisherTrust,
  expect: { nonce: string; terminalId: string },
): SignedRemoteConfig {
  const opened = openBlob(bytes, REMOTE_CONFIG_DOMAIN, trust, {
    malformed: 'CONFIG_INVALID',
    signature: 'CONFIG_INVALID',
    publisher: 'CONFIG_INVALID',
  });
  const parsed = SignedRemoteConfig.safeParse(opened.payload);
  if (!parsed.success) throw new KioskError('CONFIG_INVALID', 'remote configuration: malformed');
  const c = parsed.data;
  if (c.publisherKeyId !== opened.kid)
    throw new KioskError('CONFIG_INVALID', 'remote configuration names a publisher other than its signer');
  if (c.nonce !== expect.nonce || c.terminalId !== expect.terminalId)
    throw new KioskError('CONFIG_INVALID', 'remote configuration answers another request (replayed)');
  return c;
}
