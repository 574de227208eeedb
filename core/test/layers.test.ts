/**
 * The core's layers are one-way (docs/ARCHITECTURE.md, "Layers"):
 * sim ← hw ← pci ← kernel ← engine ← view/timeline/story, with machines, policy
 * and scenario/types as leaves. This test reads every import of every
 * source file of the core (type-only imports and re-exports included) and
 * fails when one runs the wrong way or when files import each other in a
 * circle.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const CORE = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Layers, most specific path first, and the layers each may import. */
export const LAYERS: ReadonlyArray<{ layer: string; path: RegExp; may: readonly string[] }> = [
  { layer: 'sim', path: /^sim\//, may: [] },
  { layer: 'hw', path: /^hw\//, may: ['sim'] },
  { layer: 'pci', path: /^pci\//, may: ['sim', 'hw'] },
  { layer: 'machines', path: /^machines\//, may: [] },
  { layer: 'policy', path: /^policy\//, may: [] },
  { layer: 'scenario/types', path: /^scenario\/types\.ts$/, may: ['policy'] },
  { layer: 'kernel', path: /^kernel\//, may: ['sim', 'hw', 'pci', 'machines', 'policy', 'scenario/types'] },
  { layer: 'scenario', path: /^scenario\//, may: ['scenario/types', 'policy', 'hw'] },
  {
    layer: 'engine',
    path: /^(engine|trace)\.ts$/,
    may: ['sim', 'hw', 'pci', 'machines', 'policy', 'scenario/types', 'kernel', 'scenario'],
  },
  {
    layer: 'view',
    path: /^(view|timeline|story)\.ts$/,
    may: ['sim', 'hw', 'pci', 'machines', 'policy', 'scenario/types', 'kernel', 'scenario', 'engine'],
  },
  { layer: 'api', path: /^index\.ts$/, may: ['*'] },
  { layer: 'cli', path: /^cli\//, may: ['*'] },
];

function layerOf(rel: string): string {
  const l = LAYERS.find((x) => x.path.test(rel));
  if (!l) throw new Error(`${rel} is in no layer: add it to LAYERS and to docs/ARCHITECTURE.md`);
  return l.layer;
}

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'test') out.push(...sources(p));
    } else if (/\.ts$/.test(name) && !/\.(test|d)\.ts$/.test(name)) out.push(p);
  }
  return out;
}

/** Every relative module a file imports or re-exports, as paths relative to core/. */
export function importsOf(file: string, text: string): string[] {
  const out: string[] = [];
  const re =
    /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+'(\.[^']+)'|(?:^|\n)\s*import\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    if (spec.endsWith('.json')) continue;
    out.push(relative(CORE, resolve(dirname(file), spec)).replace(/\\/g, '/'));
  }
  return out;
}

export interface ImportGraph {
  edges: Map<string, string[]>;
}

function graph(): ImportGraph {
  const edges = new Map<string, string[]>();
  for (const f of sources(CORE)) edges.set(relative(CORE, f).replace(/\\/g, '/'), importsOf(f, readFileSync(f, 'utf8')));
  return { edges };
}

/** Imports that run the wrong way, as "from → to (from's layer → to's layer)". */
export function wrongWay(g: ImportGraph): string[] {
  const bad: string[] = [];
  for (const [from, tos] of g.edges) {
    const lf = layerOf(from);
    const may = LAYERS.find((l) => l.layer === lf)!.may;
    for (const to of tos) {
      const lt = layerOf(to);
      if (lt === lf || may.includes('*') || may.includes(lt)) continue;
      bad.push(`${from} → ${to} (${lf} may not import ${lt})`);
    }
  }
  return bad;
}

/** Circles of files that import each other (each reported once, from its first file). */
export function cycles(g: ImportGraph): string[][] {
  const out: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    path.push(n);
    for (const m of g.edges.get(n) ?? []) {
      const s = state.get(m);
      if (s === 'open') out.push([...path.slice(path.indexOf(m)), m]);
      else if (s === undefined && g.edges.has(m)) visit(m);
    }
    path.pop();
    state.set(n, 'done');
  };
  for (const n of [...g.edges.keys()].sort()) if (!state.has(n)) visit(n);
  return out;
}

describe('layers of the core', () => {
  const g = graph();

  it('every import runs down the layers (sim ← hw ← pci ← kernel ← engine ← view/timeline; machines, policy, scenario/types are leaves)', () => {
    expect(wrongWay(g)).toEqual([]);
  });

  it('no files import each other in a circle (type-only imports included)', () => {
    expect(cycles(g).map((c) => c.join(' → '))).toEqual([]);
  });

  it('the checks see a wrong-way import and a circle', () => {
    const bad: ImportGraph = {
      edges: new Map([
        ['hw/smmu.ts', ['pci/endpoint.ts']],
        ['pci/endpoint.ts', ['hw/smmu.ts']],
      ]),
    };
    expect(wrongWay(bad)).toEqual(['hw/smmu.ts → pci/endpoint.ts (hw may not import pci)']);
    expect(cycles(bad)).toEqual([['hw/smmu.ts', 'pci/endpoint.ts', 'hw/smmu.ts']]);
    expect(
      importsOf(
        join(CORE, 'kernel/x.ts'),
        "import type { A } from '../sim/context.ts';\nexport { b } from './y.ts';\nimport './z.ts';",
      ),
    ).toEqual(['sim/context.ts', 'kernel/y.ts', 'kernel/z.ts']);
  });
});
