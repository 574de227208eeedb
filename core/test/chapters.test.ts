/**
 * Chapters (docs/SCENARIO-EXTENSIONS.md, "Chapters"): named moments of a
 * scenario with a line or two of narration. An optional field; validated
 * with messages naming the path; kept in the resolved scenario and carried
 * by `#s=` links like every other field.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LIMITS, validateScenario } from '../scenario/validate.ts';
import { decodeScenario, encodeScenario } from '../scenario/url.ts';
import type { Chapter, Scenario } from '../scenario/types.ts';
import { scenario } from './support.ts';

const ok = (chapters: unknown): Chapter[] => {
  const v = validateScenario({ ...scenario(), chapters });
  if (!v.ok) throw new Error(v.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
  return v.scenario.chapters;
};
const errors = (chapters: unknown): string[] => {
  const v = validateScenario({ ...scenario(), chapters });
  return v.ok ? [] : v.errors.map((e) => `${e.path}: ${e.message}`);
};
const ch = (at: number, title = `t${at}`, text = `Narration at ${at}.`): Chapter => ({ at, title, text });

describe('chapters: the field', () => {
  it('is optional: a scenario without it resolves to an empty list', () => {
    const v = validateScenario(scenario());
    expect(v.ok && v.scenario.chapters).toEqual([]);
  });
  it('keeps valid chapters in order, with x- keys, equal times allowed', () => {
    const list = [ch(0), { ...ch(10), 'x-note': 1 }, ch(10), ch(1e9)];
    expect(ok(list)).toEqual(list);
  });
  it('an empty array is allowed', () => {
    expect(ok([])).toEqual([]);
  });
  it('titles of exactly 60 and texts of exactly 400 characters are within the limits', () => {
    expect(ok([ch(0, 'a'.repeat(60), 'b'.repeat(400))])).toHaveLength(1);
  });
  it('32 chapters are allowed, 33 are not', () => {
    expect(ok(Array.from({ length: 32 }, (_, i) => ch(i)))).toHaveLength(32);
    expect(errors(Array.from({ length: 33 }, (_, i) => ch(i)))).toEqual(['chapters: too many entries (33, at most 32)']);
  });
});

describe('chapters: each bad chapter is named by its path', () => {
  const cases: Array<[string, unknown, string]> = [
    ['not an array', { at: 0 }, 'chapters: expected an array, got an object'],
    ['an entry that is not an object', [ch(0), 'x'], 'chapters[1]: expected an object, got "x"'],
    ['a missing at', [{ title: 'a', text: 'b' }], 'chapters[0].at: required field is missing'],
    ['a negative at', [ch(-1)], 'chapters[0].at: -1 is out of range (0..1000000000)'],
    ['an at that is a string', [{ ...ch(0), at: '5' }], 'chapters[0].at: expected a number, got "5"'],
    ['an at that is not finite', [{ ...ch(0), at: null }], 'chapters[0].at: expected a number, got null'],
    ['an at past the time limit', [ch(1e9 + 1)], 'chapters[0].at: 1000000001 is out of range (0..1000000000)'],
    [
      'times going back',
      [ch(0), ch(50), ch(40)],
      'chapters[2].at: 40 is earlier than the chapter before it (50): chapters go in order of time',
    ],
    ['a missing title', [{ at: 0, text: 'b' }], 'chapters[0].title: required field is missing'],
    ['an empty title', [ch(0, '')], 'chapters[0].title: is empty'],
    ['a blank text', [ch(0, 'a', '  \n')], 'chapters[0].text: is empty'],
    ['a title that is not a string', [{ ...ch(0), title: 3 }], 'chapters[0].title: expected a string, got 3'],
    ['a title too long', [ch(0, 'a'.repeat(61))], 'chapters[0].title: too long (61 characters, at most 60)'],
    ['a text too long', [ch(0, 'a', 'b'.repeat(401))], 'chapters[0].text: too long (401 characters, at most 400)'],
    ['a missing text', [{ at: 0, title: 'a' }], 'chapters[0].text: required field is missing'],
    ['an unknown key', [{ ...ch(0), titel: 'x' }], 'chapters[0].titel: unknown field "titel" (did you mean "title"?)'],
  ];
  for (const [what, input, message] of cases) it(what, () => expect(errors(input)).toEqual([message]));

  it('an error in one chapter does not hide one in another', () => {
    expect(errors([ch(0, ''), ch(5), { ...ch(6), text: 1 }])).toEqual([
      'chapters[0].title: is empty',
      'chapters[2].text: expected a string, got 1',
    ]);
  });
});

/** Chapters built at random: valid, or valid but for one edit that breaks one of them. */
const validChapters = fc
  .array(
    fc.record({
      dt: fc.nat({ max: 1000 }),
      title: fc.string({ minLength: 1, maxLength: LIMITS.maxChapterTitleLength }).filter((s) => s.trim() !== ''),
      text: fc.string({ minLength: 1, maxLength: LIMITS.maxChapterTextLength }).filter((s) => s.trim() !== ''),
    }),
    { maxLength: LIMITS.maxChapters },
  )
  .map((xs) => {
    let at = 0;
    return xs.map(({ dt, title, text }) => ({ at: (at += dt), title, text }));
  });

type Breakage = 'at-back' | 'at-negative' | 'at-nan' | 'title-long' | 'text-empty' | 'extra-key' | 'drop-key' | 'not-object';
const breakArb = fc.constantFrom<Breakage>(
  'at-back',
  'at-negative',
  'at-nan',
  'title-long',
  'text-empty',
  'extra-key',
  'drop-key',
  'not-object',
);

function breakOne(list: Chapter[], i: number, how: Breakage): unknown[] {
  const out: unknown[] = list.map((c) => ({ ...c }));
  const c = out[i] as Record<string, unknown>;
  switch (how) {
    case 'at-back':
      // Earlier than the one before (the first chapter has none: negative instead).
      c.at = i > 0 && list[i - 1]!.at > 0 ? list[i - 1]!.at - 0.5 : -1;
      break;
    case 'at-negative':
      c.at = -0.001;
      break;
    case 'at-nan':
      c.at = 'NaN';
      break;
    case 'title-long':
      c.title = 'x'.repeat(LIMITS.maxChapterTitleLength + 1);
      break;
    case 'text-empty':
      c.text = '';
      break;
    case 'extra-key':
      c.narration = 'x';
      break;
    case 'drop-key':
      delete c[(['at', 'title', 'text'] as const)[i % 3]!];
      break;
    case 'not-object':
      out[i] = [c.at];
      break;
  }
  return out;
}

describe('chapters: properties (pinned seeds)', () => {
  it('any list in order and within the limits is kept as given, and travels in a link', () => {
    fc.assert(
      fc.property(validChapters, (list) => {
        expect(ok(list)).toEqual(list);
        const sc: Scenario = { ...scenario(), chapters: list };
        const r = decodeScenario(encodeScenario(sc));
        expect(r.ok && r.scenario.chapters).toEqual(list);
      }),
      { seed: 1313, numRuns: 150 },
    );
  });
  it('one broken chapter is refused, and every message names that chapter', () => {
    fc.assert(
      fc.property(
        validChapters.filter((l) => l.length > 0),
        fc.nat(),
        breakArb,
        (list, n, how) => {
          const i = n % list.length;
          const errs = errors(breakOne(list, i, how));
          expect(errs.length).toBeGreaterThan(0);
          for (const e of errs) expect(e.startsWith(`chapters[${i}]`), e).toBe(true);
        },
      ),
      { seed: 1314, numRuns: 300 },
    );
  });
});
