/**
 * Issue 13: presentation mode (large type, presenter keys, blank, chapters,
 * Play stopping at chapters), the caption, the QR code of the link, and
 * embed mode.
 */
import { expect, test, type Page } from '@playwright/test';
import jsQR from 'jsqr';
import { NVME, app, gdev, groupsClipped, open, position, pressOnPage, ready, wrappedSlotRows } from './support.ts';

/** Rendered size of an element's text: its font size times the zoom of it and its ancestors. */
async function textPx(page: Page, selector: string): Promise<number> {
  return page
    .locator(selector)
    .first()
    .evaluate((el) => {
      let z = 1;
      for (let e: Element | null = el; e; e = e.parentElement) z *= Number(getComputedStyle(e).zoom) || 1;
      return parseFloat(getComputedStyle(el).fontSize) * z;
    });
}

test.describe('presentation mode at 1920×1080', () => {
  test.use({ viewport: { width: 1920, height: 1080 } });

  test('?present=1: the hook, large type, only the story views, the caption with narration', async ({ page }) => {
    await open(page, '/?present=1&t=2034.4');
    await expect(app(page)).toHaveAttribute('data-present', 'true');
    expect(await textPx(page, '[data-testid="kernel-log"] .line')).toBeGreaterThanOrEqual(24);
    expect(await textPx(page, '[data-testid="gdev"] text.bdf')).toBeGreaterThanOrEqual(24);
    expect(await textPx(page, '[data-testid="gdev"] text.state')).toBeGreaterThanOrEqual(24);
    await expect(page.getByTestId('cmdq-ring')).toBeVisible();
    await expect(page.getByTestId('gerror-bit').first()).toBeVisible();
    await expect(page.getByTestId('kernel-log')).toBeVisible();
    await expect(page.getByRole('region', { name: 'Timeline and controls' })).toBeHidden();
    await expect(page.getByTestId('ste').first()).toBeHidden();
    // The caption: the words of the quarantine's record (seed 003 #23, the same words as Why?), and chapter 6's narration.
    await expect(page.getByTestId('caption-text')).toContainText('arm_smmu_master_disable_ats(): 0000:01:00.0 ats_broken = true');
    await expect(page.getByTestId('chapter-title')).toContainText('The broken master is found');
    await expect(page.getByTestId('narration')).toContainText('times out too');
    // V: every view; V again: the story's.
    await pressOnPage(page, 'v');
    await expect(page.getByTestId('ste').first()).toBeVisible();
    await pressOnPage(page, 'v');
    await expect(page.getByTestId('ste').first()).toBeHidden();
    // The address keeps the mode.
    expect(page.url()).toContain('present=1');
  });

  test('PageDown / PageUp / → / ← go chapter by chapter; B blanks and B again unblanks', async ({ page }) => {
    await open(page, '/?present=1');
    const title = page.getByTestId('chapter-title');
    await pressOnPage(page, 'PageDown');
    await ready(page);
    await expect(title).toContainText('1/9 Healthy DMA through the ATC');
    await pressOnPage(page, 'PageDown');
    await ready(page);
    await expect(title).toContainText('2/9 The device stops answering');
    await pressOnPage(page, 'ArrowRight');
    await ready(page);
    await expect(title).toContainText('3/9');
    await pressOnPage(page, 'ArrowLeft');
    await ready(page);
    await expect(title).toContainText('2/9');
    await pressOnPage(page, 'PageUp');
    await ready(page);
    await expect(title).toContainText('1/9');
    const p = await position(page);
    await pressOnPage(page, 'b');
    await expect(page.getByTestId('blank')).toBeVisible();
    // While blank, the clicker does not move the story.
    await page.keyboard.press('PageDown');
    expect(await position(page)).toBe(p);
    await page.keyboard.press('b');
    await expect(page.getByTestId('blank')).toBeHidden();
    await expect(title).toContainText('1/9');
  });

  test('Play stops at each chapter (on by default in presentation mode), and goes on from there', async ({ page }) => {
    await open(page, '/?present=1&t=20');
    await expect(page.getByTestId('chapter-title')).toContainText('2/9');
    await expect(page.getByTestId('pause-at-chapters')).toBeChecked();
    await pressOnPage(page, ' ');
    await expect(app(page)).toHaveAttribute('data-playing', 'false', { timeout: 15_000 });
    await ready(page);
    await expect(page.getByTestId('chapter-title')).toContainText('3/9 Unmap: ATC_INV, then CMD_SYNC');
    await expect(page.getByTestId('narration')).toBeVisible();
    await pressOnPage(page, ' ');
    await expect(app(page)).toHaveAttribute('data-playing', 'false', { timeout: 15_000 });
    await ready(page);
    await expect(page.getByTestId('chapter-title')).toContainText('4/9 CMD_SYNC fails after 1 ms');
    await expect(page.getByTestId('caption-text')).toContainText('CERROR_ATC_INV_SYNC');
  });

  test('Q shows a QR code that decodes to the page’s share link', async ({ page }) => {
    await open(page, '/?present=1&t=2044.6');
    await pressOnPage(page, 'q');
    const qr = page.getByTestId('qr');
    await expect(qr).toBeVisible();
    const link = await qr.getAttribute('data-link');
    // The share link is the address bar without the page's own present=1.
    expect(link).toBe(
      page
        .url()
        .replace(/[?&]present=1/, (m) => (m.startsWith('?') ? '?' : ''))
        .replace('?&', '?'),
    );
    const png = await qr.locator('svg').screenshot();
    const decoded = await page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height);
      // The pixels come back as base64, not as an array of numbers: a million-entry array is slow to pass.
      let bin = '';
      for (let i = 0; i < d.data.length; i += 0x8000) bin += String.fromCharCode(...d.data.subarray(i, i + 0x8000));
      return { data: btoa(bin), width: d.width, height: d.height };
    }, png.toString('base64'));
    const code = jsQR(new Uint8ClampedArray(Buffer.from(decoded.data, 'base64')), decoded.width, decoded.height);
    expect(code?.data).toBe(link);
    await page.keyboard.press('q');
    await expect(qr).toBeHidden();
  });
});

test('keys do not fire while typing in the kernel log filter', async ({ page }) => {
  await open(page, '/?present=1');
  await pressOnPage(page, 'v');
  const filter = page.getByRole('searchbox', { name: 'Filter the kernel log' });
  await filter.fill('');
  await filter.type('bqP');
  await expect(page.getByTestId('blank')).toBeHidden();
  await expect(page.getByTestId('qr')).toBeHidden();
  await expect(app(page)).toHaveAttribute('data-present', 'true');
  await expect(filter).toHaveValue('bqP');
});

test('Shift+P enters and leaves presentation mode; the caption shows in the normal page too', async ({ page }) => {
  await open(page, '/?t=30');
  await expect(app(page)).toHaveAttribute('data-present', 'false');
  await expect(page.getByTestId('caption-text')).toContainText('iommu_unmap(dma0, 0x10000, 4 pages)');
  await pressOnPage(page, 'Shift+P');
  await expect(app(page)).toHaveAttribute('data-present', 'true');
  expect(page.url()).toContain('present=1');
  await pressOnPage(page, 'Shift+P');
  await expect(app(page)).toHaveAttribute('data-present', 'false');
  expect(page.url()).not.toContain('present=1');
});

test('a bad present= value is named, and the page opens normally', async ({ page }) => {
  await open(page, '/?present=maybe');
  await expect(page.getByRole('alert')).toContainText('present=maybe is not 1 or 0');
  await expect(app(page)).toHaveAttribute('data-present', 'false');
});

test('embed mode: the views, minimal chrome, a link to the full app at the same moment, inside an iframe', async ({
  page,
  baseURL,
}) => {
  await page.goto('/');
  await page.setContent(
    `<iframe src="${baseURL}/?embed=1&t=2044.6" width="1100" height="700" title="SMMU Quarantine Lab"></iframe>`,
  );
  const f = page.frameLocator('iframe');
  await expect(f.getByTestId('app')).toHaveAttribute('data-ready', 'true', { timeout: 20_000 });
  await expect(f.getByTestId('app')).toHaveAttribute('data-embed', 'true');
  await expect(f.locator('.header')).toBeHidden();
  await expect(f.getByTestId('group').first()).toBeVisible();
  await expect(f.locator(`[data-testid="gdev"][data-device="${NVME}"]`)).toHaveAttribute('data-blocked', 'BROKEN');
  const a = f.getByTestId('open-full');
  await expect(a).toHaveText(/Open in SMMU Quarantine Lab/);
  const href = (await a.getAttribute('href'))!;
  expect(href).not.toContain('embed=1');
  expect(await a.getAttribute('target')).toBe('_blank');
  // The link opens the full app at the same moment.
  await open(page, href);
  await expect(app(page)).toHaveAttribute('data-embed', 'false');
  await expect(gdev(page)).toHaveAttribute('data-blocked', 'BROKEN');
});

for (const [w, h, dsf] of [
  [1280, 720, 1],
  [1920, 1080, 1],
  [720, 450, 2],
  [960, 540, 2],
] as const) {
  test.describe(`presentation mode fits a ${w}×${h}${dsf > 1 ? ' (200 % zoom)' : ''} window`, () => {
    test.use({ viewport: { width: w, height: h }, deviceScaleFactor: dsf });
    test('the caption and the story views are on screen, nothing scrolls', async ({ page }) => {
      await open(page, '/?present=1&t=2044.6');
      const inside = async (testId: string) => {
        const b = await page.getByTestId(testId).first().boundingBox();
        expect(b, testId).not.toBeNull();
        expect(b!.y + b!.height, `${testId}'s bottom`).toBeLessThanOrEqual(h + 1);
        expect(b!.x + b!.width, `${testId}'s right`).toBeLessThanOrEqual(w + 1);
        expect(b!.y, `${testId}'s top`).toBeGreaterThanOrEqual(0);
      };
      await inside('caption-text');
      await inside('chapter-title');
      await inside('cmdq-ring');
      await inside('kernel-log');
      await inside('gdev');
      // The app's own header and description bar give their room to the story.
      await expect(page.locator('.app > .header')).toBeHidden();
      await expect(page.locator('.app > .bar')).toBeHidden();
      expect(await page.evaluate(() => document.scrollingElement!.scrollHeight)).toBeLessThanOrEqual(h + 1);
      expect(await groupsClipped(page)).toEqual([]);
      expect(await wrappedSlotRows(page)).toEqual([]);
    });

    test('the groups view is whole at its sides, with the SMMU stopped on ATC_INV_SYNC (its longest label)', async ({ page }) => {
      for (const t of [1031, 2100]) {
        await open(page, `/?scenario=spam-vs-quarantine&policy=v4&t=${t}&present=1`);
        if (t === 1031) await expect(page.getByTestId('smmu-label')).toHaveText('arm-smmu-v3 · CMDQ stopped: ATC_INV_SYNC');
        expect(await groupsClipped(page), `t=${t}`).toEqual([]);
        // The SMMU's label stays inside its box.
        const [label, box] = await Promise.all([
          page.getByTestId('smmu-label').boundingBox(),
          page.locator('g.smmu rect.smmu-box').boundingBox(),
        ]);
        expect(label!.x, 'SMMU label left').toBeGreaterThanOrEqual(box!.x - 1);
        expect(label!.x + label!.width, 'SMMU label right').toBeLessThanOrEqual(box!.x + box!.width + 1);
      }
    });
  });
}
