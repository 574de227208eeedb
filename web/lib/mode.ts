/**
 * How the page is shown, from its address: `present=1` (presentation mode:
 * large type, only the views the story needs, presenter keys) and
 * `embed=1` (the views with minimal chrome, for an iframe). Both are kept in
 * the address bar beside the scenario; the share link leaves them out.
 */
export interface PageMode {
  present: boolean;
  embed: boolean;
  /** What is wrong with a parameter, in words (the page shows it and goes on). */
  errors: string[];
}

const ON = new Set(['1', 'true', 'yes', 'on', '']);
const OFF = new Set(['0', 'false', 'no', 'off']);

/** The page's mode from a location's search ("?present=1&t=30"). */
export function parsePageMode(search: string): PageMode {
  const mode: PageMode = { present: false, embed: false, errors: [] };
  let q: URLSearchParams;
  try {
    q = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  } catch {
    return mode;
  }
  for (const key of ['present', 'embed'] as const) {
    const v = q.get(key);
    if (v === null) continue;
    const low = v.trim().toLowerCase();
    if (ON.has(low)) mode[key] = true;
    else if (!OFF.has(low)) mode.errors.push(`${key}=${v.slice(0, 20)} is not 1 or 0 (${key}=1 turns it on)`);
  }
  return mode;
}

/** The page-level parameters to keep in the address bar for a mode ("present=1"). */
export function modeParams(m: Pick<PageMode, 'present' | 'embed'>): string {
  return [m.present ? 'present=1' : '', m.embed ? 'embed=1' : ''].filter(Boolean).join('&');
}

/** The link to the full app for an embedded page: its address without embed=1. */
export function fullAppLink(href: string): string {
  const u = new URL(href);
  u.searchParams.delete('embed');
  // URLSearchParams writes "present=1&t=…": keep the rest of the query and the #s= fragment as they were.
  return u.toString();
}
