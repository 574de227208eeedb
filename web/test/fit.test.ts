/** The page's zoom on large screens (web/lib/fit.ts). */
import { describe, expect, it } from 'vitest';
import { DESIGN_H, DESIGN_W, MAX_UI_ZOOM, uiZoom } from '../lib/fit.ts';

describe('uiZoom', () => {
  it('does not shrink the page on a window smaller than the design size (the panels reflow there)', () => {
    expect(uiZoom(1024, 768)).toBe(1);
    expect(uiZoom(1280, 720)).toBe(1);
    expect(uiZoom(720, 450)).toBe(1);
    expect(uiZoom(DESIGN_W, DESIGN_H)).toBe(1);
  });
  it('grows with the smaller of the two ratios, so the layout keeps its design proportions', () => {
    expect(uiZoom(1920, 1080)).toBe(1.2);
    expect(uiZoom(2560, 1440)).toBe(1.6);
    expect(uiZoom(3840, 2160)).toBe(2.4);
    // A wide and short window grows by its height only.
    expect(uiZoom(3840, 900)).toBe(1);
  });
  it('stops at MAX_UI_ZOOM and answers 1 for a window with no size', () => {
    expect(uiZoom(20000, 20000)).toBe(MAX_UI_ZOOM);
    expect(uiZoom(0, 0)).toBe(1);
    expect(uiZoom(Number.NaN, 900)).toBe(1);
  });
});
