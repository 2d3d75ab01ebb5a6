// Starts the demo around a terminal: provisioning, a private pcscd with a vpcd reader (as root) or the
// system pcscd's default vpcd reader, and the card wallet. Lives outside main/core so that the product
// core never depends on the simulator.
import type { KioskConfig } from '../../config/load.js';
import { startPcscd, type PrivatePcscd } from '../../sim/card/private-pcscd.js';
import type { VpcdEndpoint } from '../../sim/card/vpcd-client.js';
import type { SoftwareRig } from '../../sim/hid/index.js';
import { KioskData } from '../../whitelist/kiosk-data.js';
import { getLogger } from '../../base/log.js';
import { createDemoHidRig, DEMO_SKIP_EVERY } from './hid.js';
import { ensureDemoAssets, ensureDemoData, type DemoAssets } from './provision.js';
import { VpcdDemoWallet, type WalletOptions } from './wallet.js';

const log = getLogger('demo');

export interface DemoEnvironment {
  assets: DemoAssets;
  wallet: VpcdDemoWallet;
  /** The simulated gate and tower for driver "software" (null when no device uses it). */
  hid: SoftwareRig | null;
  /** The private pcscd (root), or null when the system pcscd is used. */
  pcscd: PrivatePcscd | null;
  readerName: string | null;
  /** Where a separately started virtual card connects (`jpki-kiosk sim card --vpcd …`). */
  vpcdAddress: string;
  stop(): Promise<void>;
}

/** Provisions the demo assets and data (idempotent). Safe to call before every demo command. */
export async function provisionDemo(config: KioskConfig): Promise<DemoAssets> {
  const assets = await ensureDemoAssets(config);
  const data = KioskData.fromConfig(config);
  try {
    ensureDemoData(config, data, assets);
  } finally {
    data.close();
  }
  return assets;
}

export async function startDemoEnvironment(
  config: KioskConfig,
  options: { timing?: WalletOptions['timing'] } = {},
): Promise<DemoEnvironment> {
  const assets = await provisionDemo(config);
  let pcscd: PrivatePcscd | null = null;
  let endpoint: VpcdEndpoint = { host: '127.0.0.1', port: config.demo.vpcdPort };
  let readerName: string | null = null;
  if (process.getuid?.() === 0) {
    // Our own pcscd: isolated from the machine's, and with the vpcd latency workaround (docs/card.md).
    pcscd = await startPcscd({ vpcdPorts: [config.demo.vpcdPort], label: 'jpki-demo-pcscd' });
    pcscd.applyEnv();
    endpoint = pcscd.endpoint(config.demo.vpcdPort);
    readerName = pcscd.readerNames(config.demo.vpcdPort)[0];
    log.info({ socket: pcscd.socketPath }, 'demo pcscd started');
  } else {
    log.warn('not root: using the system pcscd and its vpcd reader on 127.0.0.1:%d', config.demo.vpcdPort);
  }
  const wallet = new VpcdDemoWallet({
    config,
    cards: assets.cards,
    endpoint,
    ...(options.timing ? { timing: options.timing } : {}),
  });
  return {
    assets,
    wallet,
    hid: createDemoHidRig(config.actuators, { skipEvery: DEMO_SKIP_EVERY }),
    pcscd,
    readerName,
    vpcdAddress: 'path' in endpoint ? endpoint.path : `${endpoint.host}:${endpoint.port}`,
    stop: async () => {
      await wallet.close().catch(() => undefined);
      await pcscd?.stop();
    },
  };
}
