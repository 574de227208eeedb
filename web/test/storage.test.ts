/**
 * Local storage is input (issue 15, point 2): what it holds may have been
 * written by another version of the page, an extension or a hand in the
 * console. Fuzzed with pinned seeds: whatever the two keys hold, reading
 * never throws and gives only entries of the shape the page writes, and
 * keeping and remembering still work over it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BUILTIN_SCENARIOS, type Scenario } from '../../core/index.ts';
import { loadCurrent, recent, remember, saveCurrent, type Kept } from '../lib/storage.ts';

const CURRENT = 'smmu-quarantine-lab/current';
const RECENT = 'smmu-quarantine-lab/recent';

/** The Web Storage API over a Map, as the page sees it. */
class MemoryStorage {
  private m = new Map<string, string>();
  getItem(k: string): string | null {
    return this.m.get(k) ?? null;
  }
  setItem(k: string, v: string): void {
    this.m.set(k, String(v));
  }
  removeItem(k: string): void {
    this.m.delete(k);
  }
  clear(): void {
    this.m.clear();
  }
}
const store = new MemoryStorage();
Object.defineProperty(globalThis, 'localStorage', { value: store, configurable: true });
beforeEach(() => store.clear());

function expectKept(k: Kept): void {
  expect(typeof k.scenario === 'object' && k.scenario !== null && !Array.isArray(k.scenario)).toBe(true);
  expect(typeof k.savedAt).toBe('string');
  expect(k.tUs === null || (Number.isFinite(k.tUs) && k.tUs >= 0)).toBe(true);
}

const edited: Scenario = { ...BUILTIN_SCENARIOS['recovery-flr']!, name: 'Kept over anything' };

/** What a key may hold: any JSON, text that is not JSON, or entries close to the page's own. */
const heldArb = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 40 }),
  fc
    .record({
      scenario: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(edited as unknown)),
      savedAt: fc.jsonValue({ maxDepth: 1 }),
      tUs: fc.oneof(fc.double(), fc.jsonValue({ maxDepth: 1 })),
    })
    .map((e) => JSON.stringify(e)),
  fc
    .array(fc.record({ scenario: fc.jsonValue({ maxDepth: 3 }), savedAt: fc.string(), tUs: fc.double() }), { maxLength: 20 })
    .map((a) => JSON.stringify(a)),
  fc.constant(`{"scenario":${'['.repeat(5000)}${']'.repeat(5000)}}`),
);

describe('fuzz: local storage read as input', () => {
  it('whatever the keys hold, reading gives entries of the shape the page writes, and keeping works', () => {
    fc.assert(
      fc.property(fc.option(heldArb), fc.option(heldArb), (cur, rec) => {
        store.clear();
        if (cur !== null) store.setItem(CURRENT, cur);
        if (rec !== null) store.setItem(RECENT, rec);
        const k = loadCurrent();
        if (k) expectKept(k);
        const list = recent();
        expect(list.length).toBeLessThanOrEqual(12);
        for (const e of list) expectKept(e);
        // The user's edit is kept and remembered over whatever was there.
        remember(edited);
        expect(recent()[0]!.scenario).toEqual(edited);
        expect(saveCurrent(edited, 12)).toBe(true);
        expect(loadCurrent()!.scenario).toEqual(edited);
        expect(loadCurrent()!.tUs).toBe(12);
      }),
      { numRuns: 300, seed: 156 },
    );
  });
});
