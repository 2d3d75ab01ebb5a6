// The merge rules for remote configuration (protocol/remote-config.ts): which keys the hub may set, and
// the check a terminal runs before it applies a layer. Local-only keys — paths, secrets, devices, the
// hub's address and trust, the terminal's identity — are never taken from the hub: a hub (or whoever
// holds its publisher key) must not be able to point a kiosk at another hub, another HSM, a folder of its
// choosing or another staff PIN. Anything not allowed here is refused, the whole layer with it.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KioskError } from '../base/errors.js';
import { ConfigSchema } from './schema.js';

/** Key paths the hub may set (a path and everything under it), minus the local-only ones below. */
export const REMOTE_KEYS: readonly string[] = [
  'site.zone',
  'site.gateId',
  'site.direction',
  'site.language',
  'revocation',
  'policy',
  'ui.volume',
  'ui.resultHoldMs',
  'sync.pullIntervalSeconds',
  'sync.pushIntervalSeconds',
];

/** Never remote, even under an allowed path: folders the terminal writes to. */
export const LOCAL_ONLY_KEYS: readonly string[] = ['policy.hospital.folder', 'policy.shelter.rosterDir'];

function leafPaths(value: unknown, prefix: string): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [prefix];
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) return [prefix];
  return entries.flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

const under = (path: string, root: string) => path === root || path.startsWith(`${root}.`);

/** The keys of `layer` the hub may not set (empty: all allowed). */
export function refusedRemoteKeys(layer: Record<string, unknown>): string[] {
  return leafPaths(layer, '').filter(
    (p) => !REMOTE_KEYS.some((r) => under(p, r)) || LOCAL_ONLY_KEYS.some((l) => under(p, l)),
  );
}

type Json = Record<string, unknown>;

function merge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const prior = out[k];
    out[k] =
      prior &&
      typeof prior === 'object' &&
      !Array.isArray(prior) &&
      v &&
      typeof v === 'object' &&
      !Array.isArray(v)
        ? merge(prior as Json, v as Json)
        : v;
  }
  return out;
}

/**
 * Checks a remote layer against the rules and the schema, over the configuration running now (without
 * its `source`); CONFIG_INVALID naming the first problem otherwise. Returns the layer as checked.
 */
export function checkRemoteLayer(running: object, layer: Json): Json {
  const refused = refusedRemoteKeys(layer);
  if (refused.length > 0)
    throw new KioskError(
      'CONFIG_INVALID',
      `remote configuration may not set ${refused.join(', ')} (local only)`,
      {
        keys: refused,
      },
    );
  const { source: _source, ...current } = running as Json & { source?: unknown };
  const parsed = ConfigSchema.safeParse(merge(current, layer));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new KioskError(
      'CONFIG_INVALID',
      `remote configuration: key ${issue.path.join('.')}: ${issue.message}`,
      {
        keys: parsed.error.issues.map((i) => i.path.join('.')),
      },
    );
  }
  return layer;
}

export const REMOTE_CONFIG_FILE = 'remote-config.json';

/** The last good remote configuration, kept in the data folder (written atomically). */
export function saveRemoteConfig(dataDir: string, c: { version: number; layer: Json }): void {
  mkdirSync(dataDir, { recursive: true });
  const tmp = join(dataDir, `.${REMOTE_CONFIG_FILE}.tmp`);
  writeFileSync(tmp, JSON.stringify(c, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, join(dataDir, REMOTE_CONFIG_FILE));
}

/** The last good remote configuration, or null (none, or a file that no longer passes the rules). */
export function readRemoteConfig(dataDir: string): { version: number; layer: Json } | null {
  const file = join(dataDir, REMOTE_CONFIG_FILE);
  if (!existsSync(file)) return null;
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown; layer?: unknown };
    if (typeof c.version !== 'number' || !c.layer || typeof c.layer !== 'object') return null;
    if (refusedRemoteKeys(c.layer as Json).length > 0) return null;
    return { version: c.version, layer: c.layer as Json };
  } catch {
    return null;
  }
}
