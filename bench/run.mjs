// Bundle the benchmark with esbuild (as the app's own build bundles the core)
// and run it with plain Node, so it measures the core as it ships rather
// than the module-loader indirections of a TypeScript runner.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = process.argv[2] ?? 'bench/storm.bench.ts';
mkdirSync(`${root}node_modules/.cache/bench`, { recursive: true });
const outfile = `${root}node_modules/.cache/bench/${entry.replace(/[/\\]/g, '_')}.mjs`;
await build({
  entryPoints: [`${root}${entry}`],
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outfile,
  logLevel: 'error',
});
const r = spawnSync(process.execPath, ['--expose-gc', outfile], { stdio: 'inherit', cwd: root, env: process.env });
process.exit(r.status ?? 1);
