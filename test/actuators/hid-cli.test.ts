// `jpki-kiosk hid …` in process: the command builds the actuators from a config file and reports states
// and exit codes an installer can rely on.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../main/cli/hid-command.js';

let dir: string;
let stdout: string[];

function site(actuators: unknown): string {
  const file = join(dir, 'site.json');
  writeFileSync(file, JSON.stringify({ version: 1, profile: 'demo', actuators }));
  return file;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'jpki-hid-cli-'));
  stdout = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout.push(String(chunk));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
});

afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

describe('hid command', () => {
  it('status: software devices connect (exit 0); absent hardware is reported missing (exit 1)', async () => {
    const soft = site({ gate: { driver: 'software' }, signal: { driver: 'software' } });
    expect(await run(['status', '--config', soft, '--json'])).toBe(0);
    const status = JSON.parse(stdout.join(''));
    expect(status.gate.device.state).toBe('connected');
    expect(status.signal.device.state).toBe('connected');
    stdout.length = 0;
    const hw = site({ gate: { driver: 'usbrelay', serial: 'NOPE0' } });
    expect(await run(['status', '--config', hw, '--wait-ms', '300', '--json'])).toBe(1);
    expect(JSON.parse(stdout.join('')).gate.device).toMatchObject({
      state: 'missing',
      lastError: { code: 'HID_UNAVAILABLE' },
    });
  });

  it('pulse and signal work against the software devices; bad usage exits 2', async () => {
    const soft = site({ gate: { driver: 'software', pulseMs: 50 }, signal: { driver: 'software' } });
    expect(await run(['pulse', '--config', soft, '--json'])).toBe(0);
    expect(JSON.parse(stdout.join('')).closedAt).toMatch(/^\d{4}-/);
    expect(await run(['signal', 'idle', '--config', soft])).toBe(0);
    expect(await run(['signal', 'disco', '--config', soft])).toBe(2);
    expect(await run(['frobnicate'])).toBe(2);
  });

  it('list enumerates through node-hid without failing on a machine with no HID devices', async () => {
    expect(await run(['list', '--json'])).toBe(0);
    expect(Array.isArray(JSON.parse(stdout.join('')))).toBe(true);
  });
});
