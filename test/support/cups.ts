// A private CUPS scheduler for the tests that print: its own ServerRoot, spool, logs and socket in a
// temporary folder, and one PDF queue whose backend (a small script in its own ServerBin) writes each
// job's document unchanged to the test's folder with the job's title beside it. Why not the cups-pdf
// backend: it reads its output folder from /etc/cups/cups-pdf.conf (compiled in), so a private queue
// would write to the machine's folder; and it re-renders the document through Ghostscript, while this
// queue keeps the PDF the terminal sent, which is what the tests read back with pdftotext.
//
//   const cups = await startCups();            // in beforeAll
//   cups.server, cups.queue                     // printing.server / printing.queue
//   cups.jobs()                                 // [{ id, title, pdf }] printed so far
//   cups.setPaperOut(true)                      // the next job stops the printer: "out of paper"
//   await cups.stop();                          // afterAll
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface PrivateCups {
  dir: string;
  server: string;
  queue: string;
  outDir: string;
  jobs(): Array<{ id: string; title: string; pdf: string }>;
  setPaperOut(out: boolean): void;
  /** Resumes the queue after paper-out (cupsenable). */
  enable(): Promise<void>;
  lpstat(args: string[]): Promise<string>;
  stop(): Promise<void>;
}

const BACKEND = `#!/bin/sh
# A CUPS backend: job-id user title copies options [file]
if [ $# -eq 0 ]; then echo 'direct capture "Unknown" "Test PDF capture"'; exit 0; fi
OUT="\${DEVICE_URI#capture:}"
if [ -e "$OUT/.paper-out" ]; then echo "STATE: +media-empty-error" >&2; echo "ERROR: out of paper" >&2; exit 4; fi
if [ -n "$6" ]; then cat "$6" > "$OUT/.job-$1.tmp"; else cat > "$OUT/.job-$1.tmp"; fi
printf '%s\\n' "$3" > "$OUT/job-$1.title"
mv "$OUT/.job-$1.tmp" "$OUT/job-$1.pdf"
exit 0
`;

/** pdftotext of a PDF file, layout kept. */
export async function pdfText(path: string): Promise<string> {
  const { stdout } = await run('pdftotext', ['-layout', path, '-'], { maxBuffer: 1 << 22 });
  return stdout;
}

export async function startCups(queue = 'kiosk-a4'): Promise<PrivateCups> {
  const dir = mkdtempSync(join(tmpdir(), 'jpki-cups-'));
  const sub = (n: string) => {
    const p = join(dir, n);
    mkdirSync(p, { recursive: true });
    return p;
  };
  const root = sub('root');
  const lib = sub('lib');
  const backend = join(lib, 'backend');
  mkdirSync(backend);
  for (const d of ['filter', 'daemon', 'cgi-bin', 'driver', 'monitor', 'notifier'])
    if (existsSync(`/usr/lib/cups/${d}`)) symlinkSync(`/usr/lib/cups/${d}`, join(lib, d));
  writeFileSync(join(backend, 'capture'), BACKEND);
  // 0700: the scheduler runs a backend that others may not execute as root, which may write anywhere.
  chmodSync(join(backend, 'capture'), 0o700);
  const outDir = sub('out');
  chmodSync(outDir, 0o777);
  const socket = join(sub('run'), 'cups.sock');
  const log = sub('log');
  writeFileSync(
    join(root, 'cupsd.conf'),
    [
      `Listen ${socket}`,
      'LogLevel warn',
      'WebInterface no',
      'DefaultAuthType None',
      'MaxJobs 0',
      'PreserveJobHistory On',
      '<Location />',
      '  Order allow,deny',
      '  Allow all',
      '</Location>',
      '<Policy default>',
      '  JobPrivateAccess all',
      '  JobPrivateValues none',
      '  SubscriptionPrivateAccess all',
      '  SubscriptionPrivateValues none',
      '  <Limit All>',
      '    Order deny,allow',
      '  </Limit>',
      '</Policy>',
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(root, 'cups-files.conf'),
    [
      `ServerRoot ${root}`,
      `ServerBin ${lib}`,
      'DataDir /usr/share/cups',
      `RequestRoot ${sub('spool')}`,
      `CacheDir ${sub('cache')}`,
      `StateDir ${sub('state')}`,
      `TempDir ${sub('tmp')}`,
      `AccessLog ${join(log, 'access_log')}`,
      `ErrorLog ${join(log, 'error_log')}`,
      `PageLog ${join(log, 'page_log')}`,
      'User lp',
      'Group lp',
      'Sandboxing Relaxed',
      '',
    ].join('\n'),
  );
  const daemon: ChildProcess = spawn(
    '/usr/sbin/cupsd',
    ['-f', '-c', join(root, 'cupsd.conf'), '-s', join(root, 'cups-files.conf')],
    { stdio: 'ignore' },
  );
  const env = { ...process.env, CUPS_SERVER: socket, LC_ALL: 'C' };
  const lp = async (cmd: string, args: string[]) => (await run(cmd, args, { env })).stdout;
  for (let i = 0; ; i++) {
    if (existsSync(socket)) {
      try {
        await lp('lpstat', ['-r']);
        break;
      } catch {
        // not answering yet
      }
    }
    if (i > 100 || daemon.exitCode !== null) {
      daemon.kill();
      throw new Error(
        `private cupsd did not start: ${existsSync(join(log, 'error_log')) ? readFileSync(join(log, 'error_log'), 'utf8') : ''}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await lp('lpadmin', ['-p', queue, '-E', '-v', `capture:${outDir}`, '-m', 'raw']);
  return {
    dir,
    server: socket,
    queue,
    outDir,
    jobs: () =>
      readdirSync(outDir)
        .filter((f) => /^job-\d+\.pdf$/.test(f))
        .map((f) => {
          const n = /^job-(\d+)\.pdf$/.exec(f)![1]!;
          const titleFile = join(outDir, `job-${n}.title`);
          return {
            id: `${queue}-${n}`,
            title: existsSync(titleFile) ? readFileSync(titleFile, 'utf8').trim() : '',
            pdf: join(outDir, f),
          };
        }),
    setPaperOut: (out) => {
      const flag = join(outDir, '.paper-out');
      if (out) writeFileSync(flag, '');
      else if (existsSync(flag)) unlinkSync(flag);
    },
    enable: async () => {
      await lp('cupsenable', [queue]);
    },
    lpstat: (args) => lp('lpstat', args),
    stop: async () => {
      daemon.kill('SIGTERM');
      await new Promise((r) => (daemon.exitCode !== null ? r(undefined) : daemon.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
