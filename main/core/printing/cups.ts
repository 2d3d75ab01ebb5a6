// CUPS through its own command-line clients (lp, lpstat, cancel), which speak IPP to the scheduler named
// by `server` (CUPS_SERVER: host:port or a socket path). Why the clients and not an IPP library: they are
// part of the CUPS install the terminal needs anyway, they follow the scheduler's version, and the few
// answers parsed here (a job id, a printer's state line, job lists) are stable text.
import { execFile } from 'node:child_process';
import { KioskError } from '../../../base/errors.js';
import type { JobState, PrintBackend, PrintJobRequest } from './backend.js';

export interface CupsOptions {
  /** The queue; null: the scheduler's default destination. */
  queue: string | null;
  /** host:port or socket path; null: the client's default. */
  server: string | null;
  /** Per-command limit. */
  commandTimeoutMs?: number;
}

function run(
  command: string,
  args: string[],
  options: CupsOptions,
  input?: Buffer,
): Promise<{ stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env, LC_ALL: 'C', LANG: 'C' };
  if (options.server) env.CUPS_SERVER = options.server;
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { env, timeout: options.commandTimeoutMs ?? 10_000, maxBuffer: 1 << 20, encoding: 'utf8' },
      (error, stdout, stderr) => {
        if (error)
          reject(
            new KioskError(
              'PRINTER_UNAVAILABLE',
              `${command}: ${(stderr || error.message).trim().slice(0, 300)}`,
            ),
          );
        else resolve({ stdout, stderr });
      },
    );
    if (input) child.stdin?.end(input);
  });
}

export class CupsBackend implements PrintBackend {
  readonly name: string;

  constructor(private readonly options: CupsOptions) {
    this.name = `cups:${options.queue ?? 'default'}`;
  }

  private async queue(): Promise<string> {
    if (this.options.queue) return this.options.queue;
    const { stdout } = await run('lpstat', ['-d'], this.options);
    const m = /system default destination: (\S+)/.exec(stdout);
    if (!m)
      throw new KioskError('PRINTER_UNAVAILABLE', 'CUPS has no default destination and none is configured');
    return m[1]!;
  }

  async check(): Promise<void> {
    const queue = await this.queue();
    const { stdout } = await run('lpstat', ['-l', '-p', queue], this.options);
    const first = stdout.split('\n')[0] ?? '';
    if (!first.startsWith(`printer ${queue} `))
      throw new KioskError('PRINTER_UNAVAILABLE', `CUPS does not know the queue ${queue}`);
    if (/ disabled since /.test(first)) {
      const reason = stdout.split('\n')[1]?.trim() || 'stopped';
      throw new KioskError('PRINTER_UNAVAILABLE', `printer ${queue} is stopped: ${reason}`, {
        paperOut: /paper|media/i.test(reason),
      });
    }
  }

  async submit(job: PrintJobRequest): Promise<string> {
    const queue = await this.queue();
    const media = job.media === 'A4' ? 'A4' : 'Custom.80x200mm';
    const { stdout } = await run(
      'lp',
      ['-d', queue, '-t', job.title, '-o', `media=${media}`, '-o', 'fit-to-page', '--', '-'],
      this.options,
      job.document,
    );
    const m = /request id is (\S+) /.exec(stdout);
    if (!m) throw new KioskError('PRINT_FAILED', `lp gave no job id: ${stdout.trim().slice(0, 200)}`);
    return m[1]!;
  }

  private async listed(which: 'completed' | 'not-completed'): Promise<string[]> {
    const queue = await this.queue();
    const { stdout } = await run('lpstat', ['-W', which, '-o', queue], this.options);
    return stdout
      .split('\n')
      .map((line) => line.split(/\s+/)[0] ?? '')
      .filter((id) => id.length > 0);
  }

  async jobState(jobId: string): Promise<JobState> {
    if ((await this.listed('not-completed')).includes(jobId)) {
      try {
        await this.check();
        return 'pending';
      } catch {
        return 'stopped';
      }
    }
    return (await this.listed('completed')).includes(jobId) ? 'completed' : 'gone';
  }

  async cancel(jobId: string): Promise<void> {
    // -x also purges the spooled document: the queue keeps nothing of the person.
    await run('cancel', ['-x', jobId], this.options).catch(() => run('cancel', [jobId], this.options));
  }

  pendingJobs(): Promise<string[]> {
    return this.listed('not-completed');
  }
}
