// 10,000+ hostile card answers, in process: bad DER lengths, truncated and oversized reads, random status
// words, 61xx/6Cxx games, empty and stalled answers. Every case must end in success or a typed
// KioskError within the command timeout, the forbidden AID is never sent, and memory stays bounded.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { ErrorCodes, KioskError } from '../../base/errors.js';
import {
  InProcessTransport,
  type InProcessCard,
  type InProcessReply,
} from '../../main/core/card/in-process-transport.js';
import { JpkiClient } from '../../main/core/card/jpki-client.js';
import { FORBIDDEN_AID } from '../../main/core/card/jpki.js';
import { indexOfBytes } from '../../main/core/card/apdu.js';
import { SimulatedCard } from '../../sim/card/simulated-card.js';
import { demoProfile } from '../support/demo-cards.js';
import { seededRandom } from '../support/seeded-random.js';

const MUTATIONS = [
  'random-sw',
  'truncate',
  'oversize',
  'der-length',
  'der-tag',
  'empty',
  'one-byte',
  'get-response',
  'wrong-le',
  'random-bytes',
  'stall',
] as const;
type Mutation = (typeof MUTATIONS)[number];

class HostileCard implements InProcessCard {
  readonly sent: Uint8Array[] = [];
  private n = 0;
  constructor(
    private readonly inner: SimulatedCard,
    private readonly target: number,
    private readonly mutation: Mutation,
    private readonly random: () => number,
    private readonly cannedSignature: Uint8Array,
  ) {}
  get atr() {
    return this.inner.atr;
  }
  reset() {
    this.inner.reset();
  }
  respond(command: Uint8Array): InProcessReply {
    this.sent.push(command);
    this.n++;
    // skip the real RSA work: the fuzz is about parsing answers, not about signing
    const base: InProcessReply =
      command[1] === 0x2a
        ? { kind: 'answer', bytes: this.cannedSignature, delayMs: 0 }
        : this.inner.respond(command);
    const hit = this.n === this.target || (this.target === 0 && this.random() < 0.3);
    if (!hit || base.kind !== 'answer') return base;
    const r = this.random;
    const bytes = base.bytes;
    const data = bytes.subarray(0, bytes.length - 2);
    const sw = bytes.subarray(bytes.length - 2);
    const int = (n: number) => Math.floor(r() * n);
    const out = (b: Uint8Array | number[]): InProcessReply => ({
      kind: 'answer',
      bytes: Uint8Array.from(b),
      delayMs: 0,
    });
    switch (this.mutation) {
      case 'random-sw':
        return out([...data, int(256), int(256)]);
      case 'truncate':
        return out([...data.subarray(0, int(data.length + 1)), ...sw]);
      case 'oversize':
        return out([...data, ...Array.from({ length: 1 + int(600) }, () => int(256)), ...sw]);
      case 'der-length': {
        const d = Uint8Array.from(data);
        if (d.length >= 4) {
          d[1] = [0x81, 0x82, 0x83, 0x84, 0x7f, 0x00, int(256)][int(7)]!;
          d[2] = int(256);
          d[3] = int(256);
        }
        return out([...d, ...sw]);
      }
      case 'der-tag': {
        const d = Uint8Array.from(data);
        if (d.length) d[0] = int(256);
        return out([...d, ...sw]);
      }
      case 'empty':
        return out([]);
      case 'one-byte':
        return out([int(256)]);
      case 'get-response':
        return out([...data, 0x61, int(256)]);
      case 'wrong-le':
        return out([0x6c, int(256)]);
      case 'random-bytes':
        return out(Array.from({ length: int(300) }, () => int(256)));
      case 'stall':
        return { kind: 'stall' };
    }
  }
}

describe('fuzz: hostile card answers', () => {
  it('10,000+ mutated answers all end in success or a typed error, within the timeout, memory bounded', async () => {
    const profile = await demoProfile('valid');
    const canned = new Uint8Array(258);
    canned[256] = 0x90;
    const codes = new Map<string, number>();
    let ok = 0;
    let cases = 0;
    let stalls = 0;
    const timeoutMs = 20;
    // A full collection before both readings, so the bound measures what the cases kept, not garbage
    // that V8 had not collected yet (vitest does not start node with --expose-gc).
    setFlagsFromString('--expose-gc');
    const collect = runInNewContext('gc') as () => void;
    collect();
    const heapBefore = process.memoryUsage().heapUsed;
    for (let seed = 1; cases < 10_500; seed++) {
      const random = seededRandom(seed);
      let mutation = MUTATIONS[Math.floor(random() * MUTATIONS.length)]!;
      if (mutation === 'stall' && stalls >= 100) mutation = 'random-sw'; // stalls cost the timeout each
      if (mutation === 'stall') stalls++;
      const target = Math.floor(random() * 14); // 0 = mutate ~30% of all answers
      const card = new HostileCard(
        new SimulatedCard({ ...profile, pins: { auth: { ...profile.pins.auth }, sign: null } }),
        target,
        mutation,
        random,
        canned,
      );
      const client = new JpkiClient(new InProcessTransport(card), { timeoutMs, maxGetResponse: 8 });
      const t0 = Date.now();
      try {
        await client.selectApplet();
        await client.readTokenInfo();
        await client.readAuthCertificate();
        await client.authPinTriesLeft();
        await client.verifyAuthPin('1234');
        await client.signSha256(new Uint8Array(32));
        ok++;
      } catch (error) {
        if (!(error instanceof KioskError))
          throw new Error(`seed ${seed} (${mutation}): untyped ${String(error)}`);
        expect(ErrorCodes).toContain(error.code);
        codes.set(error.code, (codes.get(error.code) ?? 0) + 1);
      }
      // No hang: one timeout at most per case; the slack absorbs a GC pause or a loaded CI machine.
      expect(Date.now() - t0, `seed ${seed} took too long`).toBeLessThan(timeoutMs * 2 + 1000);
      for (const sent of card.sent) expect(indexOfBytes(sent, FORBIDDEN_AID)).toBe(-1);
      cases++;
    }
    collect();
    const heapGrowthMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    expect(cases).toBeGreaterThanOrEqual(10_000);
    // the hostile answers were really hostile: most cases fail, in many different typed ways
    expect(ok).toBeLessThan(cases / 2);
    for (const code of ['CARD_MALFORMED', 'CARD_PROTOCOL', 'CARD_STATUS', 'CARD_TIMEOUT'])
      expect(codes.get(code) ?? 0, `${code} never seen: ${JSON.stringify([...codes])}`).toBeGreaterThan(0);
    expect(heapGrowthMb).toBeLessThan(64);
  }, 60_000);
});
