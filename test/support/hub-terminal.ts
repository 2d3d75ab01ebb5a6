// A terminal (configured, with its SoftHSM2 key) and a reference hub set up together in a test: the
// terminal registered at the hub with the key its HSM holds, and the demo card on the hub's whitelist.
import type { KioskConfig } from '../../config/load.js';
import { hsmFromConfig, TERMINAL_KEY_LABEL } from '../../hsm/config.js';
import type { Publisher } from '../../hub/publisher.js';
import type { HubStore } from '../../hub/store.js';
import { DEMO_RECORDS } from '../../main/demo/data.js';
import { spkiSha256OfCertificate } from '../../main/demo/provision.js';
import { demoCard, type DemoCardSet } from '../../sim/pki/demo-pki.js';

/** Registers the terminal `config` describes, with the public half of the key its HSM holds. */
export async function registerConfiguredTerminal(
  store: HubStore,
  config: KioskConfig,
  at: number = Date.now(),
): Promise<void> {
  const hsm = hsmFromConfig(config);
  await hsm.start();
  const key = await hsm.publicKey(TERMINAL_KEY_LABEL);
  await hsm.close();
  store.registerTerminal(
    {
      terminalId: config.site.terminalId,
      publicKeyPem: key.pem,
      siteId: config.site.siteId,
      gateId: config.site.gateId,
      zone: config.site.zone,
      siteKind: 'stadium-gate',
    },
    at,
  );
}

/** Publishes the whitelist row of demo card `name` with its demo record (the organiser's ticket). */
export function publishDemoCard(publisher: Publisher, cards: DemoCardSet, name = 'valid'): void {
  const card = demoCard(cards, name);
  publisher.publishWhitelist(
    [
      {
        issuerKeyId: card.issuerKeyIdHex,
        serial: card.serialHex,
        spkiSha256: spkiSha256OfCertificate(card.certPath),
        record: DEMO_RECORDS[name]!,
      },
    ],
    'demo ticket',
  );
}
