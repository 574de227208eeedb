/**
 * Local keeping of the user's work: the current scenario, and a list of
 * recent ones, so that nothing made in the page is lost by a reload or by
 * opening someone else's link.
 */
import { tooDeep, type Scenario } from '../../core/index.ts';
import { builtinIdOf } from './scenario-text.ts';

const CURRENT = 'smmu-quarantine-lab/current';
const RECENT = 'smmu-quarantine-lab/recent';
const MAX_RECENT = 12;

export interface Kept {
  scenario: Scenario;
  savedAt: string;
  tUs: number | null;
}

/** The stored JSON under `key`, or undefined when there is none or it does not parse. */
function read(key: string): unknown {
  try {
    const s = localStorage.getItem(key);
    return s ? (JSON.parse(s) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A kept entry as the page wrote it, or null: storage is the user's to
 * change (another version of the page, an extension, a hand in the
 * console), so what it holds is checked like any other input. The
 * scenario itself is validated when it is loaded, as a link is.
 */
function asKept(v: unknown): Kept | null {
  if (!isObject(v) || !isObject(v.scenario) || tooDeep(v.scenario) !== null) return null;
  return {
    scenario: v.scenario as unknown as Scenario,
    savedAt: typeof v.savedAt === 'string' ? v.savedAt : '',
    tUs: typeof v.tUs === 'number' && Number.isFinite(v.tUs) && v.tUs >= 0 ? v.tUs : null,
  };
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
  return asKept(read(CURRENT));
}

/** What this tab last kept as the current scenario (its JSON). */
let keptHere: string | null = null;

/**
 * Keep the scenario as the current one. Returns false when the browser
 * refuses (storage full or disabled). Another tab of the page may have kept
 * its own scenario since this one last did: that one goes to the recent
 * list first, so neither tab's edit is lost.
 */
export function saveCurrent(scenario: Scenario, tUs: number | null): boolean {
  const json = JSON.stringify(scenario);
  if (keptHere !== null) {
    const there = loadCurrent();
    const thereJson = there ? JSON.stringify(there.scenario) : null;
    if (there && thereJson !== keptHere && thereJson !== json && builtinIdOf(there.scenario) === null) remember(there.scenario);
  }
  keptHere = json;
  return write(CURRENT, { scenario, savedAt: new Date().toISOString(), tUs } satisfies Kept);
}

export function recent(): Kept[] {
  const v = read(RECENT);
  if (!Array.isArray(v)) return [];
  const out: Kept[] = [];
  for (const e of v.slice(0, MAX_RECENT)) {
    const k = asKept(e);
    if (k) out.push(k);
  }
  return out;
}

/** Put a scenario on the recent list (most recent first, no duplicates). */
export function remember(scenario: Scenario): void {
  const json = JSON.stringify(scenario);
  const list = recent().filter((k) => JSON.stringify(k.scenario) !== json);
  list.unshift({ scenario, savedAt: new Date().toISOString(), tUs: null });
  write(RECENT, list.slice(0, MAX_RECENT));
}
