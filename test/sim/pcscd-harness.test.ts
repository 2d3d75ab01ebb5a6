import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
/* eslint-disable @typescript-eslint/no-explicit-any -- raw pcsclite binding has no useful types */
import { describe, expect, it } from 'vitest';
import { SimulatedCard } from '../../sim/card/simulated-card.js';
import { insertCard, startPcscd, type PrivatePcscd } from '../support/pcscd.js';
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

let pcscd: PrivatePcscd;
let first: SimulatedCard;

describe('private pcscd harness', () => {
  it('runs pcscd with its own readers and socket and a quickack loopback; a virtual card answers through vpcd', async () => {
    pcscd = await startPcscd({ vpcdPorts: [36090, 36092] });
    expect(process.env.PCSCLITE_CSOCK_NAME).toBe(pcscd.socketPath);
    first = tinyCard();
    await insertCard(pcscd, 36090, first);
    const pcsc = openPcsc();
    const readers: any[] = [];
    const result = await new Promise<{ names: string[]; resp: string }>((resolve, reject) => {
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
              let n = 0;
              const loop = () =>
                r.transmit(sel, 258, proto, (e: any, d: Buffer) => {
                  if (e) return reject(e);
                  if (++n < 40) return loop();
                  resolve({ names, resp: d.toString('hex') });
                });
              loop();
            });
          }
        });
      });
    });
    for (const r of readers) r.close();
    pcsc.close();
    expect(result.names.sort()).toEqual([...pcscd.readerNames(36090), ...pcscd.readerNames(36092)].sort());
    expect(result.resp).toBe('9000');
    // Nagle + delayed ACK would cost ~45 ms per APDU; the private namespace's quickack route removes it.
    // Checked here as a fact about the namespace, not as a time: latency is measured by bench/card.ts
    // ('pcscd' against 'artefact'), never asserted in a timed test on a shared machine.
    const holder = readFileSync(join(pcscd.dir, 'holder.pid'), 'utf8').trim();
    const routes = spawnSync('nsenter', ['-t', holder, '-n', 'ip', 'route', 'show', 'table', 'local'], {
      encoding: 'utf8',
    });
    expect(routes.status, routes.stderr).toBe(0);
    expect(routes.stdout).toMatch(/^local 127\.0\.0\.1 .*quickack 1/m);
  });

  it('keeps two vpcd entries apart (own driver copies) while pcscd polls a slow card', async () => {
    // one process, one pcscd socket: the same daemon; its second entry, and the first entry's other slot
    const firstSeen = first.applet.audit.commands;
    const a = tinyCard();
    const b = tinyCard();
    // 250 ms per command: most commands overlap pcscd's 400 ms GET ATR presence poll
    a.timing = { perByteUs: 0, perCommandMs: 250, signMs: 0 };
    await insertCard(pcscd, 36092, a);
    await insertCard(pcscd, 36091, b);
    const pcsc = openPcsc();
    const readers: any[] = [];
    const answers = await new Promise<string[]>((resolve, reject) => {
      pcsc.on('error', reject);
      pcsc.on('reader', (r: any) => {
        readers.push(r);
        r.on('error', () => undefined);
        r.on('status', (st: any) => {
          if (r.name !== pcscd.readerNames(36092)[0] || !(st.state & r.SCARD_STATE_PRESENT) || r.connected)
            return;
          r.connect({ share_mode: r.SCARD_SHARE_SHARED }, (err: any, proto: number) => {
            if (err) return reject(err);
            const out: string[] = [];
            const apdus = ['00a4040c0ad392f000260100000001', '00a4020c02000a', '00b0000004'];
            const loop = (i: number) =>
              r.transmit(Buffer.from(apdus[i % 3]!, 'hex'), 258, proto, (e: any, d: Buffer) => {
                if (e) return reject(e);
                out.push(d.toString('hex'));
                if (i + 1 < 9) loop(i + 1);
                else resolve(out);
              });
            loop(0);
          });
        });
      });
    });
    for (const r of readers) r.close();
    pcsc.close();
    // every answer is the card's own, never the ATR of another reader's presence poll
    for (let i = 0; i < answers.length; i++) expect(answers[i]).toBe(i % 3 === 2 ? '308204ac9000' : '9000');
    // the cards in the other entry saw none of these commands
    expect(b.applet.audit.commands).toBe(0);
    expect(first.applet.audit.commands).toBe(firstSeen);
    expect(a.applet.audit.commands).toBe(9);
  });
});
