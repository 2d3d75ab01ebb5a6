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
  /** A venue hub's delegation for this terminal's site (DELEGATION_INVALID otherwise). */
  acceptDelegation?(bytes: Uint8Array, site: string): unknown;
}

/** Most answers followed in one update (a year of monthly rotations is one answer). */
const MAX_ROUNDS = 8;

export class RootUpdater {
  private running: Promise<number> | null = null;

  constructor(
    private readonly sink: RootSink,
    /** This terminal's site: a venue hub's delegation is taken only for it. */
    private readonly site: string | null = null,
  ) {}

  /** Fetches and follows successors; concurrent callers (one pull per feed) share one update per hub. */
  run(link: HubLink): Promise<number> {
    if (this.runningFor !== link) this.running = null;
    this.runningFor = link;
    this.running ??= this.update(link).finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private runningFor: HubLink | null = null;

  private async update(link: HubLink): Promise<number> {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const after = this.sink.version();
      const res = await exchange({
        base: link.base,
        method: 'GET',
        target: `/v1/root?after=${after}`,
        signer: link.signer,
        idleTimeoutMs: link.idleTimeoutMs,
        agent: link.agent,
        ...(link.ca ? { ca: link.ca } : {}),
        ...(link.signal ? { signal: link.signal } : {}),
      });
      // An error body is unsigned: its hubTime moves neither the clock guard nor data age.
      if (res.status !== 200) throw await errorFrom(res);
      const body = await readAll(res.body, MAX_ROOTS_PER_ANSWER * MAX_ROOT_BYTES * 2);
      let roots: Buffer[];
      let delegation: Buffer | null = null;
      try {
        const parsed = JSON.parse(body.toString('utf8')) as { roots?: unknown; delegation?: unknown };
        if (typeof parsed.delegation === 'string') delegation = Buffer.from(parsed.delegation, 'base64');
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
      if (roots.length > 0) this.sink.accept(roots);
      // A venue hub hands out the root's delegation of its site: checked against the (new) root.
      if (delegation && this.site !== null && this.sink.acceptDelegation)
        this.sink.acceptDelegation(delegation, this.site);
      if (roots.length === 0) return after;
      if (roots.length < MAX_ROOTS_PER_ANSWER) return this.sink.version();
    }
    return this.sink.version();
  }
}
