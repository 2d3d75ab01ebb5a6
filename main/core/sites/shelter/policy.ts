// Evacuation shelter: everyone with a genuine card is admitted; registered residents check in and out,
// a card not on the list is admitted as "unregistered" and flagged for staff registration.
import type { Entitlement } from '../../../../whitelist/entitlements.js';
import type { PolicyInput, PolicyResult } from '../policy-types.js';

type Resident = Extract<Entitlement, { kind: 'resident' }>;

export function decideShelter(input: PolicyInput): PolicyResult {
  // A shelter lane is usually both ways: the same touch checks in, and later checks out.
  const inside = input.presence?.state === 'inside';
  const direction: 'entry' | 'exit' =
    input.site.direction === 'both' ? (inside ? 'exit' : 'entry') : input.site.direction;
  const presenceChange = { to: direction === 'entry' ? ('inside' as const) : ('outside' as const) };
  const repeat =
    input.lastAdmittedAt !== null &&
    input.now.getTime() - input.lastAdmittedAt <= input.rules.stadium.doubleTouchSeconds * 1000;
  const resident = (input.record?.entitlements ?? []).find((e): e is Resident => e.kind === 'resident');
  if (!resident) {
    if (!input.rules.shelter.admitUnregistered) {
      return {
        direction,
        outcome: 'refused',
        reasons: ['not_registered'],
        publicView: { headline: 'not_registered' },
        staffView: {},
        presenceChange: null,
        repeat: false,
      };
    }
    return {
      direction,
      outcome: 'admitted',
      reasons: ['unregistered_admitted'],
      publicView: { headline: 'unregistered_admitted' },
      staffView: {
        ...(input.record ? { subjectId: input.record.subject } : {}),
        notes: ['register at the desk'],
      },
      presenceChange: repeat ? null : presenceChange,
      repeat,
    };
  }
  return {
    direction,
    outcome: 'admitted',
    reasons: [repeat ? 'double_touch' : 'ok'],
    publicView: { headline: 'ok' },
    staffView: {
      subjectId: input.record!.subject,
      residentId: resident.residentId,
      householdId: resident.householdId,
      displayName: resident.displayName,
      careNeeds: [...resident.careNeeds],
    },
    presenceChange: repeat ? null : presenceChange,
    repeat,
  };
}
