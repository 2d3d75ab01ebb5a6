// Hospital reception: shows the insurance qualification to staff, who hand it to the reception system
// as a FHIR Coverage resource (a URL, a folder, or nowhere, per policy.hospital.output).
import { KioskError } from '../../../../base/errors.js';
import { siteFeatures } from '../../../../base/site-kinds.js';
import { receptionSlip } from '../../printing/slips.js';
import type { SiteModule } from '../site-module.js';
import { coverageFromDecision, postCoverage, writeCoverageToFolder } from './fhir.js';
import { decideReception } from './policy.js';

export const hospitalReception: SiteModule = {
  kind: 'hospital-reception',
  features: siteFeatures['hospital-reception'],
  passageAtGate: false,
  decide: decideReception,
  // The patient's slip once the qualification is confirmed; only the fields the site lists.
  afterCommit: (decision, _result, ports) => {
    const slip = ports.config.printing.receptionSlip;
    if (!slip.enabled || decision.outcome !== 'admitted') return;
    ports.printSlip(receptionSlip(decision, slip.fields), 'reception', decision.id);
  },
  occupancy: () => null,
  staffCommands: (ports) => ({
    sendToReception: async ({ decisionId }) => {
      const entry = ports.findRecent(decisionId);
      const resource = coverageFromDecision(entry.decision, ports.config.site.terminalId);
      const out = ports.config.policy.hospital;
      if (out.output === 'url' && out.url)
        return { decisionId, destination: out.url, reference: await postCoverage(resource, out.url) };
      if (out.output === 'none') throw new KioskError('NOT_AVAILABLE', 'no reception system is configured');
      const file = writeCoverageToFolder(resource, out.folder);
      return { decisionId, destination: out.folder, reference: file };
    },
  }),
};
