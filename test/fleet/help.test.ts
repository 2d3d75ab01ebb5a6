// `jpki-kiosk <command> [subcommand] --help` exits 0 with a usage text for every command in the table
// (and the demo build's commands), without opening a device or reading a configuration.
import { describe, expect, it } from 'vitest';
import { commandGroups, main, subcommands } from '../../main/cli/index.js';
import { loadDemoExtension } from '../../main/extension.js';
import { captureStdout } from '../support/capture-stdout.js';

describe('--help everywhere', () => {
  it('every command and subcommand answers --help and -h with usage, exit 0', async () => {
    const demo = (await loadDemoExtension())?.commands ?? {};
    const invocations: string[][] = [];
    for (const group of [...Object.keys(commandGroups), ...Object.keys(demo)]) {
      const words = group.split(' ');
      invocations.push([...words, '--help'], [...words, '-h']);
      for (const sub of subcommands[group] ?? []) invocations.push([...words, sub, '--help']);
    }
    // Every group of the table has been asked, including the ones with subcommands.
    expect(invocations.length).toBeGreaterThan(2 * Object.keys(commandGroups).length);
    for (const argv of invocations) {
      const r = await captureStdout(() => main(argv));
      expect(r.code, argv.join(' ')).toBe(0);
      expect(r.stdout, argv.join(' ')).toMatch(/usage: jpki-kiosk /);
    }
  });

  it('subcommands listed for --help are those the groups answer to', () => {
    for (const group of Object.keys(subcommands)) expect(Object.keys(commandGroups)).toContain(group);
  });
});
