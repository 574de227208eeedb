/**
 * Model-based tests: paths generated with @xstate/graph over the group_device
 * machine (reset_depth bounded at 2) are replayed on the real kernel model —
 * pci_dev_reset_iommu_prepare(), pci_dev_reset_iommu_done(pdev, rc),
 * iommu_report_device_broken() and iommu_group_broken_worker() — and after
 * every step the kernel's group_device must be in the path's state.
 *
 * The event ↔ kernel-call mapping (and why CLEAR_BROKEN_PENDING is the first
 * half of the outermost successful done()) is documented in mbt-support.ts.
 *
 * Seeds: 000 (nested prepare/done through reset_depth, recovery_cnt),
 * 003 #03 (enum gdev_blocked), #04 (done(reset_result)), #10
 * (__iommu_group_block_device, severity escalation), #11
 * (iommu_report_device_broken and its worker, broken_pending).
 */
import { describe, expect, it } from 'vitest';
import { getPathsFromEvents, getShortestPaths, getSimplePaths } from '@xstate/graph';
import type { Simulation } from '../engine.ts';
import { groupDeviceMachine, type GdevEvent, type GdevMachineState } from '../machines/groupDevice.machine.ts';
import { gdevCan } from '../machines/drive.ts';
import { prepareFrame } from '../kernel/iommu.ts';
import type { PolicySpec } from '../scenario/types.ts';
import {
  BDF,
  definedTransitions,
  eventLabel,
  feasibleTransitions,
  kernelCall,
  kernelGdev,
  kernelView,
  machineStep,
  MAX_DEPTH,
  microEvents,
  newKernel,
  offeredEvents,
  plain,
  recoveryCnt,
  sentEvents,
  serialize,
  settle,
  takenTransition,
  type GdevSnapshot,
} from './mbt-support.ts';

const V4: PolicySpec = 'v4';
const V4_NO_NESTED_FIX: PolicySpec = { preset: 'v4', nestedResetFix: false };

interface MbtPath {
  state: GdevSnapshot;
  steps: Array<{ state: GdevSnapshot; event: GdevEvent }>;
}

function traversalOptions(nestedResetFix: boolean) {
  return { events: offeredEvents, serializeState: serialize, input: { nestedResetFix } };
}

function eventsOf(p: MbtPath): GdevEvent[] {
  // steps[0] is the synthetic xstate.init step.
  return p.steps.slice(1).map((s) => s.event);
}

function label(p: MbtPath): string {
  const evs = eventsOf(p);
  return evs.length ? evs.map(eventLabel).join(' → ') : '(initial)';
}

type PathSets = { shortest: MbtPath[]; simple: MbtPath[]; edges: MbtPath[] };
const generated = new Map<boolean, PathSets>();

/** Paths of the traversal view, by kind (computed once per policy). */
function generate(nestedResetFix: boolean): PathSets {
  let sets = generated.get(nestedResetFix);
  if (!sets) generated.set(nestedResetFix, (sets = generatePaths(nestedResetFix)));
  return sets;
}

function generatePaths(nestedResetFix: boolean): PathSets {
  const opts = traversalOptions(nestedResetFix);
  const shortest = getShortestPaths(kernelView, opts) as unknown as MbtPath[];
  const simple = getSimplePaths(kernelView, opts) as unknown as MbtPath[];
  // Transition cover: the shortest path to each state, then each event the
  // state offers (self-loops included, e.g. a second report while pending).
  // getPathsFromEvents() does not pass `input` to the initial snapshot, so start it from the traversal's own.
  const fromState = shortest[0]!.steps[0]!.state;
  const edges = shortest.flatMap((p) =>
    offeredEvents(p.state).map(
      (e) => (getPathsFromEvents(kernelView, [...eventsOf(p), e], { ...opts, fromState }) as unknown as MbtPath[])[0]!,
    ),
  );
  return { shortest, simple, edges };
}

const LOG = {
  failed: 'Reset failed. Keep it blocked to protect memory',
  unblocked: 'Device is unblocked after successful reset',
  quarantined: 'IOMMU has quarantined the device',
} as const;

function logCount(sim: Simulation, needle: string): number {
  return sim.out.log.filter((l) => l.text.includes(needle)).length;
}

/**
 * Replay `p` on a fresh kernel. After each step: the kernel sent exactly the
 * machine events the step stands for, its group_device equals the path's
 * snapshot, recovery_cnt is 1 while blocked and 0 when not, and no
 * violation was recorded. Returns the machine transitions the kernel took.
 */
function replay(p: MbtPath, policy: PolicySpec): Set<string> {
  const sim = newKernel(policy);
  const taken = new Set<string>();
  const where = (i: number) => `path [${label(p)}] step ${i} (${eventLabel(p.steps[i]!.event)})`;
  expect(kernelGdev(sim), `${where(0)}: initial state`).toEqual(plain(p.steps[0]!.state));
  for (let i = 1; i < p.steps.length; i++) {
    const prev: GdevMachineState = plain(p.steps[i - 1]!.state);
    const ev = p.steps[i]!.event;
    const want = plain(p.steps[i]!.state);
    const traceFrom = sim.out.trace.length;
    const callsFrom = sim.out.calls.length;
    const logs = {
      failed: logCount(sim, LOG.failed),
      unblocked: logCount(sim, LOG.unblocked),
      quarantined: logCount(sim, LOG.quarantined),
    };

    kernelCall(sim, ev);

    // The machine events the kernel sent for this call, as transitions of the machine, against
    // the ones the path step stands for (see the mapping in mbt-support.ts).
    const expectedKeys: Array<string | null> = [];
    let m = prev;
    for (const me of microEvents(prev, ev)) {
      expectedKeys.push(takenTransition(m, me));
      m = machineStep(m, me);
    }
    const kernelKeys: Array<string | null> = [];
    let k = prev;
    for (const e of sentEvents(sim, traceFrom)) {
      const key = takenTransition(k, e as GdevEvent);
      kernelKeys.push(key);
      if (!key) break;
      taken.add(key);
      k = machineStep(k, e as GdevEvent);
    }
    expect(kernelKeys, `${where(i)}: machine transitions sent by the kernel`).toEqual(expectedKeys);
    expect(kernelGdev(sim), `${where(i)}: kernel group_device state`).toEqual(want);
    expect(recoveryCnt(sim), `${where(i)}: recovery_cnt`).toBe(want.value === 'NO' ? 0 : 1);
    expect(sim.result().violations, `${where(i)}: violations`).toEqual([]);
    // 003 #11: schedule_work() does not queue broken_work twice; while broken_pending is set one is queued.
    const queued = queuedWorkers(sim);
    expect(queued, `${where(i)}: queued broken_work`).toBeLessThanOrEqual(1);
    if (want.context.broken_pending) expect(queued, `${where(i)}: broken_work queued while broken_pending`).toBe(1);

    // What the kernel returns and prints at this call (seed 003 #04, #11).
    const calls = sim.out.calls.slice(callsFrom);
    if (ev.type === 'PREPARE') {
      expect(
        calls.map((c) => [c.fn, c.ret]),
        `${where(i)}: prepare returns 0`,
      ).toEqual([['pci_dev_reset_iommu_prepare', '0']]);
    }
    if (ev.type === 'RESET_DONE') {
      expect(
        calls.map((c) => c.fn),
        `${where(i)}: one done() call`,
      ).toEqual(['pci_dev_reset_iommu_done']);
      const outermost = prev.context.reset_depth === 1;
      expect(logCount(sim, LOG.failed) - logs.failed, `${where(i)}: "${LOG.failed}"`).toBe(outermost && !ev.ok ? 1 : 0);
      expect(logCount(sim, LOG.unblocked) - logs.unblocked, `${where(i)}: "${LOG.unblocked}"`).toBe(
        outermost && ev.ok && (prev.value === 'RESET_FAILED' || prev.value === 'BROKEN') ? 1 : 0,
      );
    }
    expect(logCount(sim, LOG.quarantined) - logs.quarantined, `${where(i)}: "${LOG.quarantined}"`).toBe(
      ev.type === 'QUARANTINE' ? 1 : 0,
    );
  }
  return taken;
}

function queuedWorkers(sim: Simulation): number {
  return sim.world.s.queue.heap.filter((e) => e.ev.k === 'work.broken').length;
}

/** Run every path, collecting failures instead of stopping at the first one. */
function replayAll(paths: MbtPath[], policy: PolicySpec): { taken: Set<string>; failures: string[] } {
  const taken = new Set<string>();
  const failures: string[] = [];
  for (const p of paths) {
    try {
      for (const k of replay(p, policy)) taken.add(k);
    } catch (e) {
      failures.push((e as Error).message.split('\n').slice(0, 12).join('\n'));
    }
  }
  return { taken, failures };
}

function missing(all: Set<string>, got: Set<string>): string[] {
  return [...all].filter((k) => !got.has(k)).sort();
}

/* ------------------------------------------------------------------- v4 */

describe('group_device machine paths replayed on the kernel model (v4, reset_depth <= 2)', () => {
  const { shortest, simple, edges } = generate(true);

  it('generates paths to every state reachable within the depth bound', () => {
    // NO (pending or not), RESETTING at depth 1..2, RESET_FAILED and BROKEN at depth 0..2, each with broken_pending
    // false/true: 2 + 4 + 6 + 6 = 18 (seed 000 reset_depth; seed 003 #03/#04/#11 values and broken_pending).
    const states = feasibleTransitions(true).states.map(serialize).sort();
    expect(shortest.map((p) => serialize(p.state)).sort()).toEqual(states);
    expect(states).toHaveLength(18);
    expect(Math.max(...shortest.map((p) => p.state.context.reset_depth))).toBe(MAX_DEPTH);
    expect(simple.length).toBeGreaterThan(shortest.length);
    expect(edges.length).toBeGreaterThan(shortest.length);
  });

  for (const p of shortest) {
    it(`shortest path to ${serialize(p.state)}: ${label(p)}`, () => {
      replay(p, V4);
    });
  }

  for (const p of edges) {
    it(`transition ${eventLabel(p.steps[p.steps.length - 1]!.event)} after ${label(p)}`, () => {
      replay(p, V4);
    });
  }

  it(`all simple paths (${simple.length}) replay on the kernel`, () => {
    const { taken, failures } = replayAll(simple, V4);
    expect(failures).toEqual([]);
    // A simple path never comes back to the initial state (NO, reset_depth 0, not pending), which is where every
    // outermost successful done() ends (seed 003 #04 BLOCKED_NO, #11 broken_pending cleared): those transitions
    // are the only ones the simple paths leave to the transition cover below.
    expect(missing(definedTransitions(), taken)).toEqual([
      'BROKEN --CLEAR_BROKEN_PENDING[0:-]-->',
      'BROKEN --RESET_DONE[1:outermostOk]-->',
      'RESETTING --CLEAR_BROKEN_PENDING[0:-]-->',
      'RESETTING --RESET_DONE[1:outermostOk]-->',
      'RESET_FAILED --CLEAR_BROKEN_PENDING[0:-]-->',
      'RESET_FAILED --RESET_DONE[1:outermostOk]-->',
    ]);
  });

  it('the transition-cover paths exercise every transition of the machine definition within reset_depth <= 2', () => {
    // Every state × event × guard branch of groupDeviceMachine is reachable within the bound ...
    const defined = definedTransitions();
    expect(defined.size).toBe(24);
    expect([...feasibleTransitions(true).transitions].sort()).toEqual([...defined].sort());
    // ... as planned by the paths (model side, with the outermost done() split into its two machine events) ...
    const planned = new Set<string>();
    for (const p of edges) {
      for (let i = 1; i < p.steps.length; i++) {
        let s = plain(p.steps[i - 1]!.state);
        for (const me of microEvents(s, p.steps[i]!.event)) {
          planned.add(takenTransition(s, me)!);
          s = machineStep(s, me);
        }
      }
    }
    expect(missing(defined, planned)).toEqual([]);
    // ... and as the kernel model actually sent them.
    const { taken, failures } = replayAll([...shortest, ...edges], V4);
    expect(failures).toEqual([]);
    expect(missing(defined, taken)).toEqual([]);
  });
});

describe("the outermost successful done() is more than the machine's RESET_DONE alone", () => {
  // 003 #11: done() does `WRITE_ONCE(gdev->broken_pending, false)` before unblocking, so the kernel does not
  // follow the bare machine event: replaying a path of the raw machine (no CLEAR_BROKEN_PENDING) fails there.
  it('a report before a good reset is cleared by the kernel, not by RESET_DONE', () => {
    const opts = traversalOptions(true);
    const raw = getPathsFromEvents(
      groupDeviceMachine,
      [{ type: 'REPORT_BROKEN' }, { type: 'PREPARE' }, { type: 'RESET_DONE', ok: true }],
      { ...opts, fromState: generate(true).shortest[0]!.steps[0]!.state },
    ) as unknown as MbtPath[];
    expect(plain(raw[0]!.state)).toEqual({
      value: 'NO',
      context: { reset_depth: 0, broken_pending: true, nestedResetFix: true },
    });
    expect(() => replay(raw[0]!, V4)).toThrow(/step 3 \(RESET_DONE\(ok\)\)/);
    const sim = newKernel(V4);
    replayOn(sim, raw[0]!, false);
    expect(kernelGdev(sim)).toEqual({ value: 'NO', context: { reset_depth: 0, broken_pending: false, nestedResetFix: true } });
    expect(recoveryCnt(sim)).toBe(0);
  });
});

/* ------------------------------------------------- without the seed 000 fix */

describe('without the nested reset fix (v4, nestedResetFix=false)', () => {
  const { shortest, simple, edges } = generate(false);

  it('the machine never nests: reset_depth stays <= 1', () => {
    // Before seed 000 a second prepare on the same device is refused, so no path reaches depth 2.
    expect(Math.max(...simple.map((p) => p.state.context.reset_depth))).toBe(1);
    expect(shortest).toHaveLength(feasibleTransitions(false).states.length);
  });

  it(`every path (${shortest.length + edges.length + simple.length}) replays on the kernel and covers the reachable transitions`, () => {
    const { taken, failures } = replayAll([...shortest, ...edges, ...simple], V4_NO_NESTED_FIX);
    expect(failures).toEqual([]);
    const feasible = feasibleTransitions(false).transitions;
    expect(missing(feasible, taken)).toEqual([]);
    // Nesting transitions are not reachable: no PREPARE while RESETTING, no inner done().
    expect([...feasible].filter((k) => k.includes('innerDone') || k.startsWith('RESETTING --PREPARE'))).toEqual([]);
  });

  // Seed 000, the code it fixes: `/* Re-entry is not allowed */ if (WARN_ON(group->resetting_domain)) return -EBUSY;`
  const nestedStates = shortest.filter((p) => p.state.context.reset_depth >= 1);
  it('covers a reset in flight in every blocked state', () => {
    expect(nestedStates.map((p) => `${p.state.value}/${p.state.context.broken_pending}`).sort()).toEqual([
      'BROKEN/false',
      'BROKEN/true',
      'RESETTING/false',
      'RESETTING/true',
      'RESET_FAILED/false',
      'RESET_FAILED/true',
    ]);
  });
  for (const p of nestedStates) {
    it(`a nested prepare is refused with -EBUSY and a WARN, unseen by the machine: ${serialize(p.state)}`, () => {
      const sim = newKernel(V4_NO_NESTED_FIX);
      replayOn(sim, p);
      const before = kernelGdev(sim);
      expect(gdevCan(before, { type: 'PREPARE' })).toBe(false);
      const traceFrom = sim.out.trace.length;
      const callsFrom = sim.out.calls.length;
      const logFrom = sim.out.log.length;
      const cnt = recoveryCnt(sim);

      sim.spawnKernel('nested prepare', prepareFrame(BDF));
      settle(sim);

      const result = sim.result();
      expect(result.calls.slice(callsFrom).map((c) => [c.fn, c.args, c.ret])).toEqual([
        ['pci_dev_reset_iommu_prepare', [BDF], '-EBUSY'],
      ]);
      const log = result.log.slice(logFrom);
      expect(log.some((l) => l.includes('------------[ cut here ]------------'))).toBe(true);
      expect(log.some((l) => /WARNING: CPU: \d+ PID: \d+ at drivers\/iommu\/iommu\.c pci_dev_reset_iommu_prepare/.test(l))).toBe(
        true,
      );
      expect(sentEvents(sim, traceFrom)).toEqual([]);
      expect(kernelGdev(sim)).toEqual(before);
      expect(recoveryCnt(sim)).toBe(cnt);
      expect(result.violations).toEqual([]);
    });
  }

  it('with the fix the same nested prepare is accepted: reset_depth 2, no WARN (seed 000)', () => {
    const p = generate(true).shortest.find(
      (x) => x.state.value === 'RESETTING' && x.state.context.reset_depth === 1 && !x.state.context.broken_pending,
    )!;
    const sim = newKernel(V4);
    replayOn(sim, p);
    const logFrom = sim.out.log.length;
    sim.spawnKernel('nested prepare', prepareFrame(BDF));
    settle(sim);
    expect(sim.out.calls.at(-1)).toMatchObject({ fn: 'pci_dev_reset_iommu_prepare', ret: '0' });
    expect(sim.out.log.slice(logFrom).filter((l) => l.text.includes('WARNING'))).toEqual([]);
    expect(kernelGdev(sim)).toMatchObject({ value: 'RESETTING', context: { reset_depth: 2 } });
    expect(recoveryCnt(sim)).toBe(1);
    expect(sim.result().violations).toEqual([]);
  });
});

function replayOn(sim: Simulation, p: MbtPath, checkEnd = true): void {
  for (const e of eventsOf(p)) kernelCall(sim, e);
  if (checkEnd) expect(kernelGdev(sim)).toEqual(plain(p.state));
}
