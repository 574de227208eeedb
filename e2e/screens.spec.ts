/**
 * Every screen (issue 13, point 1): from 1024×768 to 2560×1440 and at 200 %
 * browser zoom, every view with a page hook is on screen or reachable by
 * scrolling, no two labelled regions cover each other, no label is wider
 * than its box, and the header's buttons stay on one line each.
 *
 * 200 % zoom is emulated as the browser does it: a 1440×900 screen at 200 %
 * gives the page a 720×450 CSS-pixel viewport with devicePixelRatio 2 (the
 * media queries, the layout and the pixels are those of real page zoom).
 * CSS `zoom` on the root would not do: the media queries would still see
 * 1440 px, and the page's own zoom for large screens sits on the same property.
 */
import { expect, test, type Page } from '@playwright/test';
import { BUILTIN_SCENARIOS } from '../core/index.ts';
import { groupsClipped, linkTo, open, toEnd, wrappedSlotRows } from './support.ts';

const SIZES = [
  { name: '1024×768', width: 1024, height: 768, dpr: 1 },
  { name: '1280×720', width: 1280, height: 720, dpr: 1 },
  { name: '1440×900', width: 1440, height: 900, dpr: 1 },
  { name: '1920×1080', width: 1920, height: 1080, dpr: 1 },
  { name: '2560×1440', width: 2560, height: 1440, dpr: 1 },
  { name: '1440×900 at 200 %', width: 720, height: 450, dpr: 2 },
  { name: '1920×1080 at 200 %', width: 960, height: 540, dpr: 2 },
];

/** Three columns on a window this high: the page is the window, only columns and views scroll (App.svelte). */
const fitsWindow = (s: { width: number; height: number }) => s.width >= 1200 && s.height >= 600;

/** The page hooks of docs/SCENARIO-FORMAT.md and docs/SCENARIO-EXTENSIONS.md that name a view. */
const VIEWS = [
  'cmdq-ring',
  'cmdq-window',
  'gerror-bit',
  'group',
  'gdev',
  'ste',
  'endpoint',
  'stats',
  'kernel-log',
  'causal-chain',
  'virtual-time',
  'scenario-description',
];

/** Each labelled region's centre hits the region itself (nothing lies over it). Returns the ones covered. */
async function covered(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const regions = [
      ...document.querySelectorAll<HTMLElement>('header.header, .bar, section.panel, section.timeline'),
      ...document.querySelectorAll<Element>('[data-testid="gdev"], [data-testid="group"] text.gtitle, g.smmu'),
    ];
    const bad: string[] = [];
    for (const el of regions) {
      // A region the mode hides (presentation mode's story) has no box: it covers nothing and is covered by nothing.
      if (el.getClientRects().length === 0) continue;
      el.scrollIntoView({ block: 'center', inline: 'center' });
      const r = el.getBoundingClientRect();
      const x = Math.min(Math.max(r.left + r.width / 2, 0), innerWidth - 1);
      const y = Math.min(Math.max(r.top + r.height / 2, 0), innerHeight - 1);
      const hit = document.elementFromPoint(x, y);
      // A text with pointer-events: none is looked through: its group is what must be hit.
      const owner = el.matches('text') ? el.closest('[data-testid="group"]')! : el;
      if (!hit || !owner.contains(hit)) {
        const name = el.getAttribute('aria-labelledby') ?? el.getAttribute('data-device') ?? el.className.toString();
        bad.push(`${el.tagName} ${name} covered by ${hit?.tagName} ${hit?.className.toString() ?? ''}`);
      }
    }
    return bad;
  });
}

/** Labels whose text is wider than their box (HTML: scrollWidth > clientWidth; SVG: the text's box beyond its shape). */
async function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const bad: string[] = [];
    const labels = document.querySelectorAll<HTMLElement>(
      'button, h1, h2, th, td, dt, dd, .legend li, .stats span, .qstate, .desc, .status, .tabs button, .ep > span, label',
    );
    for (const el of labels) {
      const cs = getComputedStyle(el);
      if (cs.display === 'inline' || cs.display === 'none' || el.clientWidth === 0) continue;
      if (el.scrollWidth > el.clientWidth + 1)
        bad.push(`${el.tagName} "${el.textContent?.trim().slice(0, 60)}" ${el.scrollWidth} > ${el.clientWidth}`);
    }
    // SVG: each device's texts inside its box, the SMMU's label inside its box, the CMDQ window's labels inside the window.
    const inside = (t: SVGGraphicsElement, box: SVGGraphicsElement, what: string) => {
      const a = t.getBoundingClientRect();
      const b = box.getBoundingClientRect();
      if (a.left < b.left - 1 || a.right > b.right + 1)
        bad.push(`${what} "${t.textContent}" ${a.left}..${a.right} outside ${b.left}..${b.right}`);
    };
    for (const g of document.querySelectorAll<SVGGElement>('[data-testid="gdev"]')) {
      const box = g.querySelector<SVGRectElement>('rect.dbox')!;
      for (const t of g.querySelectorAll<SVGTextElement>('text')) inside(t, box, 'device label');
    }
    const smmu = document.querySelector<SVGGElement>('g.smmu')!;
    inside(smmu.querySelector('text')!, smmu.querySelector('rect')!, 'SMMU label');
    const strip = document.querySelector<SVGSVGElement>('[data-testid="cmdq-window"]')!;
    for (const t of strip.querySelectorAll<SVGTextElement>('text')) inside(t, strip, 'CMDQ window label');
    // PROD's and CONS's labels never meet.
    const p = strip.querySelector('.plabel')!.getBoundingClientRect();
    const c = strip.querySelector('.clabel')!.getBoundingClientRect();
    if (p.bottom > c.top && c.bottom > p.top && p.right > c.left && c.right > p.left) bad.push('PROD and CONS labels overlap');
    return bad;
  });
}

async function viewsReachable(page: Page): Promise<void> {
  for (const id of VIEWS) {
    const el = page.getByTestId(id).first();
    await el.scrollIntoViewIfNeeded();
    await expect(el, `${id} is on screen once scrolled to`).toBeInViewport();
  }
  const play = page.getByRole('button', { name: 'Play' });
  await expect(play).toBeInViewport();
}

async function headerOnOneLineEach(page: Page): Promise<void> {
  const heights = await page.locator('header.header button').evaluateAll((bs) =>
    bs.map((b) => ({
      t: b.textContent?.trim(),
      h: (b as HTMLElement).offsetHeight,
      lh: parseFloat(getComputedStyle(b).lineHeight) || 18,
    })),
  );
  for (const b of heights) expect(b.h, `header button "${b.t}" is one line`).toBeLessThan(b.lh * 2 + 4);
}

for (const s of SIZES) {
  test.describe(s.name, () => {
    test.use({ viewport: { width: s.width, height: s.height }, deviceScaleFactor: s.dpr });

    test('every view is reachable, nothing covers anything, no label overflows (the run at its end)', async ({ page }) => {
      await open(page, '/');
      await toEnd(page);
      await viewsReachable(page);
      expect(await covered(page)).toEqual([]);
      expect(await overflowing(page)).toEqual([]);
      expect(await wrappedSlotRows(page)).toEqual([]);
      expect(await groupsClipped(page)).toEqual([]);
      await headerOnOneLineEach(page);
    });

    test('with the CMDQ stopped on ATC_INV_SYNC and the description open, the long labels still fit', async ({ page }) => {
      // 1031 µs: the first ATC_INV has timed out, the CMD_SYNC stopped, the GERROR interrupt not yet taken.
      await open(page, linkTo(BUILTIN_SCENARIOS['spam-vs-quarantine']!, { t: 1031 }));
      await expect(page.getByTestId('smmu-label')).toHaveText('arm-smmu-v3 · CMDQ stopped: ATC_INV_SYNC');
      await page.getByRole('button', { name: 'Whole description' }).click();
      await viewsReachable(page);
      expect(await covered(page)).toEqual([]);
      expect(await overflowing(page)).toEqual([]);
      expect(await wrappedSlotRows(page)).toEqual([]);
      expect(await groupsClipped(page)).toEqual([]);
      await headerOnOneLineEach(page);
    });

    if (s.width >= 1280)
      test('the header is one row whatever the scenario is called: a long name is cut with "…" and read whole in the description', async ({
        page,
      }) => {
        // broken-pending has the longest name of the built-ins (79 characters).
        const long = Object.keys(BUILTIN_SCENARIOS).sort(
          (a, b) => BUILTIN_SCENARIOS[b]!.name.length - BUILTIN_SCENARIOS[a]!.name.length,
        )[0]!;
        await open(page, `/?scenario=${long}&policy=v4`);
        const tops = await page
          .locator('header.header')
          .locator('h1, button:visible')
          .evaluateAll((els) => els.map((e) => Math.round(e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2)));
        expect(Math.max(...tops) - Math.min(...tops), 'header items share one row').toBeLessThan(8);
        expect(await overflowing(page)).toEqual([]);
        await expect(page.getByTestId('scenario-description')).toContainText(BUILTIN_SCENARIOS[long]!.name);
      });

    if (fitsWindow(s))
      test('the page is the window: it does not scroll, the timeline and the first panel of each column are on screen, the text keeps its size', async ({
        page,
      }) => {
        await open(page, '/?scenario=spam-vs-quarantine&policy=v4&t=2100');
        const m = await page.evaluate(() => ({
          sh: document.scrollingElement!.scrollHeight,
          sw: document.scrollingElement!.scrollWidth,
          ih: innerHeight,
          iw: innerWidth,
        }));
        expect(m.sh, 'page height').toBeLessThanOrEqual(m.ih);
        expect(m.sw, 'page width').toBeLessThanOrEqual(m.iw);
        await expect(page.getByRole('region', { name: 'Timeline and controls' })).toBeInViewport({ ratio: 1 });
        await expect(page.getByRole('button', { name: 'Play' })).toBeInViewport({ ratio: 1 });
        for (const id of ['cmdq-title', 'groups-title', 'ste-title', 'log-title'])
          await expect(page.locator(`#${id}`), id).toBeInViewport({ ratio: 1 });
        // Nothing was shrunk to make it fit: the views' text is 11 px or more.
        const sizes = await page.evaluate(() =>
          [
            '[data-testid="kernel-log"] .line',
            'table.near td.args',
            '[data-testid="gdev"] text.sub',
            '[data-testid="ste"] td',
          ].map((sel) => {
            const el = document.querySelector(sel)!;
            let z = 1;
            for (let e: Element | null = el; e; e = e.parentElement) z *= Number(getComputedStyle(e).zoom) || 1;
            return { sel, px: parseFloat(getComputedStyle(el).fontSize) * z };
          }),
        );
        for (const { sel, px } of sizes) expect(px, sel).toBeGreaterThanOrEqual(11);
      });
  });
}

/**
 * CONS.ERR with a long CERROR name (coclear-no-space, stopped on
 * CERROR_ATC_INV_SYNC in a 128-entry ring): the registers stay inside the
 * CMDQ panel at 1280×720, the name breaks after an underscore.
 */
test('coclear-no-space at 1280×720 with the CMDQ stopped: CMDQ_CONS and CONS.ERR stay inside the CMDQ panel', async ({
  browser,
}) => {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await ctx.newPage();
  await open(page, '/?scenario=coclear-no-space&policy=v4&t=3000');
  await expect(page.getByTestId('cmdq-ring')).toHaveAttribute('data-err', 'CERROR_ATC_INV_SYNC');
  const out = await page.evaluate(() => {
    const panel = document.querySelector('[data-testid="cmdq-ring"]')!.closest('section')!.getBoundingClientRect();
    return [...document.querySelectorAll('dl.regs dd')]
      .map((dd) => {
        const r = document.createRange();
        r.selectNodeContents(dd);
        return { t: dd.textContent!.trim(), right: r.getBoundingClientRect().right };
      })
      .filter((x) => x.right > panel.right - 1)
      .map((x) => `${x.t} ends at ${x.right}, the panel at ${panel.right}`);
  });
  expect(out).toEqual([]);
  await ctx.close();
});

/**
 * The groups view follows the story: with 66 devices, the one that is
 * quarantined is scrolled into the view when the run reaches it, in the
 * normal page and in presentation mode, without scrolling the page.
 */
for (const present of [false, true]) {
  test(`full-ats-batch at 1280×720${present ? ' in presentation mode' : ''}: the groups view scrolls itself to the device that changes state`, async ({
    browser,
  }) => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await ctx.newPage();
    await open(page, `/?scenario=full-ats-batch${present ? '&present=1' : ''}`);
    const broken = page.locator('[data-testid="gdev"][data-blocked="BROKEN"]');
    await expect(broken).toHaveCount(0);
    const pageY = await page.evaluate(() => scrollY);
    await toEnd(page);
    await expect(broken).toHaveCount(1);
    // Inside the groups view's visible box, with no scrolling by the test.
    await expect
      .poll(() =>
        page.evaluate(() => {
          const d = document.querySelector('[data-testid="gdev"][data-blocked="BROKEN"]')!.getBoundingClientRect();
          const v = document.querySelector('section.groups .scroll')!.getBoundingClientRect();
          return d.top >= v.top && d.bottom <= v.bottom && d.left >= v.left && d.right <= v.right;
        }),
      )
      .toBe(true);
    expect(await page.evaluate(() => scrollY), 'the page itself did not scroll').toBe(pageY);
    await ctx.close();
  });
}

/**
 * Large topologies (66 and 64 devices) and stale-report, in the normal page
 * and in presentation mode: the groups view is not clipped at its sides, its
 * devices stay readable and reachable by scrolling, nothing covers anything.
 */
for (const id of ['stale-report', 'full-ats-batch', 'coclear-no-space']) {
  for (const s of SIZES.filter((z) => ['1280×720', '1920×1080', '1920×1080 at 200 %'].includes(z.name))) {
    for (const present of [false, true]) {
      test(`${id} at ${s.name}${present ? ' in presentation mode' : ''}: the devices are readable and reachable, nothing covered or clipped`, async ({
        browser,
      }) => {
        const ctx = await browser.newContext({ viewport: { width: s.width, height: s.height }, deviceScaleFactor: s.dpr });
        const page = await ctx.newPage();
        await open(page, `/?scenario=${id}${present ? '&present=1' : ''}`);
        await toEnd(page);
        expect(await groupsClipped(page)).toEqual([]);
        expect(await covered(page)).toEqual([]);
        expect(await overflowing(page)).toEqual([]);
        expect(await wrappedSlotRows(page)).toEqual([]);
        const last = page.getByTestId('gdev').last();
        await last.scrollIntoViewIfNeeded();
        await expect(last).toBeInViewport({ ratio: 1 });
        const px = await last.locator('text.bdf').evaluate((el) => {
          let z = 1;
          for (let e: Element | null = el; e; e = e.parentElement) z *= Number(getComputedStyle(e).zoom) || 1;
          return parseFloat(getComputedStyle(el).fontSize) * z;
        });
        expect(px, 'a device label').toBeGreaterThanOrEqual(11);
        if (!present) {
          // The devices and the StreamIDs scroll inside their views: neither makes the page a scroll of its own.
          const h = await page.evaluate(() => ({
            win: innerHeight,
            groups: document.querySelector('section.groups')!.getBoundingClientRect().height,
            stes: document.querySelector('section.stes')!.getBoundingClientRect().height,
          }));
          expect(h.groups, 'the groups view').toBeLessThanOrEqual(Math.max(300, h.win));
          expect(h.stes, 'the stream table').toBeLessThanOrEqual(Math.max(160, h.win / 2) + 1);
        }
        if (!present && fitsWindow(s))
          expect(
            await page.evaluate(() => document.scrollingElement!.scrollHeight <= innerHeight),
            'the page does not scroll',
          ).toBe(true);
        await ctx.close();
      });
    }
  }
}
