// The PIN-less authenticator as this terminal's configuration and HSM describe it.
import type { KioskConfig } from '../../../config/load.js';
import type { Hsm } from '../../../hsm/client.js';
import { installedInstitutionKey } from '../../../hsm/config.js';
import { InstitutionTerminalAuthenticator } from './terminal-auth.js';

/** Refuses (HSM_CERT_INVALID, HSM_KEY_NOT_FOUND) unless the certificate and the token's key belong together. */
export async function institutionAuthenticatorFromConfig(
  config: Pick<KioskConfig, 'hsm'> & { card?: Pick<KioskConfig['card'], 'unlockRate'> },
  hsm: Hsm,
  now: Date = new Date(),
  /** Milliseconds for the unlock rate limit: the terminal's injected clock. */
  clock?: () => number,
): Promise<InstitutionTerminalAuthenticator> {
  const installed = await installedInstitutionKey(config, hsm, now);
  return new InstitutionTerminalAuthenticator({
    signer: hsm,
    ...installed,
    ...(config.card ? { rateLimit: config.card.unlockRate } : {}),
    ...(clock ? { now: clock } : {}),
  });
}
