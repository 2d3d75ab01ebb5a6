// Layering by runtime (see docs/architecture.md):
//  - only main/electron/ may import `electron`; everything else is plain Node or browser code;
//  - renderer/ and main/api/ run in the browser: no Node built-ins, no native modules, no core imports.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];
const nativeModules = [
  'pcsclite',
  'node-hid',
  'better-sqlite3',
  'pkcs11js',
  'graphene-pk11',
  'pino',
  'fastify',
];

export const electronOnlyInShell = {
  paths: [
    {
      name: 'electron',
      message: 'Only main/electron/ may import electron: the terminal core is plain Node.',
    },
  ],
  patterns: [{ group: ['electron/*'], message: 'Only main/electron/ may import electron.' }],
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
      'no-restricted-imports': ['error', electronOnlyInShell],
    },
  },
  {
    files: ['**/*.{js,cjs,mjs}'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
  { files: ['main/electron/**'], rules: { 'no-restricted-imports': 'off' } },
  { files: ['test/**'], rules: { 'no-restricted-imports': 'off' } },
  {
    files: ['renderer/**', 'main/api/**', 'base/errors.ts', 'base/decision.ts', 'base/site-kinds.ts'],
    rules: { 'no-restricted-imports': ['error', browserOnly] },
  },
);
