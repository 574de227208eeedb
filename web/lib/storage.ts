/**
 * Local keeping of the user's work: the current scenario, and a list of
 * recent ones, so that nothing made in the page is lost by a reload or by
 * opening someone else's link.
 */
import type { Scenario } from '../../core/index.ts';

const CURRENT = 'smmu-quarantine-lab/current';
const RECENT = 'smmu-quarantine-lab/recent';
const MAX_RECENT = 12;

export interface Kept {
  scenario: Scenario;
  savedAt: string;
  tUs: number | null;
}

function read<T>(key: string): T | null {
  try {
    const s = localStorage.getItem(key);
    return s ? (JSON.parse(s) as T) : null;
  } catch {
    return null;
  }
}

function write(key: string, v: unknown): boolean {
  try {
    localStorage.setItem(key, JSON.stringify(v));
    return true;
  } catch {
    return false;
  }
}

export function loadCurrent(): Kept | null {
  return read<Kept>(CURRENT);
}

/** Keep the scenario as the current one. Returns false when the browser refuses (storage full or disabled). */
export function saveCurrent(scenario: Scenario, tUs: number | null): boolean {
  return write(CURRENT, { scenario, savedAt: new Date().toISOString(), tUs } satisfies Kept);
}

export function recent(): Kept[] {
  return read<Kept[]>(RECENT) ?? [];
}

/** Put a scenario on the recent list (most recent first, no duplicates). */
export function remember(scenario: Scenario): void {
  const json = JSON.stringify(scenario);
  const list = recent().filter((k) => JSON.stringify(k.scenario) !== json);
  list.unshift({ scenario, savedAt: new Date().toISOString(), tUs: null });
  write(RECENT, list.slice(0, MAX_RECENT));
}
