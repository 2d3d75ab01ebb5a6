// `jpki-kiosk watchdog --url URL`: the kiosk's systemd watchdog, run as its own unit
// (build/systemd/jpki-kiosk-watchdog.service). The kiosk unit runs under a PAM session (PAMName=, for
// the display seat), which moves its processes out of the service's cgroup, so systemd would not take a
// WATCHDOG=1 from them. This process asks the kiosk's /healthz instead: any answer in time — 200, or 503
// for a missing reader or HSM, which the screen already shows and a restart would not fix — proves the
// kiosk's event loop runs, and it pings; no answer, and systemd's watchdog fires (the unit then restarts
// the kiosk).
import { parseArgs } from 'node:util';
import { startWatchdog } from '../../base/watchdog.js';

const USAGE = `usage: jpki-kiosk watchdog [--url URL] [--timeout-ms N]

  Pings systemd's watchdog (WATCHDOG=1, needs WatchdogSec= and NotifyAccess=all in its unit) while the
  kiosk's health endpoint answers (default URL http://127.0.0.1:9621/healthz, config metrics.*).
  Without systemd's watchdog variables it checks the endpoint once and exits (0 answered, 1 not).`;

async function answers(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status === 200 || res.status === 503;
  } catch {
    return false;
  }
}

export async function run(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      url: { type: 'string', default: 'http://127.0.0.1:9621/healthz' },
      'timeout-ms': { type: 'string', default: '5000' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const url = values.url!;
  const timeoutMs = Number(values['timeout-ms']);
  const dog = startWatchdog({
    healthy: () => answers(url, timeoutMs),
    onSkip: (why) => process.stderr.write(`watchdog: ${url}: ${why}\n`),
  });
  if (!dog) {
    const ok = await answers(url, timeoutMs);
    process.stdout.write(`${url}: ${ok ? 'answers' : 'no answer'}\n`);
    return ok ? 0 : 1;
  }
  process.stderr.write(`watchdog: pinging every ${dog.intervalMs} ms while ${url} answers\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  dog.stop();
  return 0;
}

/** What `jpki-kiosk watchdog --help` prints (main/cli/index.ts answers --help for every command). */
export const usage = USAGE;
