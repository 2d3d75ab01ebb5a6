// `jpki-kiosk <group> …`: one entry point, each group in its own module, loaded only when used so that
// `jpki-kiosk sim card` does not load PKCS#11 and `hsm status` does not load PC/SC.
import { isKioskError, toKioskError } from '../../base/errors.js';

export type CommandRunner = (args: string[]) => Promise<number>;

interface CommandGroup {
  summary: string;
  load: () => Promise<{ run: CommandRunner }>;
}

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
  hid: {
    summary:
      'hid list|status|pulse|signal <pattern> [--config F] [--json]: check the gate relay and signal tower',
    load: () => import('./hid-command.js'),
  },
  hub: {
    summary:
      'hub serve|import-whitelist|import-crl|register-terminal|status|public-key: the reference sync hub',
    load: () => import('./hub-command.js'),
  },
  hsm: {
    summary: 'hsm status|demo|init-token|generate-key|export-*|install-cert|audit: the terminal HSM',
    load: () => import('./hsm-command.js'),
  },
  journal: {
    summary: 'journal verify|tail [--config F | --file DB] [--pubkey PEM] [--json]: check the entry journal',
    load: () => import('./journal-command.js'),
  },
  sim: {
    summary: 'sim card --card NAME|FILE [--vpcd host:port] | sim pki: the virtual My Number Card, demo PKI',
    load: () => import('./sim-command.js'),
  },
  whitelist: {
    summary: 'whitelist import FILE|stats|lookup [--config F] [--json]: the local whitelist and revocations',
    load: () => import('./whitelist-command.js'),
  },
};

export function usage(): string {
  const lines = Object.entries(commandGroups).map(([name, group]) => `  ${name.padEnd(10)} ${group.summary}`);
  return ['usage: jpki-kiosk <command> [options]', '', ...lines].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [group, ...rest] = argv;
  if (!group || group === '--help' || group === '-h' || group === 'help') {
    process.stdout.write(usage() + '\n');
    return group ? 0 : 2;
  }
  const entry = commandGroups[group];
  if (!entry) {
    process.stderr.write(`jpki-kiosk: unknown command '${group}'\n${usage()}\n`);
    return 2;
  }
  try {
    const module = await entry.load();
    return await module.run(rest);
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
