// What a retired terminal removes once the hub's signed push reply ordered it retired and acknowledged
// its whole journal (client.ts): the whitelist (personal entitlements), the shelter roster (its database
// in the store folder) and the
// outputs it wrote (roster CSV exports, hospital reception hand-offs). The journal stays: it is the
// audit record the hub already holds, and the revocation list holds no personal data. The stores are
// closed first, so the terminal stops deciding; it stays out of service (TERMINAL_RETIRED).
import { readdirSync, rmSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { KioskConfig } from '../../../config/load.js';
import { getLogger } from '../../../base/log.js';

const log = getLogger('sync');

export interface WipeResult {
  removed: string[];
}

export function wipePersonalData(config: KioskConfig, storeDir: string): WipeResult {
  const removed: string[] = [];
  const remove = (path: string) => {
    rmSync(path, { recursive: true, force: true });
    removed.push(path);
  };
  let names: string[] = [];
  try {
    names = readdirSync(storeDir);
  } catch {
    // no stores yet: nothing to remove there
  }
  for (const name of names)
    if (name.startsWith('whitelist') || name.startsWith('shelter-roster')) remove(join(storeDir, name));
  // An output folder configured as (or above) the store folder would take the journal with it: skipped.
  const holdsStore = (dir: string) => {
    const r = relative(resolve(dir), resolve(storeDir));
    return r === '' || (!r.startsWith('..') && !isAbsolute(r));
  };
  for (const dir of [config.policy.shelter.rosterDir, config.policy.hospital.folder])
    if (holdsStore(dir)) log.error({ dir }, 'retire: an output folder holds the stores; not removed');
    else remove(dir);
  log.warn({ removed: removed.length }, 'retired: personal data wiped');
  return { removed };
}
