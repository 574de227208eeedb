import { expect, test } from '@playwright/test';
import { BUILTIN_SCENARIOS } from '../core/index.ts';
import { NVME, app, deviceAction, healthy, linkTo, open, ready, scenarioOf } from './support.ts';

test("edits survive a reload, and survive opening someone else's link (kept under Recent)", async ({ page }) => {
  await open(page, linkTo(healthy({ name: 'My edited scenario' }), { t: 100 }));
  await deviceAction(page, NVME, 'Stop answering ATC invalidations');
  const mine = scenarioOf(page.url());
  expect(mine.steps!.some((s) => s.op === 'fault')).toBe(true);

  // A reload of the page as it is.
  await page.reload();
  await ready(page);
  expect(scenarioOf(page.url())).toEqual(mine);

  // Opening the bare address brings back what this browser had.
  await open(page, '/');
  expect(scenarioOf(page.url())).toEqual(mine);
  await expect(page.locator('.bar .status')).toContainText('kept in this browser');

  // Someone else's link replaces it on screen, but it is kept under Recent.
  await open(page, '/?scenario=shared-batch');
  await expect(app(page)).toHaveAttribute('data-builtin', 'shared-batch');
  await page.getByRole('button', { name: 'Recent' }).click();
  const item = page.getByRole('menu', { name: 'Recent scenarios' }).getByRole('menuitem', { name: /My edited scenario/ });
  await expect(item).toBeVisible();
  await item.click();
  await ready(page);
  expect(scenarioOf(page.url())).toEqual(mine);
});

test('the scenario JSON editor reports errors by path and applies valid edits', async ({ page }) => {
  await open(page, '/');
  await page.getByRole('button', { name: 'Scenario JSON' }).click();
  const dialog = page.getByRole('dialog', { name: /Scenario/ });
  const text = dialog.getByRole('textbox', { name: 'Scenario JSON' });
  const original = await text.inputValue();
  expect(JSON.parse(original)).toEqual(BUILTIN_SCENARIOS['spam-vs-quarantine']);

  await text.fill('{ "format": "smmu-scenario/1", ');
  await dialog.getByRole('button', { name: 'Apply' }).click();
  await expect(dialog.getByRole('alert')).toContainText('malformed JSON');

  const bad = JSON.parse(original);
  bad.steps[0].pages = -1;
  await text.fill(JSON.stringify(bad, null, 2));
  await dialog.getByRole('button', { name: 'Apply' }).click();
  await expect(dialog.getByRole('alert')).toContainText('steps[0].pages');
  // Nothing was lost: the page still runs the scenario it had.
  await expect(app(page)).toHaveAttribute('data-builtin', 'spam-vs-quarantine');

  const good = JSON.parse(original);
  good.name = 'Edited in the dialog';
  await text.fill(JSON.stringify(good, null, 2));
  await dialog.getByRole('button', { name: 'Apply' }).click();
  await expect(dialog).toBeHidden();
  await ready(page);
  expect(scenarioOf(page.url()).name).toBe('Edited in the dialog');
  await expect(app(page)).toHaveAttribute('data-builtin', '');
});

// Issue 15, point 2: storage holding what the page never wrote made Apply drop the edit silently and
// the Recent menu never open again.
test('corrupt local storage is ignored: the page opens, Apply applies, Recent opens', async ({ page }) => {
  const cases: Array<[string, string]> = [
    ['recent', '{}'],
    ['recent', '"abc"'],
    ['recent', '[null]'],
    ['current', '5'],
    ['current', '"hello"'],
    ['current', '{"scenario":null}'],
    ['current', 'not json'],
  ];
  for (const [key, value] of cases) {
    await page.addInitScript(
      ([k, v]) => {
        if (!sessionStorage.getItem('seeded')) {
          localStorage.clear();
          localStorage.setItem(`smmu-quarantine-lab/${k}`, v);
          sessionStorage.setItem('seeded', '1');
        }
      },
      [key, value],
    );
    await page.goto('/');
    await page.evaluate(() => sessionStorage.removeItem('seeded'));
    await ready(page);
    await expect(page.getByRole('alert')).toHaveCount(0);

    await page.getByRole('button', { name: 'Scenario JSON' }).click();
    const dialog = page.getByRole('dialog', { name: /Scenario/ });
    const text = dialog.getByRole('textbox', { name: 'Scenario JSON' });
    const edited = { ...JSON.parse(await text.inputValue()), name: `Edited with ${key}=${value}` };
    await text.fill(JSON.stringify(edited));
    await dialog.getByRole('button', { name: 'Apply' }).click();
    await expect(dialog, `${key}=${value}`).toBeHidden();
    await ready(page);
    expect(scenarioOf(page.url()).name).toBe(`Edited with ${key}=${value}`);

    await page.getByRole('button', { name: 'Recent', exact: true }).click();
    await expect(page.getByRole('menu', { name: 'Recent scenarios' }), `${key}=${value}`).toBeVisible();
    await page.keyboard.press('Escape');
  }
});

// Issue 15, point 8: two tabs kept their edits under one key, each overwriting the other's.
test("two tabs: an edit in one keeps the other tab's scenario under Recent", async ({ context }) => {
  const a = await context.newPage();
  const b = await context.newPage();
  await open(a, linkTo(healthy({ name: 'Edited in tab A' })));
  await open(b, linkTo(healthy({ name: 'Edited in tab B' })));
  // Tab A edits again: what tab B kept meanwhile must not simply be overwritten.
  await deviceAction(a, NVME, 'Stop answering ATC invalidations');
  await a.getByRole('button', { name: 'Recent', exact: true }).click();
  await expect(
    a.getByRole('menu', { name: 'Recent scenarios' }).getByRole('menuitem', { name: /Edited in tab B/ }),
  ).toBeVisible();
});
