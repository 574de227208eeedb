/**
 * The page's menus, checked against the core: every action a menu offers
 * must become a valid scenario step (so a click can never break the
 * scenario).
 */
import { describe, expect, it } from 'vitest';
import { BUILTIN_SCENARIOS, Timeline, validateScenario, type Scenario, type Step, type View } from '../../core/index.ts';
import { deviceMenu, freeIova, groupMenu, mappedRanges, smmuMenu } from '../lib/menus.ts';
import type { MenuItem } from '../lib/menu-types.ts';
import type { Session } from '../lib/session.svelte.ts';
import { builtinIdOf, citation, summarize } from '../lib/scenario-text.ts';

type StepInput = Omit<Step, 'at'>;

/** The part of the Session the menus use, recording what they inject. */
function fakeSession(s: Scenario, injected: StepInput[]): Session {
  const v = validateScenario(s);
  if (!v.ok) throw new Error('invalid');
  return {
    atcTimeoutUs: v.scenario.smmu.atcInvTimeoutUs,
    pasidCapable: (bdf: string) => v.scenario.groups.some((g) => g.devices.some((d) => d.bdf === bdf && d.pasid)),
    inject: (step: StepInput) => injected.push(step),
  } as unknown as Session;
}

/** Run every enabled action of a menu (following submenus). */
function runAll(items: MenuItem[]): number {
  let n = 0;
  for (const it of items) {
    if (it.heading || it.disabled) continue;
    if (it.submenu) n += runAll(it.submenu);
    else if (it.run && !/^Why/.test(it.label)) {
      it.run();
      n++;
    }
  }
  return n;
}

function viewsOf(s: Scenario, fractions = [0, 0.3, 0.6, 1]): View[] {
  const v = validateScenario(s);
  if (!v.ok) throw new Error('invalid');
  const tl = new Timeline(v.scenario, {});
  return fractions.map((f) => tl.seek(Math.round(f * tl.data.count)));
}

describe('menus', () => {
  it('mappedRanges joins consecutive IOVA pages; freeIova finds room above 64 KiB', () => {
    expect(
      mappedRanges([
        [0x10, 1],
        [0x11, 2],
        [0x12, 3],
        [0x20, 4],
      ]),
    ).toEqual([
      [0x10, 3],
      [0x20, 1],
    ]);
    expect(mappedRanges([])).toEqual([]);
    expect(freeIova([], 4)).toBe(0x10);
    expect(
      freeIova(
        [
          [0x10, 0],
          [0x13, 0],
        ],
        4,
      ),
    ).toBe(0x14);
    expect(
      freeIova(
        [
          [0x10, 0],
          [0x11, 0],
          [0x12, 0],
          [0x13, 0],
        ],
        4,
      ),
    ).toBe(0x14);
  });

  it('every action of every menu, on every built-in at several moments, is a valid step', () => {
    let actions = 0;
    for (const [id, s] of Object.entries(BUILTIN_SCENARIOS)) {
      for (const view of viewsOf(s)) {
        const injected: StepInput[] = [];
        const session = fakeSession(s, injected);
        for (const d of view.gdevs) actions += runAll(deviceMenu(session, view, d.bdf, () => {}));
        for (const g of view.groups) actions += runAll(groupMenu(session, view, g.id, () => {}));
        actions += runAll(smmuMenu(session, view));
        for (const step of injected) {
          const next = { ...s, steps: [...(s.steps ?? []), { ...step, at: view.tNs / 1000 } as Step] };
          const r = validateScenario(next);
          expect(r.ok, `${id}: ${JSON.stringify(step)} → ${r.ok ? '' : JSON.stringify(r.errors)}`).toBe(true);
        }
      }
    }
    expect(actions).toBeGreaterThan(500);
  });

  it('an unplugged device offers no fault, reset or DMA', () => {
    const s: Scenario = {
      ...BUILTIN_SCENARIOS['spam-vs-quarantine']!,
      steps: [{ at: 0, op: 'unplug', device: '0000:01:00.0' }],
    };
    const [, , , end] = viewsOf(s);
    const injected: StepInput[] = [];
    const n = runAll(deviceMenu(fakeSession(s, injected), end!, '0000:01:00.0', () => {}));
    expect(end!.gdevs[0]!.present).toBe(false);
    expect(n).toBe(0);
  });

  it('the DMA entries offer the stale ATC entries a broken device kept (seed 003: the harm of a stale ATC)', () => {
    const s = BUILTIN_SCENARIOS['spam-vs-quarantine']!;
    const views = viewsOf(s, [1]);
    const view = views[0]!;
    const ep = view.endpoints[0]!;
    expect(ep.atc.some((e) => e.stale)).toBe(true);
    const labels = deviceMenu(fakeSession(s, []), view, ep.bdf, () => {}).map((i) => i.label);
    expect(labels.some((l) => /through its stale ATC entry/.test(l))).toBe(true);
  });
});

describe('scenario text', () => {
  it('the one-line explanation skips the citation; the citation names the seed', () => {
    const s = BUILTIN_SCENARIOS['shared-batch']!;
    expect(summarize(s)).toMatch(/^Three ATS devices share the DMA domain/);
    expect(citation(s)).toMatch(/^Seed 003 #19/);
    for (const b of Object.values(BUILTIN_SCENARIOS)) {
      expect(summarize(b).length).toBeGreaterThan(20);
      expect(summarize(b)).not.toMatch(/^Seed/);
    }
  });

  it('a built-in is recognised whatever its policy; an edited one is not', () => {
    const s = BUILTIN_SCENARIOS['recovery-flr']!;
    expect(builtinIdOf({ ...s, policy: 'baseline' })).toBe('recovery-flr');
    expect(builtinIdOf({ ...s, seed: 99 })).toBeNull();
    expect(builtinIdOf(null as unknown as Scenario)).toBeNull();
  });
});
