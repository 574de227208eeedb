/**
 * The single-file build (`vite build --mode single`, run by `npm run build`
 * after the normal one): the page, its script, its worker and its styles in
 * one HTML file, dist/smmu-quarantine-lab.html, that runs from file:// with
 * no network. The worker is the same sim.worker.ts, inlined by Vite's
 * `?worker&inline` (web/lib/make-worker.inline.ts) and started from a blob:
 * URL. The page's Content Security Policy names the one inline script by its
 * SHA-256 hash, so no other inline script runs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Plugin } from 'vite';

export const SINGLE_FILE_NAME = 'smmu-quarantine-lab.html';

/**
 * The single file's Content Security Policy: nothing is loaded from
 * anywhere (default-src 'none'); the one inline script by its hash; the
 * worker from a blob: URL; inline styles (the file's own, and the style
 * attributes Svelte writes); data: images (the icon).
 */
export function singleFilePolicy(scriptHash: string): string {
  return [
    "default-src 'none'",
    `script-src '${scriptHash}'`,
    'worker-src blob:',
    "style-src 'unsafe-inline'",
    'img-src data:',
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

export function singleFile(opts: { favicon: string }): Plugin {
  return {
    name: 'single-file',
    apply: 'build',
    enforce: 'post',
    generateBundle(_out, bundle) {
      const page = bundle['index.html'];
      if (!page || page.type !== 'asset') return this.error('single-file: the bundle has no index.html');
      let html = String(page.source);
      let script: string | null = null;
      html = html.replace(/<script type="module" crossorigin src="\.\/([^"]+)"><\/script>\n?/g, (_m, file: string) => {
        const c = bundle[file];
        if (!c || c.type !== 'chunk') this.error(`single-file: ${file} is not a chunk of the bundle`);
        if (script !== null) this.error('single-file: the page has more than one script');
        // Inside a <script> element only "</script" would end it early.
        script = c.code.replace(/<\/script/gi, '<\\/script');
        delete bundle[file];
        return '';
      });
      html = html.replace(/<link rel="stylesheet" crossorigin href="\.\/([^"]+)">\n?/g, (_m, file: string) => {
        const a = bundle[file];
        if (!a || a.type !== 'asset') this.error(`single-file: ${file} is not an asset of the bundle`);
        delete bundle[file];
        return `<style>${String(a.source).replace(/<\/style/gi, '<\\/style')}</style>\n`;
      });
      // The notice for dist/index.html opened from disk has nothing to say here.
      html = html.replace(/\s*<script src="\.\/open-from-disk\.js"><\/script>/, '');
      const icon = `data:image/svg+xml;base64,${readFileSync(opts.favicon).toString('base64')}`;
      html = html.replace('href="./favicon.svg"', `href="${icon}"`);
      if (script === null) return this.error('single-file: the page has no module script');
      const left = Object.keys(bundle).filter((f) => f !== 'index.html');
      if (left.length) this.error(`single-file: not inlined: ${left.join(', ')}`);
      if (/<script[^>]* src=|<link[^>]* rel="(stylesheet|modulepreload)"/.test(html))
        this.error('single-file: the page still loads a file');
      const body: string = script;
      const hash = `sha256-${createHash('sha256').update(body).digest('base64')}`;
      html = html.replace(
        '<head>',
        `<head>\n    <meta http-equiv="Content-Security-Policy" content="${singleFilePolicy(hash)}">`,
      );
      // A function, not a string: a replacement string would read "$&" or "$'" in the code as patterns.
      html = html.replace('</body>', () => `<script type="module">${body}</script>\n  </body>`);
      delete bundle['index.html'];
      this.emitFile({ type: 'asset', fileName: SINGLE_FILE_NAME, source: html });
    },
  };
}
