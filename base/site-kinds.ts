// The four kinds of site a terminal serves, declared once for configuration, the API contract, the
// core and the UI. Browser-safe.

export const SiteKinds = ['stadium-gate', 'hospital-reception', 'shelter', 'convenience-kiosk'] as const;
export type SiteKind = (typeof SiteKinds)[number];

/** A configuration profile is the demo or one of the site kinds' production profiles. */
export const ProfileNames = ['demo', ...SiteKinds] as const;
export type ProfileName = (typeof ProfileNames)[number];

export const Directions = ['entry', 'exit'] as const;
export type Direction = (typeof Directions)[number];
