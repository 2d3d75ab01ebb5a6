// Each suite is loaded only when selected (`--only card,hsm`). A suite returns metrics named
// `<suite>.<metric>`; units are in the name (`_ms`, `_us`, `_per_s`, `_mb`).
import type { BenchSuite } from './harness.js';

export const suites: Record<string, () => Promise<BenchSuite>> = {
  harness: () => import('./harness-self.js'),
  actuators: () => import('./actuators.js'),
  auth: () => import('./auth.js'),
  card: () => import('./card.js'),
  hsm: () => import('./hsm.js'),
  sync: () => import('./sync.js'),
  hubscale: () => import('./hub-scale.js'),
  hubpublish: () => import('./hub-publish.js'),
  whitelist: () => import('./whitelist.js'),
  venue: () => import('./venue.js'),
  national: () => import('./national.js'),
  ui: () => import('./ui.js'),
};
