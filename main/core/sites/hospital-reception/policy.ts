// Hospital reception: the insurance qualification for staff — valid, expired, not found, superseded —
// with insurer number, symbol, number, branch, co-pay ratio and validity.
import type { InsuranceDetails } from '../../../../base/decision.js';
import type { Entitlement } from '../../../../whitelist/entitlements.js';
import type { PolicyInput, PolicyResult } from '../policy-types.js';

type Insurance = Extract<Entitlement, { kind: 'insurance' }>;

function localDate(now: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** valid / expired by date or by status; superseded when a newer qualification replaced this one. */
export function insuranceStatus(entitlement: Insurance, today: string): InsuranceDetails['status'] {
  if (entitlement.status === 'superseded') return 'superseded';
  if (entitlement.status === 'expired') return 'expired';
  if (today < entitlement.validFrom) return 'expired';
  if (entitlement.validTo !== undefined && today > entitlement.validTo) return 'expired';
  return 'valid';
}

export function toInsuranceDetails(
  entitlement: Insurance,
  status: InsuranceDetails['status'],
): InsuranceDetails {
  return {
    status,
    insurerNumber: entitlement.insurerNumber,
    ...(entitlement.symbol !== undefined ? { symbol: entitlement.symbol } : {}),
    number: entitlement.number,
    ...(entitlement.branch !== undefined ? { branch: entitlement.branch } : {}),
    copayRatio: entitlement.copayRatio,
    validFrom: entitlement.validFrom,
    ...(entitlement.validTo !== undefined ? { validTo: entitlement.validTo } : {}),
  };
}

export function decideReception(input: PolicyInput): PolicyResult {
  const today = localDate(input.now);
  const common = { direction: 'entry' as const, presenceChange: null, repeat: false };
  const insurances = (input.record?.entitlements ?? []).filter((e): e is Insurance => e.kind === 'insurance');
  if (insurances.length === 0) {
    const insurance: InsuranceDetails = { status: 'not_found' };
    return {
      ...common,
      outcome: 'refused',
      reasons: ['not_registered'],
      publicView: { headline: 'not_registered' },
      staffView: { ...(input.record ? { subjectId: input.record.subject } : {}), insurance },
      insurance,
    };
  }
  // A valid qualification wins; otherwise show the most recent one with its status.
  const ranked = insurances
    .map((e) => ({ e, status: insuranceStatus(e, today) }))
    .sort((a, b) =>
      a.status === 'valid' ? -1 : b.status === 'valid' ? 1 : b.e.validFrom.localeCompare(a.e.validFrom),
    );
  const { e, status } = ranked[0]!;
  const insurance = toInsuranceDetails(e, status);
  const staffView = { subjectId: input.record!.subject, insurance };
  if (status === 'valid') {
    return {
      ...common,
      outcome: 'admitted',
      reasons: ['ok'],
      publicView: { headline: 'ok' },
      staffView,
      insurance,
    };
  }
  if (status === 'superseded') {
    // A newer qualification exists elsewhere: staff confirm it with the patient.
    return {
      ...common,
      outcome: 'staff',
      reasons: ['entitlement_superseded'],
      publicView: { headline: 'entitlement_superseded' },
      staffView,
      insurance,
    };
  }
  return {
    ...common,
    outcome: 'refused',
    reasons: ['entitlement_expired'],
    publicView: { headline: 'entitlement_expired' },
    staffView,
    insurance,
  };
}
