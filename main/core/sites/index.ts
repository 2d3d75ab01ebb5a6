// The site kinds, one module each, keyed by the one list in base/site-kinds.ts.
import { SiteKinds, type SiteKind } from '../../../base/site-kinds.js';
import { convenienceKiosk } from './convenience-kiosk/index.js';
import { hospitalReception } from './hospital-reception/index.js';
import { shelter } from './shelter/index.js';
import type { SiteModule, SitePorts, SiteStaffCommands } from './site-module.js';
import { stadiumGate } from './stadium-gate/index.js';

export const siteModules: Record<SiteKind, SiteModule> = {
  'stadium-gate': stadiumGate,
  'hospital-reception': hospitalReception,
  shelter,
  'convenience-kiosk': convenienceKiosk,
};

/**
 * Every kind's staff commands: a terminal that staff may switch between kinds answers all of them,
 * and each command says NOT_AVAILABLE itself when what it needs (a roster, a reception system) is absent.
 */
export function siteStaffCommands(ports: SitePorts): Required<SiteStaffCommands> {
  return Object.assign(
    {},
    ...SiteKinds.map((kind) => siteModules[kind].staffCommands(ports)),
  ) as Required<SiteStaffCommands>;
}

export { exportShelterRoster, openShelterRoster } from './shelter/index.js';
export type { RecentView, SiteModule, SitePorts, SiteStaffCommands } from './site-module.js';
export type { PolicyInput, PolicyResult, PresenceRecord, PolicySite } from './policy-types.js';
