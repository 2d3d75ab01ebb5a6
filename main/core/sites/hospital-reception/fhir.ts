// Hospital reception output: the qualification result as an HL7 FHIR R4 `Coverage` resource. FHIR is
// what Japanese electronic-medical-record vendors are converging on (JP Core defines a Coverage profile),
// it is plain JSON that any reception system can read from a folder or accept over HTTP, and it carries
// exactly the fields reception needs: insurer, symbol/number/branch, co-pay, period and status.
import { join } from 'node:path';
import type { Decision, InsuranceDetails } from '../../../../base/decision.js';
import { KioskError } from '../../../../base/errors.js';
import { writeOwnerOnly } from '../private-files.js';

/** JP Core code systems for the insurer number and the insured card's symbol and number. */
const JP_INSURER_SYSTEM = 'urn:oid:1.2.392.100495.20.3.61';
const JP_SYMBOL_SYSTEM = 'urn:oid:1.2.392.100495.20.3.62';
const JP_NUMBER_SYSTEM = 'urn:oid:1.2.392.100495.20.3.63';
const JP_BRANCH_SYSTEM = 'urn:oid:1.2.392.100495.20.3.64';

export interface CoverageResource {
  resourceType: 'Coverage';
  id: string;
  meta: { lastUpdated: string };
  status: 'active' | 'cancelled' | 'draft' | 'entered-in-error';
  identifier: { system: string; value: string }[];
  beneficiary: { identifier: { system: string; value: string } };
  payor: { identifier: { system: string; value: string } }[];
  period?: { start?: string; end?: string };
  costToBeneficiary?: { type: { text: string }; valueQuantity: { value: number; unit: '%' } }[];
  extension: { url: string; valueString: string }[];
}

export function coverageFromDecision(decision: Decision, terminalId: string): CoverageResource {
  const insurance: InsuranceDetails | undefined = decision.staffView.insurance;
  if (!insurance || insurance.status === 'not_found' || !insurance.insurerNumber) {
    throw new KioskError('INVALID_REQUEST', 'this decision carries no insurance qualification to send');
  }
  const identifiers = [
    ...(insurance.symbol ? [{ system: JP_SYMBOL_SYSTEM, value: insurance.symbol }] : []),
    ...(insurance.number ? [{ system: JP_NUMBER_SYSTEM, value: insurance.number }] : []),
    ...(insurance.branch ? [{ system: JP_BRANCH_SYSTEM, value: insurance.branch }] : []),
  ];
  return {
    resourceType: 'Coverage',
    id: decision.id,
    meta: { lastUpdated: decision.at },
    // FHIR has no "superseded": cancelled is what a receiving system must not bill against.
    status: insurance.status === 'valid' ? 'active' : 'cancelled',
    identifier: identifiers,
    beneficiary: {
      identifier: { system: 'urn:jpki-kiosk:subject', value: decision.staffView.subjectId ?? 'unknown' },
    },
    payor: [{ identifier: { system: JP_INSURER_SYSTEM, value: insurance.insurerNumber } }],
    ...(insurance.validFrom || insurance.validTo
      ? {
          period: {
            ...(insurance.validFrom ? { start: insurance.validFrom } : {}),
            ...(insurance.validTo ? { end: insurance.validTo } : {}),
          },
        }
      : {}),
    ...(insurance.copayRatio !== undefined
      ? {
          costToBeneficiary: [
            {
              type: { text: '一部負担金割合' },
              valueQuantity: { value: Math.round(insurance.copayRatio * 100), unit: '%' },
            },
          ],
        }
      : {}),
    extension: [
      { url: 'urn:jpki-kiosk:qualification-status', valueString: insurance.status },
      { url: 'urn:jpki-kiosk:terminal', valueString: terminalId },
    ],
  };
}

/** Writes the resource atomically enough for a folder watcher: a temp name, then the final name. */
export function writeCoverageToFolder(resource: CoverageResource, folder: string): string {
  // Insurance numbers: owner-only folder and file (the reception system reads them as the same user).
  const file = join(folder, `coverage-${resource.id}.json`);
  writeOwnerOnly(file, JSON.stringify(resource, null, 2));
  return file;
}

export async function postCoverage(resource: CoverageResource, url: string): Promise<string> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/fhir+json' },
    body: JSON.stringify(resource),
    signal: AbortSignal.timeout(5000),
  }).catch((error: unknown) => {
    throw new KioskError(
      'SYNC_UNREACHABLE',
      `reception system at ${url} is unreachable: ${(error as Error).message}`,
    );
  });
  if (!response.ok) throw new KioskError('SYNC_REFUSED', `reception system answered ${response.status}`);
  return response.headers.get('location') ?? url;
}
