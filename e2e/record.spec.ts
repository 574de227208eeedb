/**
 * Long runs in the page: a scenario opens from a file (picker or drop) and
 * from a link of each kind; the first view comes while the worker records
 * the rest, the progress bar runs to its end, and data-recording says where
 * recording stands. A refused link stays in the address bar; a run that
 * stops at a limit says so in the alert.
 */
import { readFileSync } from 'node:fs';
import { expect, test, type Page } from '@playwright/test';
import { BUILTIN_SCENARIOS, Simulation, validateScenario, type Scenario } from '../core/index.ts';
import { NVME, app, healthy, linkTo, open, ready } from './support.ts';

/** Events of a scenario's run one event per command, as the page records it. */
function eventsOf(raw: unknown): number {
  const v = validateScenario(raw);
  if (!v.ok) throw new Error('invalid');
  const sim = new Simulation(v.scenario, { stepwise: true, trace: false });
  sim.run();
  return sim.eventsProcessed;
}

const progress = (page: Page) => page.getByRole('progressbar', { name: 'Recording the run' });

/** Wait for recording to end: the progress bar gone, data-recording "done" and the count final. */
async function recorded(page: Page, events: number): Promise<void> {
  await expect(app(page)).toHaveAttribute('data-recording', 'done', { timeout: 120_000 });
  await expect(progress(page)).toHaveCount(0);
  await expect(app(page)).toHaveAttribute('data-count', String(events));
}

test('a long storm opened from a file: the start is shown at once, the rest is recorded behind a progress bar', async ({
  page,
}) => {
  test.setTimeout(180_000);
  const file = 'bench/scenarios/storm-64x2000.json';
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Scenario;
  const events = eventsOf(raw);
  await open(page, '/');
  await page.getByTestId('scenario-file').setInputFiles(file);
  // The first view, while recording goes on.
  await expect(app(page)).toHaveAttribute('data-recording', 'running', { timeout: 30_000 });
  await ready(page);
  await expect(progress(page)).toBeVisible();
  const first = Number(await app(page).getAttribute('data-count'));
  expect(first).toBeGreaterThan(0);
  expect(first).toBeLessThan(events);
  const v0 = Number(await progress(page).getAttribute('aria-valuenow'));
  expect(v0).toBeGreaterThanOrEqual(0);
  expect(v0).toBeLessThan(100);
  // Seeking works within what is recorded, while the track grows.
  await page.getByRole('button', { name: 'Go to end' }).click();
  await ready(page);
  const p1 = Number(await app(page).getAttribute('data-position'));
  expect(p1).toBeGreaterThanOrEqual(first);
  await expect.poll(async () => Number(await app(page).getAttribute('data-count')), { timeout: 60_000 }).toBeGreaterThan(p1);
  await recorded(page, events);
  await expect(page.locator('header')).toContainText(raw.name);
  await expect(page.getByText('file storm-64x2000.json').first()).toBeVisible();
  await page.getByRole('button', { name: 'Go to end' }).click();
  await expect(app(page)).toHaveAttribute('data-position', String(events));
  await ready(page);
  await expect(page.getByRole('alert')).toHaveCount(0);
});

test('a long storm opened from a file: its markers, Why?, the kernel log and the API calls come from the worker', async ({
  page,
}) => {
  test.setTimeout(180_000);
  const file = 'bench/scenarios/storm-64x2000.json';
  const raw = JSON.parse(readFileSync(file, 'utf8')) as Scenario;
  await open(page, '/');
  await page.getByTestId('scenario-file').setInputFiles(file);
  await recorded(page, eventsOf(raw));
  // The marks of the whole run are on the track; one explains itself back to the step that began it.
  const markers = page.locator('.timeline .marker');
  expect(await markers.count()).toBeGreaterThan(2);
  await page.locator('.timeline .marker.state').last().click();
  await ready(page);
  const chain = page.getByTestId('causal-chain');
  await expect(chain).toContainText('How it came to this');
  await expect(chain).toContainText('gets QUARANTINE');
  await expect(chain).toContainText('attached to __blocked');
  // The unresponsive device's menu asks why it is blocked: the worker finds the record in the whole trace.
  const broken = '0000:10:00.0';
  await page.getByRole('button', { name: 'Go to end' }).click();
  await ready(page);
  await page.getByTestId('causal-chain').getByRole('button', { name: 'clear' }).click();
  await expect(chain).not.toContainText('How it came to this');
  await page.locator(`[data-testid="gdev"][data-device="${broken}"]`).click();
  await page.getByRole('menuitem', { name: /^Why is it/ }).click();
  await expect(chain).toContainText('How it came to this');
  await expect(chain).toContainText(broken);
  // The kernel log at the end, and its filter over the whole log.
  const log = page.getByTestId('kernel-log');
  await expect(log).toContainText('IOMMU has quarantined the device');
  await page.getByRole('searchbox', { name: 'Filter the kernel log' }).fill('quarantined');
  await expect(log.locator('.line')).toHaveCount(1);
  await expect(log.locator('.line')).toContainText(broken);
  await page.getByRole('searchbox', { name: 'Filter the kernel log' }).fill('');
  // 4000 API calls returned by the end: the last ones are listed, the count of the rest said.
  await page.getByRole('tab', { name: 'API calls' }).click();
  const calls = page.getByTestId('calls');
  await expect(calls).toContainText('earlier calls not listed');
  await expect(calls.locator('li').last()).toContainText('iommu_unmap(dma0');
  // Back at the start, the caption and the log are the start's.
  await page.getByRole('button', { name: 'Go to start' }).click();
  await ready(page);
  await expect(page.getByTestId('caption-text')).toBeVisible();
  await expect(log).not.toContainText('IOMMU has quarantined the device');
});

test('a scenario dropped on the page opens', async ({ page }) => {
  const s = healthy({ name: 'Dropped NVMe' });
  await open(page, '/');
  const dt = await page.evaluateHandle((text) => {
    const d = new DataTransfer();
    d.items.add(new File([text], 'dropped.json', { type: 'application/json' }));
    return d;
  }, JSON.stringify(s));
  await page.dispatchEvent('main', 'dragover', { dataTransfer: dt });
  await page.dispatchEvent('main', 'drop', { dataTransfer: dt });
  await expect(page.getByText('file dropped.json').first()).toBeVisible();
  await recorded(page, eventsOf(s));
  await expect(page.locator(`[data-testid="gdev"][data-device="${NVME}"]`)).toBeVisible();
});

test('a file that is not a scenario is refused, naming the file, and the scenario shown stays', async ({ page }) => {
  await open(page, '/?scenario=shared-batch');
  await page.getByTestId('scenario-file').setInputFiles({
    name: 'notes.json',
    mimeType: 'application/json',
    buffer: Buffer.from('{ "format": "smmu-scenario/1", '),
  });
  await expect(page.getByRole('alert')).toContainText('The file "notes.json" could not be opened: malformed JSON');
  await page.getByTestId('scenario-file').setInputFiles({
    name: 'bad.json',
    mimeType: 'application/json',
    buffer: Buffer.from(JSON.stringify({ ...healthy(), steps: [{ at: 0, op: 'warp' }] })),
  });
  await expect(page.getByRole('alert')).toContainText('The file "bad.json" could not be opened: The scenario is not valid');
  await expect(app(page)).toHaveAttribute('data-builtin', 'shared-batch');
});

test('a link of each kind records to its end: a built-in by name, a scenario in #s=, with a time', async ({ page }) => {
  await open(page, '/?scenario=shared-batch');
  await recorded(page, eventsOf(BUILTIN_SCENARIOS['shared-batch']));
  const s = healthy();
  await open(page, linkTo(s));
  await recorded(page, eventsOf(s));
  await open(page, linkTo(s, { t: 3000 }));
  await recorded(page, eventsOf(s));
  expect(Number(await app(page).getAttribute('data-position'))).toBeGreaterThan(0);
});

test('a refused link stays in the address bar while the default is shown', async ({ page }) => {
  // A payload that is not a scenario link at all.
  await page.goto('/#s=not-a-scenario!!');
  await ready(page);
  await expect(page.getByRole('alert')).toContainText('This link does not hold a usable scenario');
  await page.waitForTimeout(300);
  expect(page.url()).toContain('#s=not-a-scenario!!');
  // A link whose scenario is not valid.
  const bad = linkTo({ ...healthy(), memory: { pages: 1 << 20 } } as Scenario);
  await page.goto('/?x=1');
  await page.goto(bad);
  await ready(page);
  await expect(page.getByRole('alert')).toContainText('memory.pages: 1048576 is out of range');
  await page.waitForTimeout(300);
  expect(page.url()).toContain(bad);
  // Playing with what is shown keeps it; opening something else replaces it.
  await page.getByRole('button', { name: 'Go to end' }).click();
  await page.waitForTimeout(300);
  expect(page.url()).toContain(bad);
});

test('a run that stops at a limit says so in the alert and stays usable', async ({ page }) => {
  const s = {
    format: 'smmu-scenario/1',
    name: 'a dead SMMU with a full queue',
    seed: 1,
    smmu: { cmdqLog2Size: 3 },
    memory: { pages: 16 },
    domains: [{ id: 'dma0', type: 'paging' }],
    groups: [{ id: 0, domain: 'dma0', devices: [{ bdf: NVME, sids: [256] }] }],
    steps: [
      { at: 0, op: 'smmu-fault', kind: 'sfm' },
      ...Array.from({ length: 9 }, (_, i) => ({ at: 10 + i, op: 'cmd', cmd: { op: 'TLBI_NH_ALL' }, sync: false })),
    ],
  } as Scenario;
  await open(page, linkTo(s));
  await expect(app(page)).toHaveAttribute('data-recording', 'stopped', { timeout: 60_000 });
  await expect(page.getByRole('alert')).toContainText('recording stopped: stopped at the time limit (300000018 µs)');
  await expect(progress(page)).toHaveCount(0);
  await page.getByRole('button', { name: 'Go to end' }).click();
  await ready(page);
});
