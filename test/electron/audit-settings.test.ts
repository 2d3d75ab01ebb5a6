// Security settings where an auditor (or Electron audit tooling) looks for them: the webPreferences of
// every BrowserWindow stand literally in the `new BrowserWindow({...})` call, and the renderer's HTML
// carries its content security policy as a meta tag, at least as strict as the headers in what it allows.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../config/paths.js';
import { ElectronCsp } from '../../main/electron/security.js';
import { contentSecurityPolicy } from '../../main/browser/server.js';

const root = projectRoot();

/** The literal value of each property of an object literal: true/false/string, or 'computed'. */
function literalProps(node: ts.ObjectLiteralExpression): Map<string, unknown> {
  const props = new Map<string, unknown>();
  for (const p of node.properties) {
    if (!ts.isPropertyAssignment(p)) continue;
    const name = p.name.getText();
    const v = p.initializer;
    if (v.kind === ts.SyntaxKind.TrueKeyword) props.set(name, true);
    else if (v.kind === ts.SyntaxKind.FalseKeyword) props.set(name, false);
    else if (ts.isStringLiteral(v)) props.set(name, v.text);
    else if (ts.isObjectLiteralExpression(v)) props.set(name, v);
    else props.set(name, 'computed');
  }
  return props;
}

function browserWindowCalls(): { file: string; arg: ts.Expression | undefined }[] {
  const dir = join(root, 'main', 'electron');
  const calls: { file: string; arg: ts.Expression | undefined }[] = [];
  for (const name of readdirSync(dir).filter((f) => /\.c?ts$/.test(f))) {
    const text = readFileSync(join(dir, name), 'utf8');
    const source = ts.createSourceFile(name, text, ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node) => {
      if (ts.isNewExpression(node) && node.expression.getText() === 'BrowserWindow')
        calls.push({ file: name, arg: node.arguments?.[0] });
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return calls;
}

const required: Record<string, boolean> = {
  sandbox: true,
  contextIsolation: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  experimentalFeatures: false,
  webviewTag: false,
  navigateOnDragDrop: false,
};

describe('webPreferences where each BrowserWindow is created', () => {
  it('every new BrowserWindow has its security-relevant webPreferences as literals', () => {
    const calls = browserWindowCalls();
    expect(calls.length).toBeGreaterThan(0);
    for (const { file, arg } of calls) {
      expect(arg && ts.isObjectLiteralExpression(arg), `${file}: options are an object literal`).toBe(true);
      const web = literalProps(arg as ts.ObjectLiteralExpression).get('webPreferences');
      expect(web && typeof web === 'object', `${file}: webPreferences is an object literal`).toBe(true);
      const props = literalProps(web as ts.ObjectLiteralExpression);
      for (const [key, value] of Object.entries(required))
        expect(props.get(key), `${file}: ${key}`).toBe(value);
      // Extra Blink features are never switched on.
      expect(props.has('enableBlinkFeatures'), `${file}: enableBlinkFeatures`).toBe(false);
      expect(String(props.get('devTools')), `${file}: devTools`).toMatch(/^(false|computed)$/);
    }
  });
});

function directives(csp: string): Map<string, string[]> {
  return new Map(
    csp
      .split(';')
      .map((d) => d.trim().split(/\s+/))
      .filter((d) => d[0])
      .map(([name, ...values]) => [name!, values]),
  );
}

describe('the renderer HTML carries its content security policy', () => {
  const html = readFileSync(join(root, 'renderer', 'index.html'), 'utf8');
  const meta = /<meta\s+http-equiv="Content-Security-Policy"\s+content="([^"]+)"/i.exec(html)?.[1];

  it('as a meta tag with no inline or eval allowance', () => {
    expect(meta).toBeDefined();
    const csp = directives(meta!);
    expect(csp.get('default-src')).toEqual(["'none'"]);
    expect(csp.get('script-src')).toEqual(["'self'"]);
    expect(csp.get('object-src')).toEqual(["'none'"]);
    expect(csp.get('base-uri')).toEqual(["'none'"]);
    expect(meta).not.toMatch(/unsafe-|\*/);
  });

  it('allowing nothing that the header of either shell forbids, except the shell’s own WebSocket', () => {
    const csp = directives(meta!);
    const shells = [directives(ElectronCsp), directives(contentSecurityPolicy('http://127.0.0.1:8620'))];
    for (const [name, values] of csp) {
      if (name === 'connect-src') {
        expect(values).toEqual(["'self'"]);
        continue;
      }
      for (const header of shells) expect(header.get(name), name).toEqual(values);
    }
  });
});
