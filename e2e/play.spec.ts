import { expect, test } from '@playwright/test';
import { NVME, app, count, gdev, gerrorBit, group, open, position, pressOnPage, ready } from './support.ts';

const vt = (page: import('@playwright/test').Page) => page.getByTestId('virtual-time');

test('Play runs the default scenario to its quarantine; Pause stops it', async ({ page }) => {
  await open(page, '/');
  // 16 events/s: the 33 events of the run take about two seconds.
  await page.getByRole('combobox', { name: /Speed/ }).selectOption('16');
  await page.getByRole('button', { name: 'Play', exact: true }).click();
  await expect(app(page)).toHaveAttribute('data-playing', 'true');
  // Seed 003 #11 and #24 under v4: the ATC timeout disables ATS (ats_broken), then the core's worker blocks the device.
  await expect(gdev(page)).toHaveAttribute('data-blocked', 'BROKEN', { timeout: 20_000 });
  await expect(gdev(page)).toHaveAttribute('data-ats-broken', 'true');
  await expect(gdev(page)).toHaveAttribute('data-eats', '0');
  await expect(group(page)).toHaveAttribute('data-recovery-cnt', '1');
  await expect(page.getByTestId('kernel-log')).toContainText('IOMMU has quarantined the device');
  // It plays to the end and stops by itself.
  await expect(app(page)).toHaveAttribute('data-playing', 'false', { timeout: 20_000 });
  expect(await position(page)).toBe(await count(page));

  await page.getByRole('button', { name: 'Go to start' }).click();
  await ready(page);
  await page.getByRole('combobox', { name: /Speed/ }).selectOption('2');
  await page.getByRole('button', { name: 'Play', exact: true }).click();
  await expect(page.getByRole('button', { name: 'Pause', exact: true })).toBeVisible();
  await page.getByRole('button', { name: 'Pause', exact: true }).click();
  await expect(app(page)).toHaveAttribute('data-playing', 'false');
  const p = await position(page);
  await page.waitForTimeout(1200);
  expect(await position(page)).toBe(p);
});

test('Step and Step back move one event; the views follow, GERRORN visibly acknowledges', async ({ page }) => {
  await open(page, '/');
  const step = page.getByRole('button', { name: 'Step', exact: true });
  const back = page.getByRole('button', { name: 'Step back', exact: true });
  await expect(back).toBeDisabled();
  await step.click();
  await expect(app(page)).toHaveAttribute('data-position', '1');
  await step.click();
  await expect(app(page)).toHaveAttribute('data-position', '2');
  await back.click();
  await expect(app(page)).toHaveAttribute('data-position', '1');

  // Step until CMDQ_ERR becomes active (GERROR toggled, GERRORN not yet) …
  const n = await count(page);
  let guard = 0;
  while ((await gerrorBit(page, 'CMDQ_ERR').getAttribute('data-active')) !== 'true') {
    await step.click();
    await ready(page);
    expect(++guard).toBeLessThan(n);
  }
  await expect(page.getByTestId('cmdq-ring')).toHaveAttribute('data-err', 'CERROR_ATC_INV_SYNC');
  const errAt = await position(page);
  // … and on until the ISR acknowledges it (GERRORN := GERROR): the bit is no longer active.
  while ((await gerrorBit(page, 'CMDQ_ERR').getAttribute('data-active')) === 'true') {
    await step.click();
    await ready(page);
    expect(++guard).toBeLessThan(n);
  }
  await expect(page.getByTestId('kernel-log')).toContainText('ATC invalidate timeout');
  // Step back over the acknowledgement: active again.
  await page.getByRole('button', { name: 'Step back', exact: true }).click();
  await ready(page);
  await expect(gerrorBit(page, 'CMDQ_ERR')).toHaveAttribute('data-active', 'true');
  expect(await position(page)).toBeGreaterThanOrEqual(errAt);
});

test('seeking is instant anywhere: by the track, by the slider, by t= in the address', async ({ page }) => {
  await open(page, '/?scenario=spam-vs-quarantine&policy=baseline');
  const n = await count(page);
  expect(n).toBeGreaterThan(30);
  const track = page.locator('.timeline .track');
  const box = (await track.boundingBox())!;
  await track.click({ position: { x: box.width * 0.75, y: box.height / 2 } });
  await ready(page);
  const p = await position(page);
  expect(Math.abs(p - Math.round(0.75 * n))).toBeLessThanOrEqual(2);
  // The slider is the keyboard's way along the track.
  await page.getByRole('slider', { name: 'Position in the run' }).focus();
  await page.keyboard.press('ArrowLeft');
  await expect(app(page)).toHaveAttribute('data-position', String(p - 1));
  // The address follows the moment shown (t in µs).
  await expect
    .poll(() => new URL(page.url()).searchParams.get('t'))
    .toBe(String(Number(await vt(page).getAttribute('data-t-ns')) / 1000));
  // Opening at t= shows that moment, paused.
  const t = new URL(page.url()).searchParams.get('t')!;
  await open(page, `/?scenario=spam-vs-quarantine&policy=baseline&t=${t}`);
  expect(await position(page)).toBeLessThanOrEqual(p - 1);
  expect(Number(await vt(page).getAttribute('data-t-ns')) / 1000).toBeCloseTo(Number(t), 3);
  await expect(app(page)).toHaveAttribute('data-playing', 'false');
});

test('markers on the timeline jump to faults, errors and state changes, and explain them', async ({ page }) => {
  await open(page, '/');
  const markers = page.locator('.timeline .marker');
  expect(await markers.count()).toBeGreaterThan(2);
  await page.locator('.timeline .marker.state').last().click();
  await ready(page);
  await expect(gdev(page)).toHaveAttribute('data-blocked', 'BROKEN');
  // The causal chain of that state change runs back to the scenario step that began it.
  const chain = page.getByTestId('causal-chain');
  await expect(chain).toContainText('QUARANTINE');
  await expect(chain).toContainText('CERROR_ATC_INV_SYNC');
  await expect(chain).toContainText('scenario step');
});

test('the keyboard drives the timeline and opens the device menu', async ({ page }) => {
  await open(page, '/');
  await pressOnPage(page, 'ArrowRight');
  await expect(app(page)).toHaveAttribute('data-position', '1');
  await pressOnPage(page, 'ArrowRight');
  await pressOnPage(page, 'ArrowLeft');
  await expect(app(page)).toHaveAttribute('data-position', '1');
  await pressOnPage(page, 'Shift+ArrowRight');
  await ready(page);
  expect(await position(page)).toBeGreaterThan(1);
  await pressOnPage(page, 'End');
  await expect(app(page)).toHaveAttribute('data-position', String(await count(page)));
  await pressOnPage(page, 'Home');
  await expect(app(page)).toHaveAttribute('data-position', '0');
  await pressOnPage(page, 'Space');
  await expect(app(page)).toHaveAttribute('data-playing', 'true');
  await pressOnPage(page, 'Space');
  await expect(app(page)).toHaveAttribute('data-playing', 'false');
  const speed = page.getByRole('combobox', { name: /Speed/ });
  const before = Number(await speed.inputValue());
  await pressOnPage(page, '+');
  expect(Number(await speed.inputValue())).toBe(before * 2);
  await pressOnPage(page, '-');
  expect(Number(await speed.inputValue())).toBe(before);

  // Tab reaches the device; Enter opens its menu; arrows and Escape work inside it.
  await ready(page);
  await gdev(page, NVME).focus();
  await page.keyboard.press('Enter');
  const menu = page.getByRole('menu', { name: `Device ${NVME}` });
  await expect(menu).toBeVisible();
  await expect(menu.getByRole('menuitem').first()).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await expect(menu.getByRole('menuitem', { name: 'Stop answering ATC invalidations' })).toBeFocused();
  await page.keyboard.press('Escape');
  await expect(menu).toBeHidden();
  await expect(gdev(page, NVME)).toBeFocused();

  // "?" lists the shortcuts.
  await pressOnPage(page, '?');
  await expect(page.getByRole('dialog', { name: 'Keyboard' })).toBeVisible();
  await page.keyboard.press('Escape');
  await expect(page.getByRole('dialog', { name: 'Keyboard' })).toBeHidden();
});

test('every control has an accessible name', async ({ page }) => {
  await open(page, '/');
  const unnamed = await page.evaluate(() => {
    const out: string[] = [];
    for (const el of document.querySelectorAll<HTMLElement>(
      'button, [role="button"], input, select, [role="slider"], [role="radio"], [role="tab"]',
    )) {
      const labelled =
        el.getAttribute('aria-label') ||
        el.getAttribute('aria-labelledby') ||
        (el as HTMLInputElement).labels?.length ||
        el.textContent?.trim() ||
        el.getAttribute('title') ||
        el.getAttribute('placeholder');
      if (!labelled) out.push(el.outerHTML.slice(0, 120));
    }
    return out;
  });
  expect(unnamed).toEqual([]);
});
