/**
 * Wording a kernel audience reads right (issue 13, point 6) and the views
 * that keep short-lived states readable (point 3).
 */
import { expect, test } from '@playwright/test';
import { BUILTIN_SCENARIOS, DEFAULT_SCENARIO_ID } from '../core/index.ts';
import { DEFAULT_SPEED } from '../web/lib/session.svelte.ts';
import { NVME, app, gdev, linkTo, open, ready, toEnd } from './support.ts';

const spam = BUILTIN_SCENARIOS['spam-vs-quarantine']!;

test.describe('wording', () => {
  test('a device box says "blocked: NO", not a bare NO', async ({ page }) => {
    await open(page, '/');
    await expect(gdev(page).locator('text.state')).toHaveText('blocked: NO');
  });

  test('GERROR does not say "no error" while the SMMU is in Service Failure Mode, even once SFM_ERR is acknowledged', async ({
    page,
  }) => {
    await open(page, linkTo(BUILTIN_SCENARIOS['service-failure-mode']!));
    await toEnd(page);
    // The driver has acknowledged SFM_ERR (GERROR = GERRORN), and the SMMU is still in SFM.
    await expect(page.locator('[data-testid="gerror-bit"][data-bit="SFM_ERR"]')).toHaveAttribute('data-active', 'false');
    const regs = page.locator('.gerror .regs');
    await expect(regs).toContainText('Service Failure Mode');
    await expect(regs).not.toContainText('no error');
  });

  test('switching the policy keeps a built-in a built-in, not "edited"', async ({ page }) => {
    await open(page, '/');
    await page.getByRole('radio', { name: 'baseline' }).click();
    await expect(app(page)).toHaveAttribute('data-policy', 'baseline');
    await ready(page);
    await expect(app(page)).toHaveAttribute('data-builtin', DEFAULT_SCENARIO_ID);
    await expect(page.locator('.bar .status')).toContainText('built-in');
    await expect(page.locator('.bar .status')).not.toContainText('edited');
    await expect(page.locator('header')).not.toContainText('(edited)');
  });

  test("the counters say what they count: stale-report's BROKEN device is one of the devices BROKEN, with no ATS quarantine", async ({
    page,
  }) => {
    await open(page, linkTo(BUILTIN_SCENARIOS['stale-report']!));
    await toEnd(page);
    await expect(gdev(page)).toHaveAttribute('data-blocked', 'BROKEN');
    await expect(page.getByTestId('stat-ats-quarantines')).toContainText('0 ATS quarantines (timeouts)');
    await expect(page.getByTestId('stat-broken')).toHaveText('1 devices BROKEN');
  });
});

test.describe('short-lived states stay readable', () => {
  test('GERROR keeps the count and the time of the last raise and acknowledgement of CMDQ_ERR', async ({ page }) => {
    await open(page, '/');
    await toEnd(page);
    const h = page.locator('[data-testid="gerror-history"][data-bit="CMDQ_ERR"]');
    await expect(h).toHaveAttribute('data-raised', '2');
    await expect(h).toHaveAttribute('data-acked', '2');
    // The second timeout at 2.032 ms, the handler's GERRORN write at 2.034 ms (the kernel log's 0.002034).
    await expect(h).toContainText('raised 2×, last at 2.032 ms');
    await expect(h).toContainText('acked 2×, last at 2.034 ms');
    await expect(page.getByTestId('gerror-bit').filter({ hasText: 'CMDQ_ERR' })).toHaveAttribute('data-active', 'false');
  });

  test('an ATC_INV past its deadline is drawn overdue until the queue moves past it', async ({ page }) => {
    const link = page.locator(`[data-testid="ats-link"][data-device="${NVME}"]`);
    // 500 µs: the ATC_INV is sent and not answered, its deadline (1 ms) not reached.
    await open(page, linkTo(spam, { t: 500 }));
    await expect(link).toHaveAttribute('data-kind', 'waiting');
    // 1031 µs: past the deadline; the CMD_SYNC stopped with CERROR_ATC_INV_SYNC.
    await open(page, linkTo(spam, { t: 1031 }));
    await expect(link).toHaveAttribute('data-kind', 'late');
    await expect(page.getByTestId('cmdq-ring')).toHaveAttribute('data-err', 'CERROR_ATC_INV_SYNC');
    // 1100 µs: acknowledged, the CMD_SYNC consumed again: the invalidation is dropped, the retry's ATC_INV not sent yet.
    await open(page, linkTo(spam, { t: 1100 }));
    await expect(link).not.toHaveAttribute('data-kind', 'late');
  });

  test('the CMDQ view zooms to the slots around CONS and PROD, and the ring stays as an overview', async ({ page }) => {
    await open(page, '/');
    await toEnd(page);
    const w = page.getByTestId('cmdq-window');
    // 256 entries, 13 commands written: a 16-slot window from slot 0 holds them all, CONS and PROD at 13.
    await expect(w).toHaveAttribute('data-size', '16');
    await expect(w).toHaveAttribute('data-first', '0');
    await expect(w.locator('rect.cell')).toHaveCount(16);
    await expect(w.locator('.plabel')).toHaveText('PROD 13');
    await expect(w.locator('.clabel')).toHaveText('CONS 13');
    await expect(page.locator('.overview path.window')).toHaveCount(1);
    expect(await page.locator('.overview path.slot').count()).toBe(256);
  });

  test(`the default speed is ${DEFAULT_SPEED} events/s: the default scenario plays in about 20 s`, async ({ page }) => {
    await open(page, '/');
    await expect(page.getByRole('combobox', { name: /Speed/ })).toHaveValue(String(DEFAULT_SPEED));
    const events = Number(await app(page).getAttribute('data-count'));
    expect(events / DEFAULT_SPEED).toBeGreaterThanOrEqual(15);
    expect(events / DEFAULT_SPEED).toBeLessThanOrEqual(30);
  });

  test('the scenario description can be read whole and folded again', async ({ page }) => {
    await open(page, linkTo(BUILTIN_SCENARIOS['stale-report']!));
    const d = page.getByTestId('scenario-description');
    const more = d.getByRole('button', { name: 'Whole description' });
    await more.click();
    await expect(d.locator('.full')).toHaveText(BUILTIN_SCENARIOS['stale-report']!.description!);
    await d.getByRole('button', { name: 'Less' }).click();
    await expect(d.locator('.full')).toHaveCount(0);
    await expect(more).toHaveAttribute('aria-expanded', 'false');
  });
});
