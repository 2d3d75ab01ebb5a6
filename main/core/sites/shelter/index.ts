// Evacuation shelter: check-in and check-out on one lane, a roster of who is inside (the occupancy
// count), and staff registration for an evacuee the whitelist does not know.
import type { Decision } from '../../../../base/decision.js';
import { KioskError } from '../../../../base/errors.js';
import { siteFeatures, type SiteKind } from '../../../../base/site-kinds.js';
import type { KioskConfig } from '../../../../config/load.js';
import type { CheckResult } from '../../check/pipeline.js';
import { shelterSlip } from '../../printing/slips.js';
import type { SiteModule, SitePorts } from '../site-module.js';
import { decideShelter } from './policy.js';
import type { IndexKey } from '../../../../whitelist/privacy.js';
import { RosterKeyLabel, ShelterRoster } from './roster.js';

function requireRoster(ports: SitePorts): ShelterRoster {
  const roster = ports.roster();
  if (!roster) throw new KioskError('NOT_AVAILABLE', 'this terminal keeps no shelter roster');
  return roster;
}

function recordInRoster(decision: Decision, result: CheckResult, ports: SitePorts): void {
  const roster = ports.roster();
  if (!roster || decision.outcome !== 'admitted' || result.policy?.repeat) return;
  const personRef = result.subject ?? result.serialRef;
  if (!personRef) return;
  const sv = decision.staffView;
  roster.record({
    personRef,
    ...(sv.displayName ? { displayName: sv.displayName } : {}),
    ...(sv.householdId ? { householdId: sv.householdId } : {}),
    ...(sv.careNeeds ? { careNeeds: sv.careNeeds } : {}),
    registered: Boolean(result.subject && sv.residentId),
    state: decision.direction === 'entry' ? 'inside' : 'out',
    at: Date.parse(decision.at),
  });
}

/** Opens the roster where this terminal may act as a shelter (configured, or selectable by staff). */
export function openShelterRoster(
  config: KioskConfig,
  selectable: readonly SiteKind[],
  indexKey: IndexKey,
): ShelterRoster | null {
  if (config.site.kind !== 'shelter' && !selectable.includes('shelter')) return null;
  return ShelterRoster.inDir(`${config.data.dir}/store`, indexKey.derive(RosterKeyLabel));
}

/** The roster as CSV in policy.shelter.rosterDir (works with no network). */
export function exportShelterRoster(ports: SitePorts): string {
  return requireRoster(ports).exportCsv(ports.config.policy.shelter.rosterDir, new Date(ports.now()));
}

/** A check-in (not a check-out, nor a repeated touch) hands the evacuee a slip when the site prints them. */
function printCheckInSlip(decision: Decision, result: CheckResult, ports: SitePorts): void {
  const slip = ports.config.printing.shelterSlip;
  if (!slip.enabled || decision.outcome !== 'admitted' || decision.direction !== 'entry') return;
  if (result.policy?.repeat) return;
  ports.printSlip(shelterSlip(decision, slip.fields), 'shelter', decision.id);
}

export const shelter: SiteModule = {
  kind: 'shelter',
  features: siteFeatures.shelter,
  passageAtGate: false,
  decide: decideShelter,
  afterCommit: (decision, result, ports) => {
    recordInRoster(decision, result, ports);
    printCheckInSlip(decision, result, ports);
  },
  occupancy: (ports) => ports.roster()?.summary().inside ?? null,
  staffCommands: (ports) => ({
    getRoster: async () => requireRoster(ports).summary(),
    registerPerson: async ({ decisionId, displayName, householdId, careNeeds }) => {
      const roster = requireRoster(ports);
      const entry = ports.findRecent(decisionId);
      const personRef = entry.subject ?? entry.serialRef;
      if (!personRef) throw new KioskError('INVALID_REQUEST', 'this decision has no person to register');
      const details = {
        displayName,
        ...(householdId ? { householdId } : {}),
        ...(careNeeds ? { careNeeds } : {}),
      };
      if (!roster.registerDetails(personRef, details)) {
        throw new KioskError(
          'INVALID_REQUEST',
          'this person is not on the roster (was the card admitted here?)',
        );
      }
      ports.changed();
      return { personRef };
    },
  }),
};
