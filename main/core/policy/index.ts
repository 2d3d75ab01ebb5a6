import { decideKiosk } from './kiosk.js';
import { decideReception } from './reception.js';
import { decideShelter } from './shelter.js';
import { decideStadium } from './stadium.js';
import type { PolicyInput, PolicyResult } from './types.js';

export type { PolicyInput, PolicyResult, PresenceRecord, PolicySite } from './types.js';

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
