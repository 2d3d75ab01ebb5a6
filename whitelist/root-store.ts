// The terminal's root of trust (protocol/root-of-trust.ts): the root the operator pinned
// (sync.rootPath) and the newest verified successor, persisted in the data folder (root.json) so that a
// rotation survives a restart and an older root can never be reinstated by the hub or by a copy of the
// configured file. The publisher keys every signed blob is checked against come from here.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KioskError } from '../base/errors.js';
import type { PublisherTrust } from '../protocol/feed-format.js';
import { followRoots, openPinnedRoot, trustFromRoot, type RootOfTrust } from '../protocol/root-of-trust.js';
import { openDelegation, withDelegation, type Delegation } from '../protocol/delegation.js';
import { writeFileAtomic } from './feed-file.js';
import { checkTrustFile } from '../config/secrets.js';

export class RootStore {
  private root: RootOfTrust | null = null;
  /** A venue hub's delegation for this terminal's site, verified against `root` (kept in memory). */
  private delegation: { bytes: Uint8Array; site: string; opened: Delegation; rootVersion: number } | null =
    null;
  private readonly file: string;
  private readonly dir: string;

  /**
   * `pinned`: the configured root's bytes, read when first needed (null: none configured). The data
   * folder's root.json, verified when it was stored, wins when its version is at least the pinned one.
   */
  constructor(
    dataDir: string,
    private pinned: () => Buffer | null,
  ) {
    this.dir = dataDir;
    this.file = join(dataDir, 'root.json');
  }

  /** The trusted root, or null when none is pinned yet. */
  current(): RootOfTrust | null {
    if (this.root) return this.root;
    let stored: RootOfTrust | null = null;
    if (existsSync(this.file)) {
      checkTrustFile(this.file, 'pinned hub root');
      try {
        stored = openPinnedRoot(readFileSync(this.file));
      } catch (error) {
        throw new KioskError(
          'STORE_CORRUPT',
          `${this.file}: the stored root of trust is damaged`,
          undefined,
          {
            cause: error,
          },
        );
      }
    }
    const bytes = this.pinned();
    const configured = bytes ? openPinnedRoot(bytes) : null;
    this.root = stored && (!configured || stored.version >= configured.version) ? stored : configured;
    return this.root;
  }

  /**
   * Enrolment kept a hub's root where the configuration had pinned none: that root is the configured one
   * from now on, as it will be at the next start. A stored successor still wins (current()).
   */
  repin(pinned: () => Buffer | null): void {
    this.pinned = pinned;
    this.root = null;
  }

  version(): number {
    return this.current()?.version ?? 0;
  }

  /**
   * Follows signed successors of the trusted root (each root-signed, version + 1); all of them or none
   * (ROOT_INVALID, nothing changed). Persists the newest durably before it is used.
   */
  accept(successors: readonly Uint8Array[]): { from: number; to: number } {
    const trusted = this.require();
    if (successors.length === 0) return { from: trusted.version, to: trusted.version };
    const next = followRoots(trusted, successors);
    writeFileAtomic(this.file, next.bytes, this.dir);
    this.root = next;
    return { from: trusted.version, to: next.version };
  }

  /**
   * Takes a venue hub's delegation (protocol/delegation.ts): signed by the trusted root's root keys, for
   * this terminal's `site`, valid now — DELEGATION_INVALID otherwise, and the one held is kept.
   */
  acceptDelegation(bytes: Uint8Array, site: string, now: number = Date.now()): Delegation {
    const root = this.require();
    const opened = openDelegation(bytes, root, { site, now });
    this.delegation = { bytes, site, opened, rootVersion: root.version };
    return opened;
  }

  /** The publisher keys of the trusted root (ROOT_EXPIRED past its expiry), and a venue key if delegated. */
  trust(now: number = Date.now()): PublisherTrust {
    const root = this.require();
    const base = trustFromRoot(root, now);
    const d = this.delegation;
    if (d && d.rootVersion !== root.version) {
      // A new root: the delegation holds only if that root's keys signed it too.
      try {
        this.delegation = {
          ...d,
          opened: openDelegation(d.bytes, root, { site: d.site, now }),
          rootVersion: root.version,
        };
      } catch {
        this.delegation = null;
      }
    }
    return withDelegation(base, this.delegation?.opened ?? null, now);
  }

  private require(): RootOfTrust {
    const root = this.current();
    if (!root)
      throw new KioskError('CONFIG_INVALID', 'sync.rootPath is not set: no publisher is trusted for deltas');
    return root;
  }
}
