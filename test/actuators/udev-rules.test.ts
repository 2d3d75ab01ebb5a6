// The shipped udev rules: every rule carries a comment, uses only known keys with well-formed operators,
// and names exactly the USB ids the drivers match (a drifted id would leave a gate without access).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TOWER_PRODUCT_ID, TOWER_VENDOR_ID } from '../../main/core/actuators/signal-tower.js';
import { USBRELAY_PRODUCT_ID, USBRELAY_VENDOR_ID } from '../../main/core/actuators/usbrelay.js';

const text = readFileSync(join(import.meta.dirname, '../../build/udev/70-jpki-kiosk.rules'), 'utf8');
const lines = text.split('\n');
const rules = lines
  .map((line, i) => ({ line, i }))
  .filter(({ line }) => line.trim() && !line.startsWith('#'));
const KEYS = /^(SUBSYSTEM|ACTION|ENV\{[A-Z_]+\}|ATTRS?\{[A-Za-z_/]+\}|TEST|MODE|GROUP|TAG)$/;
const parse = (rule: string) =>
  rule.split(/,\s*/).map((part) => {
    const m = /^([A-Za-z_{}/]+)(==|!=|\+=|=)"([^"]*)"$/.exec(part.trim());
    if (!m) throw new Error(`malformed udev clause: ${part}`);
    return { key: m[1]!, op: m[2]!, value: m[3]! };
  });
const hex4 = (n: number) => n.toString(16).padStart(4, '0');

describe('build/udev/70-jpki-kiosk.rules', () => {
  it('has a comment right above every rule and only well-formed clauses with known keys', () => {
    expect(rules.length).toBeGreaterThanOrEqual(4);
    for (const { line, i } of rules) {
      expect(lines[i - 1]?.startsWith('#'), `rule on line ${i + 1} has no comment`).toBe(true);
      for (const clause of parse(line)) expect(clause.key).toMatch(KEYS);
    }
  });

  it('grants hidraw access to exactly the relay and tower ids the drivers match, never world-writable', () => {
    const hid = rules
      .map(({ line }) => parse(line))
      .filter((c) => c.some((x) => x.key === 'SUBSYSTEM' && x.value === 'hidraw'));
    const ids = hid.map((c) => {
      const get = (k: string) => c.find((x) => x.key === k)?.value;
      expect(get('MODE')).toBe('0660');
      expect(get('GROUP')).toBe('jpki-kiosk');
      return `${get('ATTRS{idVendor}')}:${get('ATTRS{idProduct}')}`;
    });
    expect(ids.sort()).toEqual(
      [
        `${hex4(USBRELAY_VENDOR_ID)}:${hex4(USBRELAY_PRODUCT_ID)}`,
        `${hex4(TOWER_VENDOR_ID)}:${hex4(TOWER_PRODUCT_ID)}`,
      ].sort(),
    );
  });

  it('gives pcscd the CCID readers', () => {
    const ccid = rules
      .map(({ line }) => parse(line))
      .filter((c) => c.some((x) => x.value.includes(':0b0000:')));
    expect(ccid.some((c) => c.some((x) => x.key === 'GROUP' && x.value === 'pcscd'))).toBe(true);
  });
});
