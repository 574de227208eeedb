// Page benchmark: does the main thread keep its frames while a long run plays?
//
// Builds the app, serves it, and opens the 64-device storm (200 rounds, one
// device stops answering ATC invalidations halfway) in the system Chromium.
// Prints, measured in one run:
//  - the time from opening the link to the first view (the Web Worker records
//    the whole run meanwhile) — for information;
//  - animation frames per second while playing at 1024 events/s over frames
//    per second while paused on the same page (1.0 means no frame dropped);
//  - the longest gap between two frames while playing, in frames of the
//    paused page;
//  - a seek to the end: its time in frames of the paused page.
//  - for the long storms of bench/scenarios/ (8 devices × 1000 unmaps and
//    256 devices × 4000 unmaps, about 10^6 commands), opened from a file:
//    the time to the first view (the start of the run, shown while the worker
//    records the rest) and the time until the whole run is recorded; then,
//    after a full garbage collection, the JavaScript heap in use of the page
//    and of its worker (Chrome DevTools Protocol: HeapProfiler.collectGarbage,
//    Runtime.getHeapUsage on each target).
// Nothing is asserted. Run with `npm run bench:page` (BENCH_PORT moves the
// preview server, default 4179; BENCH_STORMS=8x1000 picks the storms).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from '@playwright/test';

const root = fileURLToPath(new URL('..', import.meta.url));
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(executablePath)) {
  console.log(`Chromium not found at ${executablePath}: install the Debian package "chromium" or set CHROMIUM_PATH`);
  process.exit(1);
}

// The storm scenario, encoded with the core's own codec.
const out = `${root}node_modules/.cache/bench/page-link.mjs`;
await build({
  stdin: {
    contents:
      "import { stormScenario } from './bench/storm-scenario.ts'; import { encodeScenario } from './core/index.ts'; export const link = encodeScenario(stormScenario(200, 8, true));",
    resolveDir: root,
    loader: 'ts',
  },
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  outfile: out,
  logLevel: 'error',
});
const { link } = await import(out);

const b = spawnSync('npx', ['vite', 'build', '--logLevel', 'error'], { cwd: root, stdio: 'inherit' });
if (b.status !== 0) process.exit(1);
const port = Number(process.env.BENCH_PORT ?? 4179);
const server = spawn('npx', ['vite', 'preview', '--port', String(port), '--strictPort'], {
  cwd: root,
  stdio: 'ignore',
  detached: true,
});
const stop = () => {
  try {
    process.kill(-server.pid);
  } catch {
    /* gone */
  }
};
process.on('exit', stop);

async function waitForServer() {
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/`)).ok) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the preview server did not start');
}

/** Count animation frames for `ms` milliseconds; return frames per second and the longest gap. */
function frames(page, ms) {
  return page.evaluate(
    (ms) =>
      new Promise((resolve) => {
        const gaps = [];
        let last = performance.now();
        const t0 = last;
        const f = (t) => {
          gaps.push(t - last);
          last = t;
          if (t - t0 < ms) requestAnimationFrame(f);
          else resolve({ fps: gaps.length / ((t - t0) / 1000), worst: Math.max(...gaps) });
        };
        requestAnimationFrame(f);
      }),
    ms,
  );
}

/**
 * The JavaScript heap in use (bytes, after a full collection) of the page
 * and of its dedicated worker, read through the DevTools protocol: the
 * page's own session, and the worker attached from the browser's session
 * (its messages wrapped by Target.sendMessageToTarget).
 */
async function heaps(browser, page) {
  const pageCdp = await page.context().newCDPSession(page);
  await pageCdp.send('HeapProfiler.collectGarbage');
  const pageHeap = (await pageCdp.send('Runtime.getHeapUsage')).usedSize;
  await pageCdp.detach();
  const cdp = await browser.newBrowserCDPSession();
  const { targetInfos } = await cdp.send('Target.getTargets');
  const workers = targetInfos.filter((t) => t.type === 'worker');
  let workerHeap = null;
  for (const w of workers) {
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: w.targetId, flatten: false });
    let msgId = 0;
    const call = (method) =>
      new Promise((resolve) => {
        const id = ++msgId;
        const on = (ev) => {
          if (ev.sessionId !== sessionId) return;
          const m = JSON.parse(ev.message);
          if (m.id !== id) return;
          cdp.off('Target.receivedMessageFromTarget', on);
          resolve(m.result);
        };
        cdp.on('Target.receivedMessageFromTarget', on);
        void cdp.send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method }) });
      });
    await call('HeapProfiler.collectGarbage');
    const used = (await call('Runtime.getHeapUsage')).usedSize;
    workerHeap = (workerHeap ?? 0) + used;
    await cdp.send('Target.detachFromTarget', { sessionId });
  }
  await cdp.detach();
  return { pageHeap, workerHeap, workers: workers.length };
}

const MiB = (b) => (b === null ? '?' : `${(b / 1024 / 1024).toFixed(0)} MiB`);

try {
  await waitForServer();
  const browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-gpu'] });
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const ready = () => page.waitForSelector('[data-testid="app"][data-ready="true"]', { timeout: 120_000 });
  const t0 = Date.now();
  await page.goto(`http://127.0.0.1:${port}/#s=${link}`);
  await ready();
  const loadMs = Date.now() - t0;
  await page.waitForSelector('[data-testid="app"]:not([data-recording="running"])', { timeout: 120_000 });
  const count = await page.getAttribute('[data-testid="app"]', 'data-count');

  const idle = await frames(page, 2000);
  await page.selectOption('select[aria-label^="Speed"]', '1024');
  await page.getByRole('button', { name: 'Play', exact: true }).click();
  const playing = await frames(page, 4000);
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  const frameMs = 1000 / idle.fps;
  const t1 = Date.now();
  await page.keyboard.press('End');
  await page.waitForSelector(`[data-testid="app"][data-position="${count}"][data-ready="true"]`);
  const seekMs = Date.now() - t1;

  // Presentation mode at 1920×1080: the same storm playing at 1024 events/s (speed set with +, Play with Space).
  const big = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  await big.goto(`http://127.0.0.1:${port}/?present=1#s=${link}`);
  await big.waitForSelector('[data-testid="app"][data-present="true"][data-ready="true"]', { timeout: 120_000 });
  await big.waitForSelector('[data-testid="app"]:not([data-recording="running"])', { timeout: 120_000 });
  const bigIdle = await frames(big, 2000);
  for (let i = 0; i < 5; i++) await big.keyboard.press('+');
  await big.keyboard.press('Space');
  await big.waitForSelector('[data-testid="app"][data-playing="true"]');
  const bigPlaying = await frames(big, 4000);
  await big.close();

  // The long storms, opened from a file.
  const storms = [];
  for (const name of (process.env.BENCH_STORMS ?? '8x1000,256x4000').split(',')) {
    const file = `${root}bench/scenarios/storm-${name}.json`;
    await page.goto(`http://127.0.0.1:${port}/?scenario=recovery-flr`);
    await ready();
    const s0 = Date.now();
    await page.setInputFiles('[data-testid="scenario-file"]', file);
    await page.waitForFunction(
      (origin) => {
        const app = document.querySelector('[data-testid="app"]');
        return app?.getAttribute('data-ready') === 'true' && document.body.textContent.includes(origin);
      },
      `file storm-${name}.json`,
      { timeout: 600_000, polling: 20 },
    );
    const firstMs = Date.now() - s0;
    await page.waitForSelector('[data-testid="app"]:not([data-recording="running"])', { timeout: 900_000, polling: 50 });
    const doneMs = Date.now() - s0;
    const rec = await page.getAttribute('[data-testid="app"]', 'data-recording');
    const n = await page.getAttribute('[data-testid="app"]', 'data-count');
    const h = await heaps(browser, page);
    storms.push({ name, firstMs, doneMs, rec, n, ...h });
  }
  await browser.close();

  for (const s of storms)
    console.log(
      `storm ${s.name} from a file: first view after ${s.firstMs} ms, whole run recorded after ${s.doneMs} ms (${s.n} events, recording ${s.rec}); JS heap then: page ${MiB(s.pageHeap)}, worker ${MiB(s.workerHeap)} (${s.workers} worker${s.workers === 1 ? '' : 's'})`,
    );
  console.log(`storm with a broken device in the page: ${count} events; first view after ${loadMs} ms`);
  console.log(
    `frames/s playing at 1024 events/s / frames/s paused: ${(playing.fps / idle.fps).toFixed(2)}   (${playing.fps.toFixed(0)} / ${idle.fps.toFixed(0)}; target ~1)`,
  );
  console.log(
    `longest gap between frames while playing: ${(playing.worst / frameMs).toFixed(1)} frames   (${playing.worst.toFixed(0)} ms)`,
  );
  console.log(
    `presentation mode at 1920x1080, frames/s playing at 1024 events/s / frames/s paused: ${(bigPlaying.fps / bigIdle.fps).toFixed(2)}   (${bigPlaying.fps.toFixed(0)} / ${bigIdle.fps.toFixed(0)}; longest gap ${bigPlaying.worst.toFixed(0)} ms)`,
  );
  console.log(`seek to the end: ${(seekMs / frameMs).toFixed(1)} frames   (${seekMs} ms, including the page's own round trip)`);
} finally {
  stop();
}
