import { expect, test } from '@playwright/test';
import { deflateSync, strToU8 } from 'fflate';
import { BUILTIN_SCENARIOS, DEFAULT_SCENARIO_ID, base64urlEncode, encodeScenario, type Scenario } from '../core/index.ts';
import {
  NVME,
  app,
  deviceAction,
  gdev,
  group,
  healthy,
  linkTo,
  open,
  position,
  pressOnPage,
  ready,
  scenarioOf,
} from './support.ts';

test('Share copies a link that opens the same scenario, policy and moment in another browser', async ({ browser }) => {
  const ctx = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] });
  const page = await ctx.newPage();
  await open(page, linkTo(healthy(), { t: 100 }));
  await deviceAction(page, NVME, 'Stop answering ATC invalidations');
  await page.getByRole('radio', { name: 'driver-only' }).click();
  await ready(page);
  // Go to the moment the driver has quarantined the device.
  await page.locator('.timeline .marker.state').first().click();
  await ready(page);
  await page.getByRole('button', { name: 'Share' }).click();
  await expect(page.getByText('Link copied')).toBeVisible();
  const link = await page.evaluate(() => navigator.clipboard.readText());
  expect(link).toBe(page.url());
  const where = {
    position: await position(page),
    t: await page.getByTestId('virtual-time').getAttribute('data-t-ns'),
    blocked: await gdev(page).getAttribute('data-blocked'),
    atsBroken: await gdev(page).getAttribute('data-ats-broken'),
    eats: await gdev(page).getAttribute('data-eats'),
    prod: await page.getByTestId('cmdq-ring').getAttribute('data-prod'),
    cons: await page.getByTestId('cmdq-ring').getAttribute('data-cons'),
    log: await page.getByTestId('kernel-log').innerText(),
  };
  await ctx.close();

  // Another browser, with nothing kept locally.
  const other = await browser.newContext();
  const p2 = await other.newPage();
  await open(p2, link);
  expect(await position(p2)).toBe(where.position);
  await expect(p2.getByTestId('virtual-time')).toHaveAttribute('data-t-ns', where.t!);
  await expect(app(p2)).toHaveAttribute('data-policy', 'driver-only');
  await expect(gdev(p2)).toHaveAttribute('data-blocked', where.blocked!);
  await expect(gdev(p2)).toHaveAttribute('data-ats-broken', where.atsBroken!);
  await expect(gdev(p2)).toHaveAttribute('data-eats', where.eats!);
  await expect(p2.getByTestId('cmdq-ring')).toHaveAttribute('data-prod', where.prod!);
  await expect(p2.getByTestId('cmdq-ring')).toHaveAttribute('data-cons', where.cons!);
  expect(await p2.getByTestId('kernel-log').innerText()).toBe(where.log);
  expect(scenarioOf(p2.url()).steps!.at(-1)).toMatchObject({ op: 'fault', kind: 'atc-unresponsive' });
  await other.close();
});

test('a damaged link says what is wrong and shows the default scenario', async ({ page }) => {
  await open(page, '/#s=this-is-not-a-scenario');
  await expect(page.getByRole('alert')).toContainText('This link does not hold a usable scenario');
  await expect(app(page)).toHaveAttribute('data-builtin', DEFAULT_SCENARIO_ID);
  await expect(gdev(page)).toHaveCount(1);
  // The page keeps working: the alert can be dismissed and the run played.
  await page.getByRole('button', { name: 'Dismiss the message' }).click();
  await expect(page.getByRole('alert')).toHaveCount(0);
  await page.getByRole('button', { name: 'Step', exact: true }).click();
  await expect(app(page)).toHaveAttribute('data-position', '1');
});

test('a truncated link is reported as truncated', async ({ page }) => {
  const enc = encodeScenario(BUILTIN_SCENARIOS['shared-batch']!);
  await open(page, `/?t=5#s=${enc.slice(0, Math.floor(enc.length / 8) * 4)}`);
  await expect(page.getByRole('alert')).toContainText(/truncated or damaged/);
  await expect(app(page)).toHaveAttribute('data-builtin', DEFAULT_SCENARIO_ID);
});

test('a link to an invalid scenario names the JSON path at fault', async ({ page }) => {
  const bad = { ...healthy(), steps: [{ at: 5, op: 'fault', device: '0000:09:00.0', kind: 'atc-unresponsive' }] };
  await open(page, `/#s=${encodeScenario(bad as never)}`);
  await expect(page.getByRole('alert')).toContainText('steps[0].device');
  await expect(page.getByRole('alert')).toContainText('0000:09:00.0');
  await expect(app(page)).toHaveAttribute('data-builtin', DEFAULT_SCENARIO_ID);
});

test('a built-in named after the object prototype is unknown, not a page that waits for ever', async ({ page }) => {
  for (const id of ['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__']) {
    await open(page, `/?scenario=${id}`);
    await expect(page.getByRole('alert')).toContainText(`There is no built-in scenario "${id}"`);
    await expect(app(page)).toHaveAttribute('data-builtin', DEFAULT_SCENARIO_ID);
  }
});

test('bad query parameters are named; an unknown built-in falls back to the default', async ({ page }) => {
  await open(page, '/?scenario=no-such-thing&policy=v9&t=-4');
  const alert = page.getByRole('alert');
  await expect(alert).toContainText('no-such-thing');
  await expect(alert).toContainText('policy=v9');
  await expect(alert).toContainText('t=-4');
  await expect(app(page)).toHaveAttribute('data-builtin', DEFAULT_SCENARIO_ID);
  await expect(group(page)).toHaveCount(1);
});

// Issue 15, point 8: t=0x10 was read as 16 µs.
test('a time in the address is decimal µs: t=0x10 is named, not read as 16', async ({ page }) => {
  await open(page, '/?scenario=shared-batch&t=0x10');
  await expect(page.getByRole('alert')).toContainText('t=0x10 is not a time in µs');
  await expect(app(page)).toHaveAttribute('data-builtin', 'shared-batch');
  expect(await position(page)).toBe(0);
});

test('domain ids named after the object prototype survive End, Home, End', async ({ page }) => {
  const s: Scenario = {
    format: 'smmu-scenario/1',
    name: 'prototype names as domain ids',
    domains: [
      { id: '__proto__', type: 'paging' },
      { id: 'constructor', type: 'paging' },
    ],
    groups: [
      { id: 0, domain: '__proto__', devices: [{ bdf: '0000:01:00.0', sids: [256] }] },
      { id: 1, domain: 'constructor', devices: [{ bdf: '0000:02:00.0', sids: [512] }] },
    ],
    steps: [
      { at: 0, op: 'map', domain: '__proto__', iova: '0x10000', pages: 2 },
      { at: 20, op: 'unmap', domain: '__proto__', iova: '0x10000', pages: 2 },
      { at: 30, op: 'attach', group: 1, domain: '__proto__' },
    ],
  };
  await open(page, linkTo(s));
  for (const key of ['End', 'Home', 'End']) {
    await pressOnPage(page, key);
    await ready(page);
  }
  await expect(app(page)).toHaveAttribute('data-position', (await app(page).getAttribute('data-count')) ?? '');
  await expect(page.getByRole('alert')).toHaveCount(0);
  await expect(group(page, 1)).toHaveAttribute('data-domain', '__proto__');
});

test('a link nested ten thousand deep in an x- field is refused with a message, not a page that waits for ever', async ({
  page,
}) => {
  // The JSON text is written out directly: making it with JSON.stringify would recurse as deep.
  const base = JSON.stringify(BUILTIN_SCENARIOS['recovery-flr']);
  const deep = `${base.slice(0, -1)},"x-deep":${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}}`;
  const link = `/#s=${base64urlEncode(deflateSync(strToU8(deep)))}`;
  await page.goto(link);
  await ready(page);
  await expect(page.getByRole('alert')).toContainText('nested more than 64 levels deep');
  await expect(app(page)).toHaveAttribute('data-builtin', DEFAULT_SCENARIO_ID);
});

test('a #s= pasted over the page with the same query is opened, not overwritten', async ({ page }) => {
  await open(page, '/?scenario=recovery-flr');
  await expect(app(page)).toHaveAttribute('data-builtin', 'recovery-flr');
  const pasted = healthy({ name: 'Pasted over the page' });
  await page.evaluate((enc) => {
    location.hash = `#s=${enc}`;
  }, encodeScenario(pasted));
  await expect(page.getByRole('button', { name: /^Scenario(?! JSON)/ })).toContainText('Pasted over the page');
  await ready(page);
  expect(scenarioOf(page.url()).name).toBe('Pasted over the page');
});

// Issue 15, point 8: Share said "Link copied" for a link of millions of characters that cannot open.
test('Share refuses a scenario too large for a link, and says why', async ({ page }) => {
  await open(page, '/');
  await page.getByRole('button', { name: 'Scenario JSON' }).click();
  const dialog = page.getByRole('dialog', { name: /Scenario/ });
  const text = dialog.getByRole('textbox', { name: 'Scenario JSON' });
  // A syntax error says where it is.
  await text.fill('{\n  "format": "smmu-scenario/1",\n}');
  await dialog.getByRole('button', { name: 'Apply' }).click();
  await expect(dialog.getByRole('alert')).toContainText('malformed JSON at line 3, column 1');
  const big = { ...healthy({ name: 'Too large for a link' }), 'x-notes': 'n'.repeat(2 * 1024 * 1024) };
  await text.fill(JSON.stringify(big));
  await dialog.getByRole('button', { name: 'Apply' }).click();
  await expect(dialog).toBeHidden();
  await ready(page);
  await page.getByRole('button', { name: 'Share' }).click();
  await expect(page.getByText(/Not copied: the scenario is too large for a link/)).toBeVisible();
});
