// The four kinds of site a terminal serves, declared once for configuration, the API contract, the
// core and the UI. Browser-safe.

export const SiteKinds = ['stadium-gate', 'hospital-reception', 'shelter', 'convenience-kiosk'] as const;
export type SiteKind = (typeof SiteKinds)[number];

/** A configuration profile is the demo or one of the site kinds' production profiles. */
export const ProfileNames = ['demo', ...SiteKinds] as const;
export type ProfileName = (typeof ProfileNames)[number];

export const Directions = ['entry', 'exit'] as const;
export type Direction = (typeof Directions)[number];

/**
 * What a kind of site does beyond deciding, as the screens need to know it (browser-safe): the staff
 * screen shows the roster, the reception hand-off or the registration form from these flags, never
 * from the kind's name or a reason string.
 */
export interface SiteFeatures {
  /** Entries and exits move presence (anti-passback); the occupancy count is people inside. */
  tracksPresence: boolean;
  /** Keeps a roster of the people inside (shelter); staff can read and export it. */
  keepsRoster: boolean;
  /** An admitted decision may be registered by staff when the person is not on the list yet. */
  registersUnlisted: boolean;
  /** A decision with insurance details can be handed to the reception system. */
  sendsToReception: boolean;
  /** An admission opens a timed patron session. */
  opensSession: boolean;
  /** A staffed desk of this kind may bind a companion's card to a transferred seat (online, staff mode). */
  bindsCompanions: boolean;
}

export const siteFeatures: Record<SiteKind, SiteFeatures> = {
  'stadium-gate': {
    tracksPresence: true,
    keepsRoster: false,
    registersUnlisted: false,
    sendsToReception: false,
    opensSession: false,
    bindsCompanions: true,
  },
  'hospital-reception': {
    tracksPresence: false,
    keepsRoster: false,
    registersUnlisted: false,
    sendsToReception: true,
    opensSession: false,
    bindsCompanions: true,
  },
  shelter: {
    tracksPresence: true,
    keepsRoster: true,
    registersUnlisted: true,
    sendsToReception: false,
    opensSession: false,
    bindsCompanions: false,
  },
  'convenience-kiosk': {
    tracksPresence: false,
    keepsRoster: false,
    registersUnlisted: false,
    sendsToReception: false,
    opensSession: true,
    bindsCompanions: false,
  },
};
