// `jpki-kiosk sim card` + `jpki-kiosk card info --json` as separate processes against a private pcscd.
// Runs the built CLI (dist/, built by `npm test` / `npm run build`).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../config/paths.js';
import { demoCard } from '../../sim/pki/demo-pki.js';
import { demoCards } from '../support/demo-cards.js';
import { startPcscd, type PrivatePcscd } from '../support/pcscd.js';

const PORT = 36010;
const bin = join(projectRoot(), 'bin', 'jpki-kiosk.js');
let pcscd: PrivatePcscd;
let sim: ChildProcess | undefined;

function cli(args: string[]) {
  const result = spawnSync(process.execPath, [bin, ...args], {
    env: { ...process.env, ...pcscd.env, JPKI_LOG_LEVEL: 'silent' },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

beforeAll(async () => {
  expect(existsSync(join(projectRoot(), 'dist/main/demo/sim-command.js')), 'build first: npm run build').toBe(
    true,
  );
  await demoCards();
  pcscd = await startPcscd({ vpcdPorts: [PORT] });
}, 60_000);

afterAll(async () => {
  if (sim && sim.exitCode === null) {
    sim.kill('SIGTERM');
    await new Promise((r) => sim!.once('exit', r));
  }
});

describe('jpki-kiosk sim card / card info', () => {
  it('card info reports no card, then the valid card with its serial and 3 tries, twice in a row', async () => {
    const empty = JSON.parse(cli(['card', 'info', '--json']).stdout);
    expect(empty.pcsc).toBe('ready');
    expect(empty.readers.map((r: { name: string }) => r.name).sort()).toEqual(pcscd.readerNames(PORT));
    expect(empty.readers.every((r: { cardPresent: boolean }) => !r.cardPresent)).toBe(true);

    const endpoint = pcscd.endpoint(PORT);
    const address = 'path' in endpoint ? endpoint.path : `${endpoint.host}:${endpoint.port}`;
    sim = spawn(process.execPath, [bin, 'sim', 'card', '--card', 'valid', '--vpcd', address], {
      env: { ...process.env, JPKI_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let simErr = '';
    await new Promise<void>((resolve, reject) => {
      sim!.stderr!.on('data', (b: Buffer) => {
        simErr += b.toString();
        if (simErr.includes('inserted')) resolve();
      });
      sim!.once('exit', (code) => reject(new Error(`sim card exited ${code}: ${simErr}`)));
    });
    // pcscd sees the card at its next presence poll (every 400 ms, later on a loaded machine): ask until
    // it does rather than sleeping a fixed time.
    const reader0 = pcscd.readerNames(PORT)[0];
    const deadline = Date.now() + 20_000;
    for (;;) {
      const probe = cli(['card', 'info', '--json']);
      const seen =
        probe.code === 0 &&
        (JSON.parse(probe.stdout) as { readers: Array<{ name: string; cardPresent: boolean }> }).readers.some(
          (r) => r.name === reader0 && r.cardPresent,
        );
      if (seen) break;
      if (Date.now() > deadline)
        throw new Error(`card never seen by card info: ${probe.stdout} ${probe.stderr}`);
      await new Promise((r) => setTimeout(r, 200));
    }

    const expected = demoCard(await demoCards(), 'valid');
    for (let i = 0; i < 2; i++) {
      const run = cli(['card', 'info', '--json']);
      expect(run.code, run.stderr).toBe(0);
      const report = JSON.parse(run.stdout);
      const reader = report.readers.find((r: { name: string }) => r.name === pcscd.readerNames(PORT)[0]);
      expect(reader.cardPresent).toBe(true);
      expect(reader.card.cardType).toBe('my-number-card');
      expect(reader.card.certificate.serialHex).toBe(expected.serialHex);
      expect(reader.card.certificate.subject).toBe(`C=JP, CN=${expected.subjectCn}`);
      expect(reader.card.authPinTriesLeft).toBe(3);
    }
    sim.kill('SIGTERM');
    const code = await new Promise((r) => sim!.once('exit', r));
    expect(code).toBe(0);
    expect(simErr).toContain('removed');
  }, 90_000);

  it('sim card with an unknown demo name or no vpcd fails with a typed error', () => {
    const unknown = cli(['sim', 'card', '--card', 'no-such-card', '--vpcd', '127.0.0.1:1']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('INVALID_REQUEST');
    const badFault = cli(['sim', 'card', '--card', 'valid', '--wrong-sw', '3:XYZ', '--vpcd', '127.0.0.1:1']);
    expect(badFault.code).toBe(1);
    expect(badFault.stderr).toContain('--wrong-sw wants N:SW');
  });
});
