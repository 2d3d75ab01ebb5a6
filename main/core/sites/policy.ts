import { decideKiosk } from './convenience-kiosk/policy.js';
import { decideReception } from './hospital-reception/policy.js';
import { decideShelter } from './shelter/policy.js';
import { decideStadium } from './stadium-gate/policy.js';
import type { PolicyInput, PolicyResult } from './policy-types.js';

export type { PolicyInput, PolicyResult, PresenceRecord, PolicySite } from './policy-types.js';

export function decideForSite(input: PolicyInput): PolicyResult {
  switch (input.site.kind) {
    case 'stadium-gate':
      return decideStadium(input);
    case 'hospital-reception':
      return decideReception(input);
    case 'shelter':
      return decideShelter(input);
    case 'convenience-kiosk':
      return decideKiosk(input);
  }
}
