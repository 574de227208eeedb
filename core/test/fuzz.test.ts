/**
 * Fuzzing of the entry points a user's input reaches (issue 15): a scenario
 * file given to the runner, a link's `#s=` payload, text in the JSON editor.
 * Inputs are built from the built-in scenarios by random edits (a value
 * replaced by any JSON, a field deleted or added, characters of the text
 * changed), with pinned seeds. Whatever the input: no exception, an exit
 * status the contract names (0 ran, 2 invalid; never 3, which says the
 * emulator broke an invariant), and messages bounded in size with no
 * control characters from the input. Local storage, the fourth entry
 * point, is fuzzed in web/test/storage.test.ts.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { main } from '../cli/sim.ts';
import { BUILTIN_SCENARIOS } from '../scenario/builtins/index.ts';
import { MAX_ERRORS, formatErrors, parseJsonText, parseScenarioText } from '../scenario/validate.ts';
import { decodeScenario, encodeScenario } from '../scenario/url.ts';
import type { Scenario } from '../scenario/types.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** One edit of a JSON document: at the node reached by `path` (indices taken modulo the node's size). */
interface Edit {
  path: number[];
  action: 'set' | 'delete' | 'add';
  key: string;
  value: Json;
}

const editArb: fc.Arbitrary<Edit> = fc.record({
  path: fc.array(fc.nat(), { maxLength: 5 }),
  action: fc.constantFrom('set', 'delete', 'add'),
  key: fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'x-notes', 'op', 'at', 'id')),
  value: fc.oneof(
    fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json>,
    fc.constantFrom<Json>(-1, 0, 1e308, 2 ** 53, 0.5, '', '0x', '0xffffffffffff', '\u0000\u001b[2J', 'dma0', '0000:01:00.0'),
  ),
});

const IDS = Object.keys(BUILTIN_SCENARIOS).sort();

function applyEdit(doc: Json, e: Edit): Json {
  const root = JSON.parse(JSON.stringify(doc)) as Json;
  let node: Json = root;
  let parent: Json[] | { [k: string]: Json } | null = null;
  let at: string | number = '';
  for (const i of e.path) {
    if (Array.isArray(node) && node.length > 0) {
      parent = node;
      at = i % node.length;
      node = node[at]!;
    } else if (node !== null && typeof node === 'object' && !Array.isArray(node) && Object.keys(node).length > 0) {
      const obj: { [k: string]: Json } = node;
      const key = Object.keys(obj)[i % Object.keys(obj).length]!;
      parent = obj;
      at = key;
      node = obj[key]!;
    } else break;
  }
  if (e.action === 'add' && node !== null && typeof node === 'object') {
    if (Array.isArray(node)) node.push(e.value);
    else Object.defineProperty(node, e.key, { value: e.value, enumerable: true, writable: true, configurable: true });
    return root;
  }
  if (parent === null) return e.action === 'set' ? e.value : root;
  if (Array.isArray(parent)) {
    if (e.action === 'delete') parent.splice(at as number, 1);
    else parent[at as number] = e.value;
  } else if (e.action === 'delete') delete parent[at as string];
  else parent[at as string] = e.value;
  return root;
}

const scenarioArb: fc.Arbitrary<Json> = fc
  .tuple(fc.constantFrom(...IDS), fc.array(editArb, { minLength: 1, maxLength: 4 }))
  .map(([id, edits]) => edits.reduce((d, e) => applyEdit(d, e), BUILTIN_SCENARIOS[id] as unknown as Json));

/** Characters changed in a text: inserted, deleted or replaced at positions taken modulo its length. */
const textEditsArb = fc.array(
  fc.record({ pos: fc.nat(), del: fc.nat({ max: 8 }), ins: fc.string({ maxLength: 6, unit: 'binary' }) }),
  { minLength: 1, maxLength: 4 },
);

function editText(text: string, edits: Array<{ pos: number; del: number; ins: string }>): string {
  let t = text;
  for (const e of edits) {
    const p = t.length ? e.pos % t.length : 0;
    t = t.slice(0, p) + e.ins + t.slice(p + e.del);
  }
  return t;
}

// eslint-disable-next-line no-control-regex -- the characters a message must not carry raw
const CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f]/;

/** A message shown to a user or printed on a terminal: bounded lines, bounded length, no raw control characters. */
function expectBoundedMessage(text: string, what: string): void {
  expect(CONTROL.test(text), `${what} carries a control character: ${JSON.stringify(text.slice(0, 200))}`).toBe(false);
  const lines = text.split('\n');
  expect(lines.length, what).toBeLessThanOrEqual(MAX_ERRORS + 3);
  for (const l of lines) expect(l.length, `${what}: ${l.slice(0, 120)}`).toBeLessThanOrEqual(400);
}

describe('fuzz: the runner given an edited scenario file', () => {
  it('exits 0 or 2, never throws, never reports an invariant broken, and bounds its messages', () => {
    fc.assert(
      fc.property(scenarioArb, fc.boolean(), (doc, pretty) => {
        const err: string[] = [];
        const out: string[] = [];
        const code = main(['f.json', '--json'], {
          out: (s) => out.push(s),
          err: (s) => err.push(s),
          readFile: () => (pretty ? JSON.stringify(doc, null, 2) : JSON.stringify(doc)),
        });
        const stderr = err.join('\n');
        expect([0, 2], stderr.slice(0, 400)).toContain(code);
        expectBoundedMessage(stderr, 'stderr');
        if (code === 0) expect((JSON.parse(out.join('\n')) as { format: string }).format).toBe('smmu-result/1');
        else expect(out).toEqual([]);
      }),
      { numRuns: 120, seed: 151 },
    );
  });

  it('text with characters changed: exit 2 names the line and column of a syntax error, on one line', () => {
    const file = JSON.stringify(BUILTIN_SCENARIOS['shared-batch'], null, 2);
    fc.assert(
      fc.property(textEditsArb, (edits) => {
        const err: string[] = [];
        const code = main(['f.json'], { out: () => {}, err: (s) => err.push(s), readFile: () => editText(file, edits) });
        const stderr = err.join('\n');
        expect([0, 2]).toContain(code);
        expectBoundedMessage(stderr, 'stderr');
        if (stderr.includes('malformed JSON')) expect(stderr).toMatch(/malformed JSON( at line \d+, column \d+)?: /);
      }),
      { numRuns: 200, seed: 152 },
    );
  });
});

describe('fuzz: a link', () => {
  it('an edited scenario in a link decodes to a valid scenario or to one bounded message', () => {
    fc.assert(
      fc.property(scenarioArb, (doc) => {
        const r = decodeScenario(encodeScenario(doc as unknown as Scenario));
        if (r.ok) expect(r.scenario.format).toBe('smmu-scenario/1');
        else expectBoundedMessage(r.error, 'link error');
      }),
      { numRuns: 150, seed: 153 },
    );
  });

  it('a link with characters changed, cut or extended never throws', () => {
    const enc = encodeScenario(BUILTIN_SCENARIOS['recovery-flr']!);
    fc.assert(
      fc.property(textEditsArb, (edits) => {
        const r = decodeScenario(editText(enc, edits));
        if (!r.ok) expectBoundedMessage(r.error, 'link error');
      }),
      { numRuns: 300, seed: 154 },
    );
  });
});

describe('fuzz: the JSON editor', () => {
  it('edited text is parsed and validated, or refused with a bounded message', () => {
    const file = JSON.stringify(BUILTIN_SCENARIOS['spam-vs-quarantine'], null, 2);
    fc.assert(
      fc.property(textEditsArb, scenarioArb, (edits, doc) => {
        for (const text of [editText(file, edits), JSON.stringify(doc, null, 2)]) {
          const parsed = parseJsonText(text);
          if (!parsed.ok) {
            expect(parsed.message).not.toContain('\n');
            expectBoundedMessage(parsed.message, 'editor');
            continue;
          }
          const v = parseScenarioText(text);
          if (!v.ok) expectBoundedMessage(formatErrors(v.errors), 'editor');
        }
      }),
      { numRuns: 200, seed: 155 },
    );
  });
});
