import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLoggerTo, logRef } from '../../base/log.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { logger: createLoggerTo(stream), lines };
}

describe('log redaction', () => {
  it('never writes PINs, APDU payloads or secrets', () => {
    const { logger, lines } = capture();
    logger.info(
      { pin: '1234', apdu: '00200080043132333434', ctx: { userPin: '987654', command: '802A0080' } },
      'verify',
    );
    const text = lines.join('');
    expect(text).not.toContain('1234');
    expect(text).not.toContain('987654');
    expect(text).not.toContain('802A0080');
    expect(text).toContain('[redacted]');
  });

  it('replaces certificate serials with a keyed reference that still correlates', () => {
    const { logger, lines } = capture();
    logger.info({ serial: '0A1B2C3D' }, 'first');
    logger.info({ card: { serial: '0A1B2C3D' } }, 'second');
    const [first, second] = lines.map((l) => JSON.parse(l) as { serial?: string; card?: { serial: string } });
    expect(lines.join('')).not.toContain('0A1B2C3D');
    expect(first!.serial).toBe(`ref:${logRef('0A1B2C3D')}`);
    expect(second!.card!.serial).toBe(first!.serial);
    expect(logRef('0A1B2C3E')).not.toBe(logRef('0A1B2C3D'));
  });
});
