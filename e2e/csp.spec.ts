/**
 * Issue 15, point 8: the page set no Content Security Policy. The built page
 * carries one (vite.config.ts): scripts, its worker and every request from
 * its own origin only, nothing inline.
 */
import { expect, test } from '@playwright/test';
import { NVME, app, deviceAction, healthy, linkTo, open, ready } from './support.ts';

test('the built page carries a Content Security Policy, and nothing the page does breaks it', async ({ page }) => {
  await page.addInitScript(() => {
    const w = window as unknown as { violations: string[] };
    w.violations = [];
    document.addEventListener('securitypolicyviolation', (e) => w.violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  });
  await open(page, linkTo(healthy({ name: 'Under a policy' })));
  const csp = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  expect(csp).toContain("script-src 'self'");
  expect(csp).toContain("object-src 'none'");

  // What a user does: the worker runs, a device menu edits the scenario, the editor opens, Compare runs.
  await deviceAction(page, NVME, 'Stop answering ATC invalidations');
  await ready(page);
  await page.getByRole('button', { name: 'Go to end' }).click();
  await ready(page);
  await page.getByRole('tab', { name: 'Compare policies' }).click();
  await expect(page.getByTestId('compare').locator('table')).toBeVisible();
  await page.getByRole('button', { name: 'Scenario JSON' }).click();
  await expect(page.getByRole('dialog', { name: /Scenario/ })).toBeVisible();
  await page.keyboard.press('Escape');

  // An inline script (what an injection would be) does not run.
  const ran = await page.evaluate(async () => {
    const s = document.createElement('script');
    s.textContent = 'window.injected = true;';
    document.body.append(s);
    await new Promise((r) => setTimeout(r, 50));
    return (window as unknown as { injected?: boolean }).injected === true;
  });
  expect(ran).toBe(false);
  const violations = await page.evaluate(() => (window as unknown as { violations: string[] }).violations);
  expect(violations).toEqual(['script-src-elem inline']);
  await expect(app(page)).toHaveAttribute('data-ready', 'true');
});
