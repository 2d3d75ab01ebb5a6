// The demo composition: the demo environment (provisioning, private pcscd, card wallet, software HID
// rig) around a terminal core, which gets the wallet and the rig's bus as its software HID backend.
import type { KioskConfig } from '../../config/load.js';
import { createTerminal } from '../core/terminal/index.js';
import type { ComposedCore, ComposeOptions } from '../extension.js';
import { TERMINAL_KEY_LABEL } from '../../hsm/config.js';
import { startDemoEnvironment } from './index.js';
import { startDemoProvider } from './provider.js';

export async function composeDemoTerminal(
  config: KioskConfig,
  options: ComposeOptions = {},
): Promise<ComposedCore> {
  const { demoTiming, ...terminalOptions } = options;
  const demo = await startDemoEnvironment(config, demoTiming ? { timing: demoTiming } : {});
  // The kiosk services ask the demo's own certificate service, on a free loopback port.
  const provider =
    config.policy.kiosk.services.length > 0 ? await startDemoProvider(config, demo.assets.cards) : null;
  try {
    const terminal = await createTerminal({
      config,
      wallet: demo.wallet,
      ...(demo.hid ? { softwareHid: demo.hid.bus } : {}),
      ...(provider
        ? {
            providerUrls: Object.fromEntries(
              Object.keys(config.policy.kiosk.providers).map((id) => [id, provider.url]),
            ),
          }
        : {}),
      ...terminalOptions,
    });
    const hsm = terminal.devices.hsm;
    if (provider && hsm) {
      const key = await hsm.publicKey(TERMINAL_KEY_LABEL).catch(() => null);
      if (key) provider.registerTerminal(config.site.terminalId, key.pem);
    }
    const closeTerminal = async () => {
      await terminal.close();
      await provider?.close();
    };
    return {
      terminal,
      demoReader: demo.readerName,
      demoVpcdAddress: demo.vpcdAddress,
      close: async () => {
        await closeTerminal();
        await demo.stop();
      },
    };
  } catch (error) {
    await provider?.close();
    await demo.stop();
    throw error;
  }
}
