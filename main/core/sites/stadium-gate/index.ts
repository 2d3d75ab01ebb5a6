// Stadium gate: ticket and zone checks with anti-passback; presence is the occupancy count.
import { siteFeatures } from '../../../../base/site-kinds.js';
import type { Decision } from '../../../../base/decision.js';
import { seatReceipt } from '../../printing/slips.js';
import type { SiteModule, SitePorts } from '../site-module.js';
import { decideStadium } from './policy.js';

/** A gate that hands out seat receipts prints one per admission with a seat: the public view only. */
function printSeatReceipt(decision: Decision, ports: SitePorts): void {
  const seat = decision.publicView.seat;
  if (!ports.config.printing.seatReceipt || decision.outcome !== 'admitted' || !seat) return;
  const zone = decision.publicView.zone;
  ports.printSlip(
    seatReceipt({ seat, gateId: decision.gateId, ...(zone ? { zone } : {}), at: decision.at }),
    'seat',
    decision.id,
  );
}

export const stadiumGate: SiteModule = {
  kind: 'stadium-gate',
  features: siteFeatures['stadium-gate'],
  passageAtGate: true,
  decide: decideStadium,
  afterCommit: (decision, _result, ports) => printSeatReceipt(decision, ports),
  occupancy: (ports) => {
    const row = ports
      .stores()
      .terminal.db.prepare("SELECT count(*) AS n FROM presence WHERE state = 'inside'")
      .get() as { n: number };
    return row.n;
  },
  staffCommands: () => ({}),
};
