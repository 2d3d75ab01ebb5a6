// The demo composition: the demo environment (provisioning, private pcscd, card wallet, software HID
// rig) around a terminal core, which gets the wallet and the rig's bus as its software HID backend.
import type { KioskConfig } from '../../config/load.js';
import { createTerminal } from '../core/terminal/index.js';
import type { ComposedCore, ComposeOptions } from '../extension.js';
import { startDemoEnvironment } from './index.js';

export async function composeDemoTerminal(
  config: KioskConfig,
  options: ComposeOptions = {},
): Promise<ComposedCore> {
  const { demoTiming, ...terminalOptions } = options;
  const demo = await startDemoEnvironment(config, demoTiming ? { timing: demoTiming } : {});
  try {
    const terminal = await createTerminal({
      config,
      wallet: demo.wallet,
      ...(demo.hid ? { softwareHid: demo.hid.bus } : {}),
      ...terminalOptions,
    });
    const closeTerminal = terminal.close.bind(terminal);
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
    await demo.stop();
    throw error;
  }
}
