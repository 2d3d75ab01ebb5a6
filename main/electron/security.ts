// Pure predicates of the Electron shell's security policy, tested adversarially without Electron:
// where the UI is loaded from, which file a request may read, where the window may go.
import { isAbsolute, relative, resolve, sep } from 'node:path';

export const AppScheme = 'app';
export const AppHost = 'kiosk';
export const AppOrigin = `${AppScheme}://${AppHost}`;
export const AppIndexUrl = `${AppOrigin}/index.html`;

/** The renderer's content security policy in Electron: nothing but its own files; no network at all. */
export const ElectronCsp = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** True only for URLs of our own scheme and host (the single page the kiosk shows). */
export function isAppUrl(url: string): boolean {
  try {
    const parsed = new URL(url);
    return (
      parsed.protocol === `${AppScheme}:` &&
      parsed.host === AppHost &&
      parsed.username === '' &&
      parsed.password === ''
    );
  } catch {
    return false;
  }
}

/**
 * The file under `root` an app:// request names, or null. Refuses other schemes and hosts, encoded or
 * plain `..`, NUL bytes, backslashes, absolute paths after decoding, and anything that resolves outside
 * `root`.
 */
export function resolveAppPath(root: string, url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== `${AppScheme}:` || parsed.host !== AppHost) return null;
  let path: string;
  try {
    path = decodeURIComponent(parsed.pathname);
  } catch {
    return null;
  }
  if (path.includes('\0') || path.includes('\\')) return null;
  if (path === '/' || path === '') path = '/index.html';
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '..' || s === '.')) return null;
  const base = resolve(root);
  const target = resolve(base, ...segments);
  const rel = relative(base, target);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel) || rel.split(sep).includes('..')) return null;
  return target;
}

const mimeTypes: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  json: 'application/json',
  svg: 'image/svg+xml',
  png: 'image/png',
  woff2: 'font/woff2',
  ico: 'image/x-icon',
};

export function mimeTypeOf(path: string): string {
  const ext = path.slice(path.lastIndexOf('.') + 1).toLowerCase();
  return mimeTypes[ext] ?? 'application/octet-stream';
}

/** Keys a kiosk must swallow: reload, devtools, close, zoom, print, find, new window, history. */
export function isBlockedKey(input: {
  key: string;
  control?: boolean;
  meta?: boolean;
  alt?: boolean;
  shift?: boolean;
}): boolean {
  const key = input.key.toLowerCase();
  const mod = Boolean(input.control || input.meta);
  if (['f5', 'f11', 'f12', 'browserback', 'browserforward', 'browserrefresh'].includes(key)) return true;
  if (input.alt && ['f4', 'arrowleft', 'arrowright', 'home'].includes(key)) return true;
  if (mod && input.shift && ['i', 'j', 'c'].includes(key)) return true; // developer tools
  return mod && ['r', 'w', 'q', 'n', 't', 'p', 'f', 'g', 'o', 's', 'u', '+', '-', '=', '0'].includes(key);
}
