// The composition root: a terminal core for a configuration, with the demo environment (private pcscd,
// virtual card wallet, provisioning) around it when the profile is the demo. Shells (browser, Electron's
// core process) and the CLI start the core through here; main/core itself never loads the simulator.
import type { KioskConfig } from '../config/load.js';
import type { Terminal, TerminalOptions } from './core/terminal/index.js';

export interface ComposedCore {
  terminal: Terminal;
  /** The demo reader's name (null outside the demo or on the system pcscd). */
  demoReader: string | null;
  /** Where `jpki-kiosk sim card --vpcd …` inserts a virtual card into the demo reader. */
  demoVpcdAddress: string | null;
  close(): Promise<void>;
}

export async function composeTerminal(
  config: KioskConfig,
  options: Omit<TerminalOptions, 'config' | 'wallet' | 'softwareHid'> & {
    demoTiming?: 'instant' | 'contactless-424';
  } = {},
): Promise<ComposedCore> {
  const { createTerminal } = await import('./core/terminal/index.js');
  const { demoTiming, ...terminalOptions } = options;
  if (!config.demo.enabled) {
    const terminal = await createTerminal({ config, ...terminalOptions });
    const closeTerminal = terminal.close.bind(terminal);
    return { terminal, demoReader: null, demoVpcdAddress: null, close: closeTerminal };
  }
  const { startDemoEnvironment } = await import('./demo/index.js');
  const demo = await startDemoEnvironment(config, demoTiming ? { timing: demoTiming } : {});
  try {
    const terminal = await createTerminal({
      config,
      wallet: demo.wallet,
      softwareHid: demo.softwareHid,
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

/** What Electron's core process (main/electron/core-host.ts) serves. */
export async function createKioskCore(config: KioskConfig): Promise<Terminal & { close(): Promise<void> }> {
  const composed = await composeTerminal(config);
  // Closing the core also stops the demo environment around it.
  composed.terminal.close = composed.close;
  return composed.terminal;
}
