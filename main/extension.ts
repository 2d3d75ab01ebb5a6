// The one seam between the product and the demo. The demo (main/demo/, with the simulator in sim/)
// depends on the product; the product never imports it. A development build has it at
// main/demo/entry.js next to this file; packaged apps omit it (electron-builder.yml), and then the
// product composes without it and a demo profile is a configuration error that says so.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KioskConfig } from '../config/load.js';
import { KioskError } from '../base/errors.js';
import type { HidBackend } from './core/actuators/hid-backend.js';
import type { Terminal, TerminalOptions } from './core/terminal/index.js';

export interface ComposedCore {
  terminal: Terminal;
  /** The demo reader's name (null outside the demo or on the system pcscd). */
  demoReader: string | null;
  /** Where a separately started virtual card connects to the demo reader (null outside the demo). */
  demoVpcdAddress: string | null;
  close(): Promise<void>;
}

export type ComposeOptions = Omit<TerminalOptions, 'config' | 'wallet' | 'softwareHid'> & {
  demoTiming?: 'instant' | 'contactless-424';
};

export type CommandRunner = (args: string[]) => Promise<number>;

export interface CommandGroup {
  summary: string;
  load: () => Promise<{ run: CommandRunner }>;
}

/** What the demo build adds to the product. */
export interface DemoExtension {
  /** A terminal for the demo profile with the demo environment (reader, wallet, HID rig) around it. */
  compose(config: KioskConfig, options: ComposeOptions): Promise<ComposedCore>;
  /**
   * CLI commands: a key is a group (`sim`) or a group and its first word (`hsm demo`), which then takes
   * precedence over the product's group of that name for that word.
   */
  commands: Record<string, CommandGroup>;
  /**
   * The simulated devices for actuator driver "software" (`jpki-kiosk hid …` on a demo configuration),
   * or null when no device uses it.
   */
  softwareHid(actuators: KioskConfig['actuators']): Promise<HidBackend | null>;
  /** Lines `npm start` prints under its address (e.g. the demo staff PIN). */
  startLines(config: KioskConfig): string[];
}

function entryUrl(): URL {
  // From the compiled tree the entry is entry.js; under vitest (TypeScript sources) it is entry.ts.
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return new URL(`./demo/entry.${ext}`, import.meta.url);
}

/** The demo extension, or null when this build has no demo (a packaged app). */
export async function loadDemoExtension(url: URL = entryUrl()): Promise<DemoExtension | null> {
  if (!existsSync(fileURLToPath(url))) return null;
  const module = (await import(url.href)) as { demoExtension: DemoExtension };
  return module.demoExtension;
}

/** The demo extension for a demo profile; a typed error when this build has none. */
export async function requireDemoExtension(url: URL = entryUrl()): Promise<DemoExtension> {
  const demo = await loadDemoExtension(url);
  if (!demo)
    throw new KioskError(
      'CONFIG_INVALID',
      'the demo profile needs the demo build (main/demo and sim/), which packaged apps do not include; configure a site profile',
    );
  return demo;
}
