/**
 * Issue 13, point 4: Share gave ~900 characters even for an unchanged
 * built-in. A built-in shown unchanged but for its preset now travels as
 * `?scenario=<id>&policy=<preset>&t=<µs>`; an edited one keeps `#s=`.
 */
import { expect, test } from '@playwright/test';
import { BUILTIN_SCENARIOS, POLICY_PRESETS } from '../core/index.ts';
import { NVME, app, deviceAction, gdev, open, position, ready, scenarioOf } from './support.ts';

test('every built-in is shared as a short link that opens it', async ({ page }) => {
  test.setTimeout(240_000);
  const ids = Object.keys(BUILTIN_SCENARIOS);
  for (const [i, id] of ids.entries()) {
    const preset = POLICY_PRESETS[i % POLICY_PRESETS.length]!;
    await open(page, `/?scenario=${id}&policy=${preset}`);
    await expect(app(page)).toHaveAttribute('data-builtin', id);
    await expect(page.getByRole('alert')).toHaveCount(0);
    await expect.poll(() => new URL(page.url()).search).toBe(`?scenario=${id}&policy=${preset}&t=0`);
    const u = new URL(page.url());
    expect(u.hash).toBe('');
    // Past the page's own address, a link of a few dozen characters: a slide line, a small QR code.
    expect(u.search.length, id).toBeLessThanOrEqual(80);
    expect(scenarioOf(page.url())).toEqual(
      preset === 'v4' ? BUILTIN_SCENARIOS[id] : { ...BUILTIN_SCENARIOS[id], policy: preset },
    );
  }
});

test('a short link opens the same built-in, policy and moment in another browser', async ({ browser }) => {
  const ctx = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
  const page = await ctx.newPage();
  await open(page, '/?scenario=recovery-flr');
  // Switching the policy alone keeps the short form.
  await page.getByRole('radio', { name: 'driver-only' }).click();
  await ready(page);
  await page.locator('.timeline .marker.state').first().click();
  await ready(page);
  await page.getByRole('button', { name: 'Share' }).click();
  await expect(page.getByText('Link copied')).toBeVisible();
  const link = await page.evaluate(() => navigator.clipboard.readText());
  expect(link).toBe(page.url());
  const u = new URL(link);
  expect(u.hash).toBe('');
  expect(u.searchParams.get('scenario')).toBe('recovery-flr');
  expect(u.searchParams.get('policy')).toBe('driver-only');
  const where = {
    position: await position(page),
    t: await page.getByTestId('virtual-time').getAttribute('data-t-ns'),
    blocked: await gdev(page).getAttribute('data-blocked'),
    prod: await page.getByTestId('cmdq-ring').getAttribute('data-prod'),
    log: await page.getByTestId('kernel-log').innerText(),
  };
  expect(where.position).toBeGreaterThan(0);
  expect(Number(u.searchParams.get('t'))).toBe(Number(where.t) / 1000);
  await ctx.close();

  const other = await browser.newContext();
  const p2 = await other.newPage();
  await open(p2, link);
  await expect(app(p2)).toHaveAttribute('data-builtin', 'recovery-flr');
  await expect(app(p2)).toHaveAttribute('data-policy', 'driver-only');
  expect(await position(p2)).toBe(where.position);
  await expect(p2.getByTestId('virtual-time')).toHaveAttribute('data-t-ns', where.t!);
  await expect(gdev(p2)).toHaveAttribute('data-blocked', where.blocked!);
  await expect(p2.getByTestId('cmdq-ring')).toHaveAttribute('data-prod', where.prod!);
  expect(await p2.getByTestId('kernel-log').innerText()).toBe(where.log);
  // The address stays short once opened.
  expect(new URL(p2.url()).hash).toBe('');
  await other.close();
});

test('an edited built-in is shared whole in #s=, and opens as edited', async ({ page }) => {
  await open(page, '/?scenario=shared-batch&t=100');
  await deviceAction(page, NVME, 'Stop answering ATC invalidations');
  await ready(page);
  await expect.poll(() => new URL(page.url()).hash).toMatch(/^#s=/);
  const u = new URL(page.url());
  expect(u.searchParams.has('scenario')).toBe(false);
  const edited = scenarioOf(page.url());
  expect(edited.steps!.at(-1)).toMatchObject({ op: 'fault', device: NVME, kind: 'atc-unresponsive' });
  await open(page, page.url());
  await expect(app(page)).toHaveAttribute('data-builtin', '');
  expect(scenarioOf(page.url())).toEqual(edited);
});
