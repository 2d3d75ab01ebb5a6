// The hubs a terminal may sync with, in order of preference (`sync.hubUrl`, then `sync.hubUrls`: e.g. the
// venue hub on the LAN, then the central hub). Each hub keeps the shared full-jitter backoff of
// base/supervisor.ts: an unreachable hub is passed over until its wait ends, the next one in order is
// used meanwhile, and the first hub whose wait is over is preferred again.
import http from 'node:http';
import https from 'node:https';
import type { Clock } from '../../../base/clock.js';
import { KioskError } from '../../../base/errors.js';
import { Backoff } from '../../../base/supervisor.js';
import type { RequestSigner } from '../../../protocol/http-signature.js';
import type { HubLink } from './link.js';

/** A failed hub is passed over for at least this long (then the backoff's full-jitter wait). */
const MIN_PASS_OVER_MS = 1_000;

interface Entry {
  link: HubLink;
  backoff: Backoff;
  retryAt: number;
}

export class HubChoice {
  private readonly entries: Entry[];
  private readonly stopping = new AbortController();

  constructor(
    urls: readonly string[],
    o: {
      signer: RequestSigner;
      idleTimeoutMs: number;
      ca?: Buffer;
      clock: Clock;
      random: () => number;
      noteHubTime: (hubTime: number, receivedAt: number) => void;
    },
  ) {
    const unique = [...new Set(urls)];
    if (unique.length === 0) throw new KioskError('CONFIG_INVALID', 'sync: no hub URL');
    this.entries = unique.map((url) => {
      let base: URL;
      try {
        base = new URL(url);
      } catch {
        throw new KioskError('CONFIG_INVALID', `sync.hubUrl is not a URL: ${url}`);
      }
      if (base.protocol !== 'http:' && base.protocol !== 'https:')
        throw new KioskError('CONFIG_INVALID', 'sync.hubUrl must be http: or https:');
      const agent =
        base.protocol === 'https:'
          ? new https.Agent({ keepAlive: true, maxSockets: 4, ...(o.ca ? { ca: o.ca } : {}) })
          : new http.Agent({ keepAlive: true, maxSockets: 4 });
      return {
        link: {
          base,
          agent,
          signer: o.signer,
          idleTimeoutMs: o.idleTimeoutMs,
          ...(o.ca ? { ca: o.ca } : {}),
          signal: this.stopping.signal,
          noteHubTime: o.noteHubTime,
        },
        backoff: new Backoff({ baseMs: 2_000, capMs: 60_000, random: o.random }),
        retryAt: 0,
      };
    });
    this.clock = o.clock;
  }

  private readonly clock: Clock;

  get links(): HubLink[] {
    return this.entries.map((e) => e.link);
  }

  /** The first hub in order that is not being passed over; if all are, the one whose wait ends first. */
  choose(): HubLink {
    const now = this.clock.now();
    const ready = this.entries.find((e) => e.retryAt <= now);
    if (ready) return ready.link;
    return this.entries.reduce((a, b) => (b.retryAt < a.retryAt ? b : a)).link;
  }

  ok(link: HubLink): void {
    const index = this.entries.findIndex((x) => x.link === link);
    const e = this.entries[index];
    if (!e) return;
    e.backoff.reset();
    e.retryAt = 0;
    this.lastAnswer = { index, at: this.clock.now() };
  }

  private lastAnswer: { index: number; at: number } | null = null;

  /**
   * The hub that answered last (staff see whether the gate talks to the venue hub or, failed over, to
   * the central one), its place in the order and how many there are; null before any hub answered.
   */
  active(): { url: string; index: number; of: number; answeredAt: number } | null {
    if (!this.lastAnswer) return null;
    const { index, at } = this.lastAnswer;
    return { url: this.entries[index]!.link.base.href, index, of: this.entries.length, answeredAt: at };
  }

  failed(link: HubLink): void {
    const e = this.entries.find((x) => x.link === link);
    if (!e) return;
    e.retryAt = this.clock.now() + Math.max(MIN_PASS_OVER_MS, e.backoff.fail());
  }

  /** Closes kept-alive connections that no request is using (the next request opens a new one). */
  closeIdle(): void {
    for (const e of this.entries)
      for (const sockets of Object.values(e.link.agent.freeSockets))
        for (const socket of sockets ?? []) socket.destroy();
  }

  destroy(): void {
    this.stopping.abort();
    for (const e of this.entries) e.link.agent.destroy();
  }
}
