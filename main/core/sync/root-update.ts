// At the start of each sync the terminal asks the hub for successors of the root of trust it holds
// (GET /v1/root?after=N, signed like every /v1 request) and follows them: each must be version + 1 and
// signed by the root keys of the one before (protocol/root-of-trust.ts). Only then are batches checked,
// against the publisher keys of the newest verified root. The hub is not trusted for any of it: a root
// it cannot sign with the current root keys is refused (ROOT_INVALID) and nothing changes.
import { KioskError } from '../../../base/errors.js';
import { MAX_ROOT_BYTES, MAX_ROOTS_PER_ANSWER } from '../../../protocol/root-of-trust.js';
import type { HubLink } from './link.js';
import { errorFrom, exchange, readAll } from './transport.js';

/** The terminal's root of trust as the sync module sees it (whitelist/root-store.ts). */
export interface RootSink {
  /** The trusted root's version (0: none pinned). */
  version(): number;
  /** Verifies and persists successors, all or none (ROOT_INVALID). */
  accept(successors: readonly Uint8Array[]): { from: number; to: number };
}

/** Most answers followed in one update (a year of monthly rotations is one answer). */
const MAX_ROUNDS = 8;

export class RootUpdater {
  private running: Promise<number> | null = null;

  constructor(
    private readonly link: HubLink,
    private readonly sink: RootSink,
  ) {}

  /** Fetches and follows successors; concurrent callers (one pull per feed) share one update. */
  run(): Promise<number> {
    this.running ??= this.update().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async update(): Promise<number> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const after = this.sink.version();
      const res = await exchange({
        base: this.link.base,
        method: 'GET',
        target: `/v1/root?after=${after}`,
        signer: this.link.signer,
        idleTimeoutMs: this.link.idleTimeoutMs,
        agent: this.link.agent,
        ...(this.link.ca ? { ca: this.link.ca } : {}),
      });
      // An error body is unsigned: its hubTime moves neither the clock guard nor data age.
      if (res.status !== 200) throw await errorFrom(res);
      const body = await readAll(res.body, MAX_ROOTS_PER_ANSWER * MAX_ROOT_BYTES * 2);
      let roots: Buffer[];
      try {
        const parsed = JSON.parse(body.toString('utf8')) as { roots?: unknown };
        if (!Array.isArray(parsed.roots) || parsed.roots.length > MAX_ROOTS_PER_ANSWER) throw new Error();
        roots = parsed.roots.map((r) => {
          if (typeof r !== 'string') throw new Error();
          return Buffer.from(r, 'base64');
        });
      } catch {
        throw new KioskError(
          'SYNC_PROTOCOL',
          'the hub answered /v1/root with something else than a list of roots',
        );
      }
      if (roots.length === 0) return after;
      this.sink.accept(roots);
      if (roots.length < MAX_ROOTS_PER_ANSWER) return this.sink.version();
    }
    return this.sink.version();
  }
}
