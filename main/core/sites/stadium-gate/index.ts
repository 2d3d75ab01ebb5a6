// Stadium gate: ticket and zone checks with anti-passback; presence is the occupancy count.
import { siteFeatures } from '../../../../base/site-kinds.js';
import type { SiteModule } from '../site-module.js';
import { decideStadium } from './policy.js';

export const stadiumGate: SiteModule = {
  kind: 'stadium-gate',
  features: siteFeatures['stadium-gate'],
  passageAtGate: true,
  decide: decideStadium,
  afterCommit: () => undefined,
  occupancy: (ports) => {
    const row = ports
      .stores()
      .terminal.db.prepare("SELECT count(*) AS n FROM presence WHERE state = 'inside'")
      .get() as { n: number };
    return row.n;
  },
  staffCommands: () => ({}),
};
