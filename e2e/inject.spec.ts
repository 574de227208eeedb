import { expect, test, type Page } from '@playwright/test';
import { Simulation, validateScenario, type Scenario } from '../core/index.ts';
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
  toEnd,
} from './support.ts';

/** Run the scenario the page holds headless, as `npm run sim` would. */
function headless(s: Scenario) {
  const v = validateScenario(s);
  if (!v.ok) throw new Error('invalid');
  const sim = new Simulation(v.scenario, {});
  sim.run();
  return sim.result();
}

async function state(page: Page) {
  const d = gdev(page);
  return {
    blocked: await d.getAttribute('data-blocked'),
    atsBroken: await d.getAttribute('data-ats-broken'),
    recoveryCnt: await group(page).getAttribute('data-recovery-cnt'),
    err: await page.getByTestId('cmdq-ring').getAttribute('data-err'),
  };
}

test('a fault injected by clicking the device becomes a step and spreads: CMDQ → device → group', async ({ page }) => {
  await open(page, linkTo(healthy(), { t: 100 }));
  const tUs = Number(await page.getByTestId('virtual-time').getAttribute('data-t-ns')) / 1000;
  await deviceAction(page, NVME, 'Stop answering ATC invalidations');
  // The injection is a scenario step at the moment shown, kept in the address bar.
  const s = scenarioOf(page.url());
  expect(s.steps!.at(-1)).toEqual({ op: 'fault', device: NVME, kind: 'atc-unresponsive', at: tUs });
  await expect(page.locator(`[data-testid="endpoint"][data-device="${NVME}"]`)).toHaveAttribute('data-mode', 'unresponsive');
  const injectedAt = await position(page);

  // Walk the markers: the ATC timeout stops the CMDQ, the driver quarantines the
  // master (ats_broken, STE.EATS = 0) before the core's worker blocks it and
  // counts it in the group (seed 003 #11, #18, #24).
  const seen: Array<Awaited<ReturnType<typeof state>>> = [];
  for (let i = 0; i < 30; i++) {
    const before = await position(page);
    await pressOnPage(page, 'Shift+ArrowRight');
    await ready(page);
    if ((await position(page)) === before) break;
    seen.push(await state(page));
  }
  const iErr = seen.findIndex((x) => x.err === 'CERROR_ATC_INV_SYNC');
  const iDriver = seen.findIndex((x) => x.atsBroken === 'true' && x.blocked === 'NO' && x.recoveryCnt === '0');
  const iCore = seen.findIndex((x) => x.blocked === 'BROKEN' && x.recoveryCnt === '1');
  expect(iErr).toBeGreaterThanOrEqual(0);
  expect(iDriver).toBeGreaterThan(iErr);
  expect(iCore).toBeGreaterThan(iDriver);

  // The end of the run is what the headless runner computes for the same scenario.
  await toEnd(page);
  const r = headless(s);
  const dev = r.devices.find((d) => d.bdf === NVME)!;
  await expect(gdev(page)).toHaveAttribute('data-blocked', dev.blocked);
  await expect(gdev(page)).toHaveAttribute('data-ats-broken', String(dev.atsBroken));
  await expect(gdev(page)).toHaveAttribute('data-eats', dev.steEats.join(','));
  await expect(group(page)).toHaveAttribute('data-recovery-cnt', String(r.groups[0]!.recoveryCnt));
  await expect(page.getByTestId('stats')).toHaveAttribute('data-corrupted-pages', String(r.stats.corruptedPages));
  await expect(page.getByTestId('cmdq-ring')).toHaveAttribute('data-prod', r.smmu.cmdqProd);
  await expect(page.getByTestId('cmdq-ring')).toHaveAttribute('data-cons', r.smmu.cmdqCons);
  expect(dev.blocked).toBe('BROKEN');
  const log = await page.getByTestId('kernel-log').innerText();
  for (const line of r.log) expect(log).toContain(line);

  // Step back over the injection: the device answers again.
  await page.getByRole('slider', { name: 'Position in the run' }).fill(String(injectedAt - 1));
  await ready(page);
  await expect(page.locator(`[data-testid="endpoint"][data-device="${NVME}"]`)).toHaveAttribute('data-mode', 'ok');
  await expect(gdev(page)).toHaveAttribute('data-blocked', 'NO');
});

test('attaching a domain to a recovering group fails with -EBUSY; a good FLR lifts the quarantine', async ({ page }) => {
  await open(page, linkTo(healthy(), { t: 100 }));
  await deviceAction(page, NVME, 'Stop answering ATC invalidations');
  await toEnd(page);
  await expect(group(page)).toHaveAttribute('data-recovery-cnt', '1');
  // Seed 003 #04: while recovery_cnt > 0, iommu_attach_group() returns -EBUSY.
  await group(page).locator('rect.ghit').click();
  await page
    .getByRole('menu', { name: 'IOMMU group 0' })
    .getByRole('menuitem', { name: /^Attach dma1/ })
    .click();
  await ready(page);
  await toEnd(page);
  await page.getByRole('tab', { name: 'API calls' }).click();
  await expect(page.getByTestId('calls')).toContainText('iommu_attach_group(0, dma1) = -EBUSY');

  // Seed 003 #04/#05: pci_dev_reset_iommu_done(pdev, 0) unblocks the device and re-attaches its domain.
  await deviceAction(page, NVME, 'Reset with…', /Function Level Reset/, 'reset succeeds (0)');
  await toEnd(page);
  await expect(gdev(page)).toHaveAttribute('data-blocked', 'NO');
  await expect(gdev(page)).toHaveAttribute('data-ats-broken', 'false');
  await expect(group(page)).toHaveAttribute('data-recovery-cnt', '0');
  await expect(page.getByTestId('kernel-log')).toContainText('Device is unblocked after successful reset');
  const steps = scenarioOf(page.url()).steps!;
  expect(steps.at(-1)).toMatchObject({ op: 'reset', device: NVME, method: 'flr', result: 0 });
  expect(steps.at(-2)).toMatchObject({ op: 'attach', group: 0, domain: 'dma1' });
});

test('a failed reset chosen from the menu keeps the device blocked (RESET_FAILED)', async ({ page }) => {
  await open(page, linkTo(healthy(), { t: 100 }));
  await deviceAction(page, NVME, 'Reset with…', /Secondary bus reset/, 'reset fails (-EIO)');
  // Seed 001: prepare blocks the device (RESETTING); done(-EIO) keeps it blocked as RESET_FAILED.
  await toEnd(page);
  await expect(gdev(page)).toHaveAttribute('data-blocked', 'RESET_FAILED');
  await expect(group(page)).toHaveAttribute('data-recovery-cnt', '1');
});

test('the SMMU menu issues an illegal command: CERROR_ILL, skipped by the ISR', async ({ page }) => {
  await open(page, linkTo(healthy(), { t: 100 }));
  await page.getByRole('button', { name: 'SMMU faults' }).click();
  await page
    .getByRole('menu', { name: 'SMMU' })
    .getByRole('menuitem', { name: /illegal command/ })
    .click();
  await ready(page);
  let sawIll = false;
  for (let i = 0; i < 40 && !sawIll; i++) {
    await pressOnPage(page, 'ArrowRight');
    await ready(page);
    sawIll = (await page.getByTestId('cmdq-ring').getAttribute('data-err')) === 'CERROR_ILL';
  }
  expect(sawIll).toBe(true);
  await toEnd(page);
  await expect(page.getByTestId('kernel-log')).toContainText('skipping command in error state:');
  await expect(page.getByTestId('gerror-bit').first()).toHaveAttribute('data-active', 'false');
});

test('clicking a device that is unplugged offers nothing that would fail, and the page keeps working', async ({ page }) => {
  await open(page, linkTo(healthy(), { t: 100 }));
  await deviceAction(page, NVME, 'Unplug (hot removal)');
  await toEnd(page);
  await expect(gdev(page)).toHaveAttribute('data-present', 'false');
  await gdev(page).click();
  const menu = page.getByRole('menu');
  await expect(menu.getByRole('menuitem', { name: 'Stop answering ATC invalidations' })).toHaveAttribute('aria-disabled', 'true');
  await page.keyboard.press('Escape');
  await expect(app(page)).toHaveAttribute('data-ready', 'true');
});
