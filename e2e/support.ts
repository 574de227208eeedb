/**
 * Helpers for the browser tests: open the page, wait until the view shown is
 * the view of the position shown, read the page hooks of SCENARIO-FORMAT.md,
 * and build or decode scenario links with the core's own codec.
 */
import { expect, type Locator, type Page } from '@playwright/test';
import { decodeScenario, encodeScenario, parseAppUrl, shortLinkScenario, type Scenario, type Step } from '../core/index.ts';

export const NVME = '0000:01:00.0';

/** A healthy one-device scenario: maps, a DMA that fills the ATC, later unmaps. */
export function healthy(over: Partial<Scenario> = {}, steps?: Step[]): Scenario {
  return {
    format: 'smmu-scenario/1',
    name: 'Healthy NVMe',
    description: 'A device that answers every ATC invalidation.',
    seed: 1,
    policy: 'v4',
    memory: { pages: 32 },
    domains: [
      { id: 'dma0', type: 'paging' },
      { id: 'dma1', type: 'paging' },
    ],
    groups: [{ id: 0, domain: 'dma0', devices: [{ bdf: NVME, sids: [256], ats: true, pasid: false, driver: 'nvme' }] }],
    steps: steps ?? [
      { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 4 },
      { at: 10, op: 'dma', device: NVME, iova: '0x10000', write: true },
      { at: 3000, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 4 },
      { at: 4000, op: 'map', domain: 'dma0', iova: '0x20000', pages: 2 },
      { at: 4010, op: 'dma', device: NVME, iova: '0x20000', write: true },
      { at: 6000, op: 'unmap', domain: 'dma0', iova: '0x20000', pages: 2 },
    ],
    ...over,
  } as Scenario;
}

/** The page address that opens a scenario (and optionally a policy and a time in µs). */
export function linkTo(s: Scenario, query: Record<string, string | number> = {}): string {
  const q = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
  return `/${q ? `?${q}` : ''}#s=${encodeScenario(s)}`;
}

/** The scenario held by a page address: a short link's built-in (under its preset), or the one in #s=. */
export function scenarioOf(url: string): Scenario {
  const u = new URL(url);
  const st = parseAppUrl(u.search, u.hash);
  if (st.encoded === null && st.builtin !== null) {
    const b = shortLinkScenario(st.builtin, st.policy);
    if (!b) throw new Error(`no built-in ${st.builtin} in ${url}`);
    return b;
  }
  if (st.encoded === null) throw new Error(`no scenario in ${url}`);
  const d = decodeScenario(st.encoded);
  if (!d.ok) throw new Error(d.error);
  return d.raw as Scenario;
}

export const app = (page: Page): Locator => page.getByTestId('app');

/** Wait until the run is loaded and the views show the position shown. */
export async function ready(page: Page): Promise<void> {
  await expect(app(page)).toHaveAttribute('data-ready', 'true', { timeout: 20_000 });
}

export async function open(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await ready(page);
}

export async function position(page: Page): Promise<number> {
  return Number(await app(page).getAttribute('data-position'));
}

export async function count(page: Page): Promise<number> {
  return Number(await app(page).getAttribute('data-count'));
}

export const gdev = (page: Page, bdf = NVME): Locator => page.locator(`[data-testid="gdev"][data-device="${bdf}"]`);
export const group = (page: Page, id = 0): Locator => page.locator(`[data-testid="group"][data-group="${id}"]`);
export const gerrorBit = (page: Page, name: string): Locator => page.locator(`[data-testid="gerror-bit"][data-bit="${name}"]`);

/** Press a key with the focus on the page body (not in a control). */
export async function pressOnPage(page: Page, key: string): Promise<void> {
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  await page.keyboard.press(key);
}

/** Go to the end of the run and wait for its view. */
export async function toEnd(page: Page): Promise<void> {
  await pressOnPage(page, 'End');
  const n = await count(page);
  await expect(app(page)).toHaveAttribute('data-position', String(n));
  await ready(page);
}

/**
 * Open a device's menu by clicking it, choose an item (following submenus
 * by name) and wait for the page to have loaded the scenario it makes.
 */
export async function deviceAction(page: Page, bdf: string, ...path: Array<string | RegExp>): Promise<void> {
  await gdev(page, bdf).click();
  const menu = page.getByRole('menu');
  await expect(menu).toBeVisible();
  for (const name of path) await menu.getByRole('menuitem', { name }).click();
  await expect(menu).toBeHidden();
  await ready(page);
}

/**
 * What of the groups view lies beyond its box at the sides (a clipped view):
 * the SMMU, each group and each device must lie within the view's scrolling
 * box, and the drawing must be no wider than the box.
 */
export async function groupsClipped(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const box = document.querySelector<HTMLElement>('section.groups .scroll')!;
    const b = box.getBoundingClientRect();
    const bad: string[] = [];
    if (box.scrollWidth > box.clientWidth + 1) bad.push(`drawing ${box.scrollWidth} wide in a box ${box.clientWidth} wide`);
    const parts = [
      ...box.querySelectorAll<SVGGraphicsElement>('g.smmu rect'),
      ...box.querySelectorAll<SVGGraphicsElement>('rect.gbox'),
      ...box.querySelectorAll<SVGGraphicsElement>('[data-testid="gdev"]'),
    ];
    for (const el of parts) {
      const r = el.getBoundingClientRect();
      if (r.left < b.left - 1 || r.right > b.right + 1) {
        const name = el.closest('[data-device]')?.getAttribute('data-device') ?? el.getAttribute('class') ?? el.tagName;
        bad.push(`${name} ${Math.round(r.left)}..${Math.round(r.right)} outside ${Math.round(b.left)}..${Math.round(b.right)}`);
      }
    }
    return bad;
  });
}

/** Rows of the CMDQ panel's decoded slots that take more than one line (a decode broken onto a second line). */
export async function wrappedSlotRows(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const bad: string[] = [];
    for (const tr of document.querySelectorAll<HTMLTableRowElement>('table.near tr')) {
      for (const td of tr.cells) {
        // The lines the cell's text is laid out on: its text's boxes, told apart by their tops.
        const half = parseFloat(getComputedStyle(td).fontSize) / 2;
        const tops: number[] = [];
        const walk = document.createTreeWalker(td, NodeFilter.SHOW_TEXT);
        for (let n = walk.nextNode(); n; n = walk.nextNode()) {
          const range = document.createRange();
          range.selectNodeContents(n);
          for (const r of range.getClientRects())
            if (r.width > 0 && !tops.some((t) => Math.abs(t - r.top) < half)) tops.push(r.top);
        }
        if (tops.length > 1) bad.push(`slot ${tr.cells[0]?.textContent} "${td.textContent}" on ${tops.length} lines`);
      }
    }
    return bad;
  });
}
