// The private-pcscd harness for integration tests: every suite that needs PC/SC starts its own pcscd
// (own reader configuration, vpcd ports, socket and network namespace) and never touches the system
// daemon. See sim/card/private-pcscd.ts for how, and docs/card.md.
//
//   const pcscd = await startPcscd({ vpcdPorts: [36010] });   // in beforeAll; sets PCSCLITE_CSOCK_NAME
//   const card = await insertCard(pcscd, 36010, 'valid');      // a demo card in reader 'Virtual PCD 36010 00 00'
//   ...
//   await pcscd.stop();                                        // afterAll (also done at process exit)
//
// One process = one pcscd socket (libpcsclite caches PCSCLITE_CSOCK_NAME): vitest runs each test file
// in its own process, so start one daemon per file and use kill()/start()/restart() inside it.
// Pick vpcd ports in your own range; each port also uses port + 1 (second slot).
import { afterAll } from 'vitest';
import {
  startPcscd as startPrivatePcscd,
  stopAllPcscd,
  type PcscdOptions,
  type PrivatePcscd,
} from '../../sim/card/private-pcscd.js';
import { SimulatedCard, type SimulatedCardOptions } from '../../sim/card/simulated-card.js';
import { VpcdCardClient } from '../../sim/card/vpcd-client.js';

export type { PcscdOptions, PrivatePcscd };
export { stopAllPcscd };

// Registered when a test file imports this module (file level), so it runs after the file's tests.
afterAll(async () => {
  await stopAllPcscd();
});

/** Starts a private pcscd, points this process's PC/SC client at it, and stops it after the file. */
export async function startPcscd(options: PcscdOptions & { applyEnv?: boolean }): Promise<PrivatePcscd> {
  const pcscd = await startPrivatePcscd(options);
  if (options.applyEnv !== false) pcscd.applyEnv();
  return pcscd;
}

export interface InsertedCard {
  card: SimulatedCard;
  client: VpcdCardClient;
  remove(): Promise<void>;
  insert(): Promise<void>;
}

/** Connects a virtual card (a profile file path, or a ready SimulatedCard) to a vpcd slot port. */
export async function insertCard(
  pcscd: PrivatePcscd,
  slotPort: number,
  card: string | SimulatedCard,
  options?: SimulatedCardOptions,
): Promise<InsertedCard> {
  const simulated = typeof card === 'string' ? SimulatedCard.fromFile(card, options) : card;
  const client = new VpcdCardClient({ endpoint: pcscd.endpoint(slotPort), card: simulated });
  await client.insert();
  return {
    card: simulated,
    client,
    remove: () => client.remove(),
    insert: () => client.insert(),
  };
}
