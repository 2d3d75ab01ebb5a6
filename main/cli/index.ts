// `jpki-kiosk <group> …`: one entry point, each group in its own module, loaded only when used so that
// `hsm status` does not load PC/SC and `card info` does not load PKCS#11. The demo's commands (`sim`,
// `hsm demo`) come from the demo build through main/extension.ts, and only when it is present.
import { isKioskError, toKioskError } from '../../base/errors.js';
import { loadDemoExtension, type CommandGroup } from '../extension.js';

export type { CommandRunner } from '../extension.js';

export const commandGroups: Record<string, CommandGroup> = {
  card: {
    summary: 'card info [--json] [--reader R]: readers, card type, certificate serial, PIN tries (none used)',
    load: () => import('./card-command.js'),
  },
  check: {
    summary: 'check --once [--json] [--config F] [--card DEMO_CARD]: one tap → one decision',
    load: () => import('./check-command.js'),
  },
  config: {
    summary: 'config check [--config F] [--json]: validate and print the effective configuration',
    load: () => import('./config-command.js'),
  },
  enrol: {
    summary: 'enrol --hub URL --code C [--id ID] [--json]: enrol this terminal at a hub with a one-time code',
    load: () => import('./enrol-command.js'),
  },
  hid: {
    summary:
      'hid list|status|pulse|signal <pattern> [--config F] [--json]: check the gate relay and signal tower',
    load: () => import('./hid-command.js'),
  },
  hub: {
    summary:
      'hub serve|enrol-code|terminals|import-whitelist|import-crl|register-terminal|status|root: the reference sync hub',
    load: () => import('./hub-command.js'),
  },
  hsm: {
    summary: 'hsm status|init-token|generate-key|export-*|install-cert|audit: the terminal HSM',
    load: () => import('./hsm-command.js'),
  },
  journal: {
    summary:
      'journal verify|tail|backup FILE [--config F | --file DB] [--pubkey PEM] [--json]: check or back up the entry journal',
    load: () => import('./journal-command.js'),
  },
  shelter: {
    summary: 'shelter roster export [--out DIR] [--json]: the shelter roster as CSV (no network needed)',
    load: () => import('./shelter-command.js'),
  },
  sync: {
    summary:
      'sync --once | status [--json] [--config F]: one pull and push against the hub, or the stored sync state',
    load: () => import('./sync-command.js'),
  },
  watchdog: {
    summary:
      "watchdog [--url URL]: ping systemd's watchdog while the kiosk's /healthz answers (its own unit)",
    load: () => import('./watchdog-command.js'),
  },
  whitelist: {
    summary: 'whitelist import FILE|stats|lookup [--config F] [--json]: the local whitelist and revocations',
    load: () => import('./whitelist-command.js'),
  },
};

/**
 * The subcommands of each group, for `--help` on each of them (test/fleet/help.test.ts runs them all);
 * a group not listed has none.
 */
export const subcommands: Record<string, string[]> = {
  card: ['info'],
  config: ['check'],
  hid: ['list', 'status', 'pulse', 'signal'],
  hub: [
    'serve',
    'config',
    'enrol-code',
    'terminals',
    'import-whitelist',
    'import-crl',
    'register-terminal',
    'status',
    'conflicts',
    'resolve-conflict',
    'root',
  ],
  hsm: ['status', 'init-token', 'generate-key', 'export-public', 'export-request', 'install-cert', 'audit'],
  journal: ['verify', 'tail', 'backup'],
  shelter: ['roster'],
  sync: ['status'],
  whitelist: ['import', 'stats', 'lookup'],
};

export function usage(extra: Record<string, CommandGroup> = {}): string {
  const groups = { ...commandGroups, ...extra };
  const lines = Object.entries(groups).map(([name, group]) => `  ${name.padEnd(10)} ${group.summary}`);
  return ['usage: jpki-kiosk <command> [options]', '', ...lines].join('\n');
}

/** The command for argv: a demo command (`sim …`, `hsm demo …`) first, then the product's groups. */
function resolve(
  argv: string[],
  demo: Record<string, CommandGroup>,
): { entry: CommandGroup; args: string[] } | null {
  const [group = '', word, ...afterWord] = argv;
  const two = word === undefined ? undefined : demo[`${group} ${word}`];
  if (two) return { entry: two, args: afterWord };
  const entry = demo[group] ?? commandGroups[group];
  return entry ? { entry, args: argv.slice(1) } : null;
}

export async function main(argv: string[]): Promise<number> {
  const [group, ...rest] = argv;
  const demoCommands = (await loadDemoExtension())?.commands ?? {};
  if (!group || group === '--help' || group === '-h' || group === 'help') {
    process.stdout.write(usage(demoCommands) + '\n');
    return group ? 0 : 2;
  }
  const found = resolve(argv, demoCommands);
  if (!found) {
    process.stderr.write(`jpki-kiosk: unknown command '${group}'\n${usage(demoCommands)}\n`);
    return 2;
  }
  try {
    const module = await found.entry.load();
    // Every command and subcommand answers --help with its usage (the module's, else its summary line),
    // before it parses anything or opens a device.
    if (found.args.includes('--help') || found.args.includes('-h')) {
      const text = (module as { usage?: string }).usage ?? `usage: jpki-kiosk ${found.entry.summary}`;
      process.stdout.write(text + '\n');
      return 0;
    }
    return await module.run(found.args);
  } catch (error) {
    const typed = toKioskError(error);
    const wantsJson = rest.includes('--json');
    if (wantsJson) process.stdout.write(JSON.stringify({ error: typed.toPayload() }) + '\n');
    process.stderr.write(`jpki-kiosk ${group}: ${typed.code}: ${typed.message}\n`);
    if (!isKioskError(error) && error instanceof Error && process.env.JPKI_DEBUG)
      process.stderr.write(`${error.stack}\n`);
    return 1;
  }
}
