// The composition root: a terminal core for a configuration. Shells (browser, Electron's core process)
// and the CLI start the core through here. The demo profile is composed by the demo build, found
// through main/extension.ts; the product itself never loads the demo or the simulator.
import type { KioskConfig } from '../config/load.js';
import type { Terminal } from './core/terminal/index.js';
import { requireDemoExtension, type ComposedCore, type ComposeOptions } from './extension.js';

export type { ComposedCore, ComposeOptions } from './extension.js';

export async function composeTerminal(
  config: KioskConfig,
  options: ComposeOptions = {},
): Promise<ComposedCore> {
  if (config.demo.enabled) return (await requireDemoExtension()).compose(config, options);
  const { createTerminal } = await import('./core/terminal/index.js');
  const { demoTiming: _demoTiming, ...terminalOptions } = options;
  const terminal = await createTerminal({ config, ...terminalOptions });
  const closeTerminal = terminal.close.bind(terminal);
  return { terminal, demoReader: null, demoVpcdAddress: null, close: closeTerminal };
}

/** What Electron's core process (main/electron/core-host.ts) serves. */
export async function createKioskCore(config: KioskConfig): Promise<Terminal & { close(): Promise<void> }> {
  const composed = await composeTerminal(config);
  // Closing the core also stops the demo environment around it.
  composed.terminal.close = composed.close;
  return composed.terminal;
}
