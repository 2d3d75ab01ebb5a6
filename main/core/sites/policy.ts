// The site policy for a tap: the selected kind's pure decision function.
import { siteModules } from './index.js';
import type { PolicyInput, PolicyResult } from './policy-types.js';

export type { PolicyInput, PolicyResult, PresenceRecord, PolicySite } from './policy-types.js';

export function decideForSite(input: PolicyInput): PolicyResult {
  return siteModules[input.site.kind].decide(input);
}
