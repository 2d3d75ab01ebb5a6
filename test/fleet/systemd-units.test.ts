// The unit files in build/systemd/ pass `systemd-analyze verify` (build/setup.sh installs it). verify also
// checks that each ExecStart binary exists; this machine is not a kiosk, so binaries that only a kiosk has
// (cage, the packaged app under /opt) are pointed at /bin/true in a copy — every other directive, the
// dependencies between the units and the sandboxing options are checked as written.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../config/paths.js';

const ANALYZE = '/usr/bin/systemd-analyze';
const unitsDir = join(projectRoot(), 'build', 'systemd');
const units = readdirSync(unitsDir).filter((f) => f.endsWith('.service'));

describe('systemd units', () => {
  it('ships the kiosk, its watchdog and the hub, with state, log and watchdog settings', () => {
    expect(units).toEqual(
      expect.arrayContaining(['jpki-kiosk.service', 'jpki-kiosk-watchdog.service', 'jpki-kiosk-hub.service']),
    );
    const text = (u: string) => readFileSync(join(unitsDir, u), 'utf8');
    for (const u of ['jpki-kiosk.service', 'jpki-kiosk-hub.service']) {
      expect(text(u)).toMatch(/^StateDirectory=/m);
      expect(text(u)).toMatch(/^LogsDirectory=/m);
    }
    for (const u of ['jpki-kiosk-watchdog.service', 'jpki-kiosk-hub.service']) {
      expect(text(u)).toMatch(/^WatchdogSec=\d+/m);
      expect(text(u)).toMatch(/^NotifyAccess=all$/m);
    }
    expect(text('jpki-kiosk-hub.service')).toMatch(/--log-level info/);
  });

  // Visible in the report as skipped, with the reason, where the tool is missing.
  it.skipIf(!existsSync(ANALYZE))(
    `systemd-analyze verify passes${existsSync(ANALYZE) ? '' : ' (SKIPPED: systemd-analyze is not installed)'}`,
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'jpki-units-'));
      try {
        for (const u of units) {
          const copy = readFileSync(join(unitsDir, u), 'utf8')
            .replace(/\/usr\/bin\/cage\b/g, existsSync('/usr/bin/cage') ? '/usr/bin/cage' : '/bin/true')
            .replace(/\/opt\/jpki-kiosk\/jpki-kiosk\b/g, '/bin/true');
          writeFileSync(join(dir, u), copy);
        }
        const result = spawnSync(ANALYZE, ['verify', ...units.map((u) => join(dir, u))], {
          encoding: 'utf8',
        });
        expect(result.stderr.trim()).toBe('');
        expect(result.status).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it.skipIf(!existsSync(ANALYZE))('a broken unit is refused (the check can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'jpki-units-bad-'));
    try {
      writeFileSync(join(dir, 'bad.service'), '[Service]\nExecStart=relative/path\nWatchdogSec=soon\n');
      expect(() => execFileSync(ANALYZE, ['verify', join(dir, 'bad.service')], { stdio: 'pipe' })).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
