// The Electron shell's URL and path predicates, attacked.
import { describe, expect, it } from 'vitest';
import { join, resolve } from 'node:path';
import {
  AppIndexUrl,
  ElectronCsp,
  isAppUrl,
  isBlockedKey,
  mimeTypeOf,
  resolveAppPath,
} from '../../main/electron/security.js';

const root = resolve('/opt/app/dist/renderer');

describe('app:// traversal guard', () => {
  it('maps our URLs to files under the renderer folder', () => {
    expect(resolveAppPath(root, 'app://kiosk/')).toBe(join(root, 'index.html'));
    expect(resolveAppPath(root, AppIndexUrl)).toBe(join(root, 'index.html'));
    expect(resolveAppPath(root, 'app://kiosk/assets/index-abc.js')).toBe(
      join(root, 'assets', 'index-abc.js'),
    );
    expect(resolveAppPath(root, 'app://kiosk/assets/a.css?v=1#x')).toBe(join(root, 'assets', 'a.css'));
  });

  // The URL parser already folds plain and %2e dot segments, so these land inside the folder (and name
  // no real file there); the property that matters is that nothing resolves outside it.
  it.each([
    'app://kiosk/../../etc/passwd',
    'app://kiosk/%2e%2e/%2e%2e/etc/passwd',
    'app://kiosk/./index.html/..',
    'app://kiosk/%2fetc%2fpasswd/..',
  ])('keeps %s inside the renderer folder', (url) => {
    const result = resolveAppPath(root, url);
    expect(result === null || result.startsWith(root + '/')).toBe(true);
  });

  it.each([
    'app://kiosk/%2E%2E%2F%2E%2E%2Fetc%2Fpasswd',
    'app://kiosk/assets/..%2f..%2f..%2fetc/passwd',
    'app://kiosk/..%5c..%5cwindows%5cwin.ini',
    'app://kiosk/assets%5c..%5c..%5csecret',
    'app://kiosk/index.html%00.png',
    'app://kiosk/%E0%A4%A',
    'app://other/index.html',
    'app://kiosk.evil/index.html',
    'file:///etc/passwd',
    'https://kiosk/index.html',
    'not a url',
  ])('refuses %s', (url) => {
    expect(resolveAppPath(root, url)).toBeNull();
  });

  it('knows our origin from everything else', () => {
    expect(isAppUrl('app://kiosk/index.html')).toBe(true);
    for (const url of [
      'https://example.com/',
      'file:///opt/app/dist/renderer/index.html',
      'app://kiosk@evil/',
      'app://user:pw@kiosk/',
      'app://kiosk.example/',
      'javascript:alert(1)',
      'data:text/html,hi',
      '',
    ]) {
      expect(isAppUrl(url), url).toBe(false);
    }
  });

  it('serves the right types and a policy that allows no network and no inline code', () => {
    expect(mimeTypeOf('/a/index.html')).toMatch(/^text\/html/);
    expect(mimeTypeOf('/a/x.js')).toMatch(/^text\/javascript/);
    expect(mimeTypeOf('/a/x.unknown')).toBe('application/octet-stream');
    expect(ElectronCsp).toContain("default-src 'none'");
    expect(ElectronCsp).toContain("script-src 'self'");
    expect(ElectronCsp).toContain("connect-src 'none'");
    expect(ElectronCsp).not.toContain('unsafe-inline');
    expect(ElectronCsp).not.toContain('unsafe-eval');
  });

  it('swallows the keys that leave or reshape a kiosk, and not ordinary typing', () => {
    for (const input of [
      { key: 'F5' },
      { key: 'F12' },
      { key: 'r', control: true },
      { key: 'R', meta: true },
      { key: 'w', control: true },
      { key: 'I', control: true, shift: true },
      { key: '+', control: true },
      { key: '0', control: true },
      { key: 'F4', alt: true },
      { key: 'ArrowLeft', alt: true },
    ]) {
      expect(isBlockedKey(input), JSON.stringify(input)).toBe(true);
    }
    for (const input of [
      { key: '1' },
      { key: 'a' },
      { key: 'Backspace' },
      { key: 'Enter' },
      { key: 'c', control: true },
    ]) {
      expect(isBlockedKey(input), JSON.stringify(input)).toBe(false);
    }
  });
});
