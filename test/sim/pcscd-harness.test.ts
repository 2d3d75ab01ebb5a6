import { generateKeyPairSync } from 'node:crypto';
/* eslint-disable @typescript-eslint/no-explicit-any -- raw pcsclite binding has no useful types */
import { describe, expect, it } from 'vitest';
import { SimulatedCard } from '../../sim/card/simulated-card.js';
import { insertCard, startPcscd } from '../support/pcscd.js';
import { openPcsc } from '../support/pcsc-client.js';

function tinyCard() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const cert = new Uint8Array(1200);
  cert.set([0x30, 0x82, 0x04, 0xac]);
  return new SimulatedCard({
    name: 'tiny',
    atr: Buffer.from('3b888001000005e0b381a1007f', 'hex'),
    tokenLabel: 'JPKIAPICCTOKEN2',
    authCert: cert,
    authCaCert: cert,
    signCaCert: null,
    authKey: privateKey,
    pins: { auth: { value: '1234', triesLeft: 3, maxTries: 3 }, sign: null },
    timing: { preset: 'instant' },
  });
}

describe('private pcscd harness', () => {
  it('runs pcscd with its own readers and socket; a virtual card answers through vpcd without the 45 ms artefact', async () => {
    const pcscd = await startPcscd({ vpcdPorts: [36090] });
    expect(process.env.PCSCLITE_CSOCK_NAME).toBe(pcscd.socketPath);
    await insertCard(pcscd, 36090, tinyCard());
    const pcsc = openPcsc();
    const readers: any[] = [];
    const result = await new Promise<{ names: string[]; resp: string; perApduMs: number }>(
      (resolve, reject) => {
        const names: string[] = [];
        pcsc.on('error', reject);
        pcsc.on('reader', (r: any) => {
          names.push(r.name);
          readers.push(r);
          r.on('error', () => undefined);
          r.on('status', (s: any) => {
            if (r.name === pcscd.readerNames(36090)[0] && s.state & r.SCARD_STATE_PRESENT && !r.connected) {
              r.connect({ share_mode: r.SCARD_SHARE_SHARED }, (err: any, proto: number) => {
                if (err) return reject(err);
                const sel = Buffer.from('00a4040c0ad392f000260100000001', 'hex');
                const t0 = performance.now();
                let n = 0;
                const loop = () =>
                  r.transmit(sel, 258, proto, (e: any, d: Buffer) => {
                    if (e) return reject(e);
                    if (++n < 40) return loop();
                    resolve({ names, resp: d.toString('hex'), perApduMs: (performance.now() - t0) / 40 });
                  });
                loop();
              });
            }
          });
        });
      },
    );
    for (const r of readers) r.close();
    pcsc.close();
    expect(result.names.sort()).toEqual(pcscd.readerNames(36090));
    expect(result.resp).toBe('9000');
    // Nagle + delayed ACK would make this ~45 ms; the private namespace's quickack route removes it.
    expect(result.perApduMs).toBeLessThan(20);
    await pcscd.stop();
  });
});
