// Small demo constants, apart so that loading the demo entry loads nothing else.

/** The demo staff PIN, printed by `npm start` and in the README: demo only. */
export const DEMO_STAFF_PIN = '2468';
