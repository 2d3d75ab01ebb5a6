// `npm start`: the kiosk on the configuration in JPKI_CONFIG, or the demo profile. Electron when its
// binary is installed and a display exists; else Chromium in app mode on the browser shell; else the
// browser shell alone, with its address printed (main/shell-choice.ts decides).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../config/load.js';
import { projectRoot } from '../config/paths.js';
import { KioskError, toKioskError } from '../base/errors.js';
import { startBrowserShell } from './browser/server.js';
import { composeTerminal } from './compose.js';
import { loadDemoExtension } from './extension.js';
import { initLogging } from '../base/log.js';
import { chooseShell, chromiumKioskArgs, chromiumPolicyProblem, systemProbe } from './shell-choice.js';

async function main(): Promise<number> {
  const config = loadConfig();
  initLogging({ level: config.log.level, mode: config.log.mode, dir: config.log.dir });
  const choice = chooseShell(systemProbe(projectRoot()));

  if (choice.kind === 'electron') {
    // Electron's main process starts the core in a utility process itself (main/electron/).
    const child = spawn(choice.binary, [join(projectRoot(), 'dist', 'main', 'electron', 'main.js')], {
      stdio: 'inherit',
    });
    return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  }

  const composed = await composeTerminal(config);
  const shell = await startBrowserShell({ config, core: composed.terminal });
  let browser: ChildProcess | null = null;
  const stop = async () => {
    browser?.kill('SIGTERM');
    await shell.close().catch(() => undefined);
    await composed.close();
  };
  process.once('SIGINT', () => void stop().then(() => process.exit(0)));
  process.once('SIGTERM', () => void stop().then(() => process.exit(0)));

  // The page's WebSocket needs the launch ticket in the fragment; a ticket opens one connection.
  const lines = [`jpki-kiosk: ${config.source.profile} profile (${config.site.kind}) at ${shell.url}`];
  lines.push(...((await loadDemoExtension())?.startLines(config) ?? []));
  if (choice.kind === 'chromium' && config.source.profile !== 'demo') {
    // A site's kiosk Chromium runs only under the managed policy (no DevTools, no file://, only our origin).
    const problem = chromiumPolicyProblem(systemProbe(projectRoot()).readText, shell.url.replace(/\/$/, ''));
    if (problem) throw new KioskError('CONFIG_INVALID', problem);
  }
  if (choice.kind === 'chromium') {
    const profileDir = mkdtempSync(join(tmpdir(), 'jpki-kiosk-chromium-'));
    browser = spawn(
      choice.binary,
      chromiumKioskArgs(shell.launchUrl(), profileDir, config.source.profile !== 'demo'),
      { stdio: 'ignore' },
    );
    browser.on('exit', () => void stop().then(() => process.exit(0)));
    lines.push(`  opened ${choice.binary} in app mode`);
  } else {
    lines.push(
      `  open ${shell.launchUrl()} in a browser (${choice.reason}); the address works once; Ctrl-C stops the kiosk`,
    );
  }
  process.stdout.write(lines.join('\n') + '\n');
  return new Promise<number>(() => undefined);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    const typed = toKioskError(error);
    process.stderr.write(`jpki-kiosk: ${typed.code}: ${typed.message}\n`);
    process.exit(1);
  },
);
