/**
 * Issue 13, point 5: the built app opened from disk gave a blank page, and a
 * conference hall often has no network. `npm run build` also writes
 * dist/smmu-quarantine-lab.html, the whole app in one file, that runs from
 * file:// with no network; dist/index.html opened from disk says why it
 * cannot run there and names that file.
 */
import { pathToFileURL } from 'node:url';
import { expect, test, type Page } from '@playwright/test';
import { app, gdev, ready } from './support.ts';

const dist = (f: string): string => pathToFileURL(`${process.cwd()}/dist/${f}`).href;

/** Refuse every request that is not to a file, a blob or data; return the list of those asked for. */
async function offline(page: Page): Promise<string[]> {
  const refused: string[] = [];
  await page.route(
    (u) => !['file:', 'blob:', 'data:'].includes(u.protocol),
    (r) => {
      refused.push(r.request().url());
      return r.abort('internetdisconnected');
    },
  );
  page.on('request', (r) => {
    if (!/^(file|blob|data):/.test(r.url())) refused.push(r.url());
  });
  await page.addInitScript(() => {
    const w = window as unknown as { violations: string[] };
    w.violations = [];
    document.addEventListener('securitypolicyviolation', (e) => w.violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  return refused;
}

test('the single file runs from disk with no network: the default scenario plays to its quarantine', async ({ page }) => {
  const refused = await offline(page);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(dist('smmu-quarantine-lab.html'));
  await ready(page);
  await expect(app(page)).toHaveAttribute('data-builtin', 'spam-vs-quarantine');
  await expect(gdev(page)).toHaveAttribute('data-blocked', 'NO');
  await page.getByRole('button', { name: 'Play', exact: true }).click();
  // Seed 003 #19: the ATC invalidation times out and the driver quarantines the device.
  await expect(gdev(page)).toHaveAttribute('data-ats-broken', 'true', { timeout: 30_000 });
  await expect(gdev(page)).toHaveAttribute('data-blocked', 'BROKEN', { timeout: 30_000 });
  await expect(page.getByTestId('kernel-log')).toContainText('ATC invalidate timeout');
  expect(refused).toEqual([]);
  expect(errors).toEqual([]);
  const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  expect(csp).toContain("default-src 'none'");
  expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+';/);
  expect(await page.evaluate(() => (window as unknown as { violations: string[] }).violations)).toEqual([]);
  // An inline script other than the page's own does not run.
  const ran = await page.evaluate(async () => {
    const s = document.createElement('script');
    s.textContent = 'window.injected = true;';
    document.body.append(s);
    await new Promise((r) => setTimeout(r, 50));
    return (window as unknown as { injected?: boolean }).injected === true;
  });
  expect(ran).toBe(false);
});

test('dist/index.html opened from disk says why it cannot run and where the single file is', async ({ page }) => {
  await offline(page);
  await page.goto(dist('index.html'));
  const msg = page.getByTestId('open-from-disk');
  await expect(msg).toBeVisible();
  await expect(msg).toHaveAttribute('role', 'alert');
  await expect(msg).toContainText('opened from disk (file://)');
  await expect(msg).toContainText('smmu-quarantine-lab.html');
});
