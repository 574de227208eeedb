import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';
import type { Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { singleFile } from './build/single-file.ts';

const here = fileURLToPath(new URL('.', import.meta.url));

/**
 * The built page's Content Security Policy: scripts, the worker and every
 * request come from the page's own origin; nothing inline runs, nothing is
 * fetched elsewhere, no plugin, no <base>, no form posts. Styles allow
 * 'unsafe-inline' for the style attributes Svelte writes. Only the build
 * carries it: the dev server injects inline scripts for hot reload.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "worker-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

const csp: Plugin = {
  name: 'content-security-policy',
  apply: 'build',
  transformIndexHtml: () => [
    {
      tag: 'meta',
      attrs: { 'http-equiv': 'Content-Security-Policy', content: CONTENT_SECURITY_POLICY },
      injectTo: 'head-prepend',
    },
  ],
};

/** The single-file build (`--mode single`, after the normal one): build/single-file.ts. */
const single = (mode: string): boolean => mode === 'single';

export default defineConfig(({ mode }) => ({
  root: 'web',
  publicDir: single(mode) ? false : '../public',
  base: './',
  plugins: single(mode)
    ? [svelte({ configFile: false }), singleFile({ favicon: `${here}public/favicon.svg` })]
    : [svelte({ configFile: false }), csp],
  resolve: single(mode)
    ? { alias: [{ find: /^\.\/make-worker\.ts$/, replacement: `${here}web/lib/make-worker.inline.ts` }] }
    : {},
  build: single(mode)
    ? // Into dist/ next to the normal build, which it leaves in place.
      { outDir: '../dist', emptyOutDir: false, target: 'es2022', modulePreload: false, assetsInlineLimit: Infinity }
    : { outDir: '../dist', emptyOutDir: true, target: 'es2022' },
  // The single file's worker is a classic one: a page opened from file:// cannot start a module worker from a blob: URL.
  worker: { format: single(mode) ? ('iife' as const) : ('es' as const) },
  server: { host: '127.0.0.1', port: 5173, fs: { allow: [here] } },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
  test: {
    root: here,
    include: ['core/**/*.test.ts', 'web/**/*.test.ts'],
    environment: 'node',
    testTimeout: 60_000,
  },
}));
