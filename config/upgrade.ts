// The configuration file's `version` and its upgrade chain: a file written for an older version is
// brought up to the current one step by step, before the schema checks it, so a site's version-1 file
// keeps loading after the schema moves on. Each step takes the raw JSON of version N and returns that of
// N + 1; a file newer than this kiosk is refused (it may mean something this kiosk cannot do).
import { KioskError } from '../base/errors.js';

export const CONFIG_VERSION = 2;

type Layer = Record<string, unknown>;

/** Step N: from version N to N + 1. */
export const upgradeSteps: Record<number, (layer: Layer) => Layer> = {
  // Version 2 adds `metrics` (the terminal's /healthz and /metrics) and remote configuration from the
  // hub (config/remote.ts); a version-1 file has neither, and its defaults are what version 1 did.
  1: (layer) => ({ ...layer, version: 2 }),
};

/** The layer at CONFIG_VERSION; an absent version is left to the schema to report. */
export function upgradeConfigLayer<T extends Layer>(layer: T, origin: string): T {
  let out: Layer = layer;
  const stated = out.version;
  if (stated === undefined) return layer;
  if (typeof stated !== 'number' || !Number.isInteger(stated) || stated < 1)
    throw new KioskError(
      'CONFIG_INVALID',
      `${origin}: key version: found ${JSON.stringify(stated)}; expected a version number`,
      {
        key: 'version',
      },
    );
  let version: number = stated;
  if (version > CONFIG_VERSION)
    throw new KioskError(
      'CONFIG_INVALID',
      `${origin}: key version: found ${version}; this kiosk reads configuration up to version ${CONFIG_VERSION} (update the kiosk software)`,
      { key: 'version' },
    );
  while (version < CONFIG_VERSION) {
    out = upgradeSteps[version]!(out);
    version = out.version as number;
  }
  return out as T;
}
