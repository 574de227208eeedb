/**
 * How much the page grows on a large screen. The layout is designed for a
 * window of DESIGN_W × DESIGN_H CSS pixels; a larger window draws the same
 * layout larger (CSS `zoom` on the app), so the views and their type grow
 * with the screen instead of leaving it white. Smaller windows are not
 * shrunk: there the panels reflow (see App.svelte's media queries).
 */
export const DESIGN_W = 1440;
export const DESIGN_H = 900;
/** No larger than this (a 3840×2160 screen at 100 % is 2.4). */
export const MAX_UI_ZOOM = 2.5;

/** The zoom for a window of `w` × `h` CSS pixels: 1 up to the design size, then the smaller of the two ratios. */
export function uiZoom(w: number, h: number): number {
  if (!(w > 0) || !(h > 0)) return 1;
  const r = Math.min(w / DESIGN_W, h / DESIGN_H);
  return Math.round(Math.min(MAX_UI_ZOOM, Math.max(1, r)) * 1000) / 1000;
}
