// Finds the project's own folders whether code runs from source (vitest, tsx) or from dist/.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cachedRoot: string | undefined;

export function projectRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const name = (JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string }).name;
      if (name === 'jpki-kiosk') return (cachedRoot = dir);
    }
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error('jpki-kiosk: project root not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** The shipped config/ folder (profiles and trust anchors). */
export function configFolder(): string {
  return join(projectRoot(), 'config');
}
