// Layering, enforced with ESLint's own no-restricted-imports (see docs/architecture.md):
//  by runtime
//  - only main/electron/ may import `electron`; everything else is plain Node or browser code;
//  - renderer/ and main/api/ run in the browser: no Node built-ins, no native modules, no core imports;
//  by direction of dependency
//  - the product (main/ but main/demo/, hsm/, whitelist/, config/, hub/, base/, protocol/, renderer/)
//    never imports the simulator (sim/) or the demo (main/demo/);
//  - the stores and the HSM (whitelist/, hsm/, config/) and the hub (hub/) never import the terminal (main/);
//  - base/ imports nothing else of the project; protocol/ imports only base/.
// Every project import is a relative specifier, so a zone is a pattern on the specifier's folders.
// no-restricted-imports sees import/export statements; a zone's `dynamic` selectors give the same rule
// for import() through no-restricted-syntax (esquery regexes cannot hold '/': \x2F stands for it).
// One config object per zone carries the whole option set for its files (a later object replaces the
// rule's options of an earlier one, it does not add to them); rule() composes the parts.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const nativeModules = ['pcsclite', 'node-hid', 'better-sqlite3', 'pkcs11js', 'pino', 'fastify'];

export const electronOnlyInShell = {
  paths: [
    {
      name: 'electron',
      message: 'Only main/electron/ may import electron: the terminal core is plain Node.',
    },
  ],
  patterns: [{ group: ['electron/*'], message: 'Only main/electron/ may import electron.' }],
  dynamic: [
    {
      selector: 'ImportExpression[source.value=/^electron(\\x2F|$)/]',
      message: 'Only main/electron/ may import electron: the terminal core is plain Node.',
    },
  ],
};

export const browserOnly = {
  paths: [
    ...nodeBuiltins.map((name) => ({ name, message: 'Browser code must not import Node built-ins.' })),
    ...nativeModules.map((name) => ({
      name,
      message: 'Browser code must not import native or server modules.',
    })),
    { name: 'electron', message: 'The renderer reaches the core only through the API provider.' },
  ],
  patterns: [
    {
      group: [
        '**/main/core/**',
        '**/main/electron/**',
        '**/main/browser/**',
        '**/hsm/**',
        '**/whitelist/**',
        '**/sim/**',
        '**/hub/**',
        '**/config/*.js',
        '**/protocol/**',
        '**/base/log*',
      ],
      message: 'The renderer may import only renderer/, main/api/ and the browser-safe base/.',
    },
  ],
};

/** A direction-of-dependency zone: one message for its import statements (pattern) and import() calls. */
function zone(message, pattern, dynamicRegex) {
  return {
    patterns: [{ ...pattern, message }],
    dynamic: [{ selector: `ImportExpression[source.value=/${dynamicRegex}/]`, message }],
  };
}

export const noDemoInProduct = zone(
  'The product never imports the simulator (sim/) or the demo (main/demo/): the demo is added through main/extension.ts.',
  { group: ['**/sim/**', '**/demo/**'] },
  '(^|\\x2F)(sim|demo)\\x2F',
);

export const noTerminal = zone(
  'The stores, the HSM and the hub never import the terminal (main/): shared vocabulary lives in base/ and protocol/.',
  { group: ['**/main/**'] },
  '(^|\\x2F)main\\x2F',
);

export const baseAlone = zone(
  'base/ is the bottom layer: it imports nothing else of the project.',
  { group: ['../**'] },
  '^\\.\\.\\x2F',
);

export const protocolOverBase = zone(
  'protocol/ imports only base/ of the project.',
  // a parent-relative specifier that does not go into ../base/
  { regex: '^\\.\\./(?!base/)' },
  '^\\.\\.\\x2F(?!base\\x2F)',
);

/** One no-restricted-imports option object from several parts (paths and patterns added together). */
export function restrict(...parts) {
  return {
    paths: parts.flatMap((p) => p.paths ?? []),
    patterns: parts.flatMap((p) => p.patterns ?? []),
  };
}

/** Both rules of a zone: its import statements and its import() calls. */
const rule = (...parts) => ({
  'no-restricted-imports': ['error', restrict(...parts)],
  'no-restricted-syntax': ['error', ...parts.flatMap((p) => p.dynamic ?? [])],
});
const browserFiles = ['renderer/**', 'main/api/**'];
const browserSafeBase = [
  'base/errors.ts',
  'base/decision.ts',
  'base/site-kinds.ts',
  'base/languages.ts',
  'base/relative-time.ts',
];

export default tseslint.config(
  {
    ignores: ['node_modules/**', 'dist/**', 'var/**', 'coverage/**', 'renderer/dist/**', 'test/fixtures/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.{ts,cts,mts,tsx,js,cjs,mjs}'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      ...rule(electronOnlyInShell),
    },
  },
  {
    files: ['**/*.{js,cjs,mjs}'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  // zones by direction of dependency; sim/, main/demo/ and bench/ keep only the electron rule above
  { files: ['main/**'], ignores: ['main/demo/**'], rules: rule(electronOnlyInShell, noDemoInProduct) },
  { files: ['main/electron/**'], rules: rule(noDemoInProduct) },
  {
    files: ['hsm/**', 'whitelist/**', 'config/**', 'hub/**'],
    rules: rule(electronOnlyInShell, noDemoInProduct, noTerminal),
  },
  { files: ['base/**'], rules: rule(electronOnlyInShell, noDemoInProduct, baseAlone) },
  { files: ['protocol/**'], rules: rule(electronOnlyInShell, noDemoInProduct, protocolOverBase) },
  { files: browserFiles, rules: rule(browserOnly, noDemoInProduct) },
  { files: browserSafeBase, rules: rule(browserOnly, noDemoInProduct, baseAlone) },
  { files: ['test/**'], rules: { 'no-restricted-imports': 'off', 'no-restricted-syntax': 'off' } },
);
