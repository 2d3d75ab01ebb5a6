// The demo card set for tests: generated once into the project's var/ (git-ignored) and reused.
import { join } from 'node:path';
import { projectRoot } from '../../config/paths.js';
import { loadCardProfile, type CardProfile } from '../../sim/card/profile.js';
import { demoCard, ensureDemoPki, type DemoCardSet } from '../../sim/pki/demo-pki.js';

let cached: Promise<DemoCardSet> | undefined;

export function demoCards(): Promise<DemoCardSet> {
  cached ??= ensureDemoPki(join(projectRoot(), 'var'));
  return cached;
}

/** A fresh in-memory profile (own PIN counters) of a demo card. */
export async function demoProfile(name: string): Promise<CardProfile> {
  return loadCardProfile(demoCard(await demoCards(), name).profilePath);
}

export async function demoProfilePath(name: string): Promise<string> {
  return demoCard(await demoCards(), name).profilePath;
}
