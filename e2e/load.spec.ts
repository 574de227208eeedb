import { expect, test } from '@playwright/test';
import { BUILTIN_SCENARIOS, DEFAULT_SCENARIO_ID } from '../core/index.ts';
import { NVME, app, gdev, gerrorBit, group, healthy, linkTo, open, ready, scenarioOf, toEnd } from './support.ts';

test('the default scenario opens with every view and every page hook', async ({ page }) => {
  await open(page, '/');
  await expect(app(page)).toHaveAttribute('data-builtin', DEFAULT_SCENARIO_ID);
  await expect(page.getByRole('button', { name: /^Scenario(?! JSON)/ })).toContainText(
    BUILTIN_SCENARIOS[DEFAULT_SCENARIO_ID]!.name,
  );

  const ring = page.getByTestId('cmdq-ring');
  await expect(ring).toHaveAttribute('data-prod', /^0x[0-9a-f]{8}$/);
  await expect(ring).toHaveAttribute('data-cons', /^0x[0-9a-f]{8}$/);
  await expect(ring).toHaveAttribute('data-err', 'CERROR_NONE');
  // One row per GERROR bit, by its spec name (arm-smmu-v3.h GERROR_*).
  const bits = await page.getByTestId('gerror-bit').evaluateAll((els) => els.map((e) => e.getAttribute('data-bit')));
  expect(bits).toEqual([
    'CMDQ_ERR',
    'EVTQ_ABT_ERR',
    'PRIQ_ABT_ERR',
    'MSI_CMDQ_ABT_ERR',
    'MSI_EVTQ_ABT_ERR',
    'MSI_PRIQ_ABT_ERR',
    'MSI_GERROR_ABT_ERR',
    'SFM_ERR',
  ]);
  await expect(group(page, 0)).toHaveAttribute('data-recovery-cnt', '0');
  await expect(gdev(page)).toHaveAttribute('data-blocked', 'NO');
  await expect(gdev(page)).toHaveAttribute('data-ats-broken', 'false');
  await expect(gdev(page)).toHaveAttribute('data-eats', '1');
  await expect(page.getByTestId('stats')).toHaveAttribute('data-corrupted-pages', '0');
  await expect(page.getByTestId('stats')).toHaveAttribute('data-stale-atc-writes', '0');
  await expect(page.getByTestId('kernel-log')).toContainText('allocated 256 entries for cmdq');
  await expect(gerrorBit(page, 'CMDQ_ERR')).toHaveAttribute('data-active', 'false');
  for (const name of ['Play', 'Step', 'Step back', 'Share'])
    await expect(page.getByRole('button', { name, exact: true })).toBeVisible();
  // The address bar holds the scenario, the policy and the time from the start.
  expect(page.url()).toMatch(/\?scenario=spam-vs-quarantine&policy=v4&t=0$/);
  expect(scenarioOf(page.url())).toEqual(BUILTIN_SCENARIOS[DEFAULT_SCENARIO_ID]);
});

test('a built-in is picked from a list that explains each one', async ({ page }) => {
  await open(page, '/');
  await page.getByRole('button', { name: /^Scenario(?! JSON)/ }).click();
  const list = page.getByRole('menu', { name: 'Built-in scenarios' });
  await expect(list.getByRole('menuitemradio')).toHaveCount(Object.keys(BUILTIN_SCENARIOS).length);
  const item = list.getByRole('menuitemradio', { name: /Quarantine lifted by a successful FLR/ });
  // Each entry carries its one-line explanation and where it comes from in the seeds.
  await expect(item).toContainText('Function Level Reset succeeds');
  await expect(item).toContainText('Seed 003');
  await item.click();
  await ready(page);
  await expect(app(page)).toHaveAttribute('data-builtin', 'recovery-flr');
  await expect(page.getByRole('button', { name: /^Scenario(?! JSON)/ })).toContainText('Quarantine lifted by a successful FLR');
  expect(scenarioOf(page.url()).name).toBe(BUILTIN_SCENARIOS['recovery-flr']!.name);
  // Seed 003 #04/#05: after the successful FLR, done() lifts the quarantine.
  await toEnd(page);
  await expect(gdev(page)).toHaveAttribute('data-blocked', 'NO');
  await expect(gdev(page)).toHaveAttribute('data-ats-broken', 'false');
  await expect(page.getByTestId('kernel-log')).toContainText('Device is unblocked after successful reset');
});

test('?scenario= opens a built-in by id', async ({ page }) => {
  await open(page, '/?scenario=shared-batch');
  await expect(app(page)).toHaveAttribute('data-builtin', 'shared-batch');
  await expect(page.getByTestId('gdev')).toHaveCount(3);
  await expect(page.getByTestId('group')).toHaveCount(3);
});

test('scenario text is shown as text, never as markup', async ({ page }) => {
  const evil = '<img src=x onerror="window.__pwned=1"><b>bold</b>';
  await open(page, linkTo(healthy({ name: evil, description: `Plain words. ${evil}` })));
  await expect(page.getByRole('button', { name: /^Scenario(?! JSON)/ })).toContainText(evil);
  expect(await page.locator('header img, .bar img, .bar b b').count()).toBe(0);
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
});

test('the endpoint view marks stale ATC entries and corrupted pages (failed reset under baseline)', async ({ page }) => {
  // Seed 001 / 003 #04: baseline's done() unblocks after a failed reset; the stale ATC corrupts reused pages.
  await open(page, '/?scenario=failed-reset&policy=baseline');
  await toEnd(page);
  const stats = page.getByTestId('stats');
  const corrupted = Number(await stats.getAttribute('data-corrupted-pages'));
  expect(corrupted).toBeGreaterThan(0);
  expect(Number(await stats.getAttribute('data-stale-atc-writes'))).toBeGreaterThan(0);
  await expect(page.locator('.endpoints rect.page.bad')).toHaveCount(corrupted);
  // Under v4 the failed reset keeps the device blocked and nothing is corrupted.
  await open(page, '/?scenario=failed-reset&policy=v4');
  await toEnd(page);
  await expect(page.getByTestId('stats')).toHaveAttribute('data-corrupted-pages', '0');
  await expect(gdev(page, NVME)).not.toHaveAttribute('data-blocked', 'NO');
});
