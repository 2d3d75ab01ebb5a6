// Builds the renderer into dist/renderer: what the browser shell serves and the Electron shell loads
// from its app:// scheme. Relative asset paths so both hosts work; no inline scripts (CSP 'self').
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// Paths from this file's URL (no Node imports here: renderer/ is browser code by lint rule).
const here = (relative: string) => decodeURIComponent(new URL(relative, import.meta.url).pathname);
const root = here('.');

export default defineConfig({
  root,
  base: './',
  plugins: [preact({ devToolsEnabled: false, prefreshEnabled: false })],
  build: {
    outDir: here('../dist/renderer'),
    emptyOutDir: true,
    target: 'chrome120',
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    rollupOptions: {
      // zod's sources carry comments Rollup cannot place; the warning is noise, not a problem.
      // Rollup reports these through onLog before onwarn sees them.
      onLog(level, log, handler) {
        if (log.code === 'INVALID_ANNOTATION' && log.id?.includes('/zod/')) return;
        handler(level, log);
      },
    },
  },
});
