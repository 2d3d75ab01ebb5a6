// Convenience-store kiosk: a member's card opens a timed session; nothing of them stays after it.
import { siteFeatures } from '../../../../base/site-kinds.js';
import type { SiteModule } from '../site-module.js';
import { decideKiosk } from './policy.js';

export const convenienceKiosk: SiteModule = {
  kind: 'convenience-kiosk',
  features: siteFeatures['convenience-kiosk'],
  passageAtGate: false,
  decide: decideKiosk,
  afterCommit: (decision, result, ports) => {
    if (decision.outcome === 'admitted' && result.policy?.sessionSeconds)
      ports.openSession(decision.id, result.policy.sessionSeconds, result.serialRef);
  },
  occupancy: () => null,
  staffCommands: () => ({}),
};
