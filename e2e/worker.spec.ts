/**
 * The page watches its simulation worker (issue 15, point 3): a worker that
 * cannot start, or stops answering, is reported in words and restarted, and
 * the scenario is loaded again at the moment shown.
 */
import { expect, test, type Page } from '@playwright/test';
import { app, healthy, linkTo, open, position, pressOnPage, ready } from './support.ts';

const WORKER = '**/assets/sim.worker-*.js';

/** Serve the first worker script so that it never posts messages of one type; returns how many were served. */
async function muteFirstWorker(page: Page, type: 'view' | 'decoded'): Promise<() => number> {
  let served = 0;
  await page.route(WORKER, async (route) => {
    const response = await route.fetch();
    const body = await response.text();
    served++;
    const mute = `const __post = self.postMessage.bind(self); self.postMessage = (m, t) => { if (m && m.type === '${type}') return; __post(m, t); };\n`;
    await route.fulfill({ response, body: served === 1 ? mute + body : body });
  });
  return () => served;
}

test('a worker whose script does not load is reported in words, not as "undefined"', async ({ page }) => {
  await page.route(WORKER, (route) => route.abort());
  await page.goto('/');
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('its script could not be loaded', { timeout: 10_000 });
  await expect(alert).not.toContainText('undefined');
  // It is tried again a few times, then the page says so and stops trying.
  await expect(alert).toContainText('failed again', { timeout: 10_000 });
});

test('a worker that stops answering is restarted, and the scenario comes back at the moment shown', async ({ page }) => {
  // The first worker answers the load, then never another seek.
  const served = await muteFirstWorker(page, 'view');
  await open(page, '/');
  await pressOnPage(page, 'ArrowRight');
  await expect(app(page)).toHaveAttribute('data-position', '1');
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('did not answer a seek in 5 s); it was restarted', { timeout: 12_000 });
  await ready(page);
  expect(await position(page)).toBe(1);
  expect(served()).toBe(2);
  // The new worker answers.
  await pressOnPage(page, 'ArrowRight');
  await ready(page);
  expect(await position(page)).toBe(2);
});

// Issue 15, point 1: links were inflated and validated on the page's thread. The worker reads them now:
// a worker that does not answer the reading of a link is restarted, and the new one opens the link.
test('a link is read by the worker: one that does not answer is restarted and the link opens', async ({ page }) => {
  const served = await muteFirstWorker(page, 'decoded');
  await page.goto(linkTo(healthy({ name: 'Read by the worker' })));
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('did not answer the reading of a link in 5 s); it was restarted', { timeout: 12_000 });
  await ready(page);
  await expect(page.getByRole('button', { name: /^Scenario(?! JSON)/ })).toContainText('Read by the worker');
  expect(served()).toBe(2);
});
