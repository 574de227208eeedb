// Single-file benchmark: the size of dist/smmu-quarantine-lab.html (and
// gzipped), and the time from opening it from disk (file://, every network
// request refused) to the first view (data-ready on the app), the median of
// five loads in the system Chromium. Builds the app first when dist/ has no
// single file. Nothing is asserted. Run with `npm run bench:single`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chromium } from '@playwright/test';

const root = fileURLToPath(new URL('..', import.meta.url));
const file = `${root}dist/smmu-quarantine-lab.html`;
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.log(`Chromium not found at ${executablePath}: install the Debian package "chromium" or set CHROMIUM_PATH`);
  process.exit(1);
}
if (!existsSync(file)) {
  const b = spawnSync('npm', ['run', '-s', 'build'], { cwd: root, stdio: 'inherit' });
  if (b.status !== 0) process.exit(b.status ?? 1);
}

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
console.log(`single file: ${kb(statSync(file).size)} (gzip ${kb(gzipSync(readFileSync(file)).length)})`);

const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu'] });
const times = [];
for (let i = 0; i < 5; i++) {
  const page = await browser.newPage();
  await page.route(
    (u) => !['file:', 'blob:', 'data:'].includes(u.protocol),
    (r) => r.abort('internetdisconnected'),
  );
  const t0 = performance.now();
  await page.goto(pathToFileURL(file).href);
  await page.locator('[data-testid="app"][data-ready="true"]').waitFor({ timeout: 60_000 });
  times.push(performance.now() - t0);
  await page.close();
}
await browser.close();
times.sort((a, b) => a - b);
console.log(
  `open from disk to first view: median ${times[2].toFixed(0)} ms (of 5: ${times.map((t) => t.toFixed(0)).join(', ')} ms)`,
);
