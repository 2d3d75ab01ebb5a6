// Convenience-store kiosk: a card-authenticated session with a timeout for a member.
import type { Entitlement } from '../../../../whitelist/entitlements.js';
import type { PolicyInput, PolicyResult } from '../policy-types.js';

type Member = Extract<Entitlement, { kind: 'member' }>;

export function decideKiosk(input: PolicyInput): PolicyResult {
  const common = { direction: 'entry' as const, presenceChange: null, repeat: false };
  const member = (input.record?.entitlements ?? []).find((e): e is Member => e.kind === 'member');
  if (!member)
    return {
      ...common,
      outcome: 'refused',
      reasons: ['not_registered'],
      publicView: { headline: 'not_registered' },
      staffView: {},
    };
  const today = input.now.toISOString().slice(0, 10);
  if (member.validTo !== undefined && today > member.validTo) {
    return {
      ...common,
      outcome: 'refused',
      reasons: ['entitlement_expired'],
      publicView: { headline: 'entitlement_expired' },
      staffView: { subjectId: input.record!.subject },
    };
  }
  const sessionSeconds = input.rules.kiosk.sessionTimeoutSeconds;
  return {
    ...common,
    outcome: 'admitted',
    reasons: ['ok'],
    publicView: { headline: 'ok', sessionSeconds },
    staffView: { subjectId: input.record!.subject },
    sessionSeconds,
  };
}
