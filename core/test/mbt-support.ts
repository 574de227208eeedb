/**
 * Model-based testing support for the group_device machine: a traversal view
 * of the machine that matches what one kernel call does, the set of the
 * machine's transitions (state × event × guard branch), and a driver that
 * replays a path of machine events on the real kernel model.
 *
 * Mapping of machine events to kernel calls (one path step = one kernel call):
 *   PREPARE               pci_dev_reset_iommu_prepare(pdev)
 *   RESET_DONE {ok:true}  pci_dev_reset_iommu_done(pdev, 0)
 *   RESET_DONE {ok:false} pci_dev_reset_iommu_done(pdev, -ETIMEDOUT)
 *   REPORT_BROKEN         iommu_report_device_broken(dev)
 *   QUARANTINE            the queued broken_work runs iommu_group_broken_worker()
 *   CLEAR_BROKEN_PENDING  no kernel call of its own: the outermost successful
 *                         pci_dev_reset_iommu_done() does
 *                         `WRITE_ONCE(gdev->broken_pending, false)` right after
 *                         ops->reset_device_done() and before it unblocks the
 *                         device (seed 003 #11). So in the traversal view a
 *                         RESET_DONE {ok:true} that reaches reset_depth 0 on a
 *                         blocked device is the machine's CLEAR_BROKEN_PENDING
 *                         followed by its RESET_DONE {ok:true}, the order the
 *                         kernel sends them in; CLEAR_BROKEN_PENDING is never
 *                         offered as a step by itself.
 */
import { transition, type AnyActorScope } from 'xstate';
import { Simulation } from '../engine.ts';
import { groupDeviceMachine, type GdevEvent, type GdevMachineState } from '../machines/groupDevice.machine.ts';
import { doneFrame, prepareFrame } from '../kernel/iommu.ts';
import { iommu_report_device_broken } from '../kernel/iommu-report.ts';
import { ETIMEDOUT } from '../kernel/util.ts';
import type { TraceRecordOf } from '../trace.ts';
import { queuePeek } from '../sim/queue.ts';
import type { PolicySpec } from '../scenario/types.ts';
import { NVME, resolve, scenario } from './support.ts';

export type GdevSnapshot = ReturnType<typeof groupDeviceMachine.transition>;

/** Upper bound on reset_depth explored by the model-based tests. */
export const MAX_DEPTH = 2;

/** Every concrete event of the machine (RESET_DONE with both results). */
export const ALL_EVENTS: readonly GdevEvent[] = [
  { type: 'PREPARE' },
  { type: 'RESET_DONE', ok: true },
  { type: 'RESET_DONE', ok: false },
  { type: 'REPORT_BROKEN' },
  { type: 'CLEAR_BROKEN_PENDING' },
  { type: 'QUARANTINE' },
];

/** Event types in the machine's own order, for stable keys. */
export const EVENT_TYPES = ['PREPARE', 'RESET_DONE', 'REPORT_BROKEN', 'CLEAR_BROKEN_PENDING', 'QUARANTINE'] as const;

export function eventLabel(e: GdevEvent | { type: string; ok?: boolean }): string {
  return 'ok' in e && e.type === 'RESET_DONE' ? `RESET_DONE(${e.ok ? 'ok' : 'failed'})` : e.type;
}

export function plain(s: { value: unknown; context: GdevMachineState['context'] }): GdevMachineState {
  return { value: s.value as GdevMachineState['value'], context: { ...s.context } };
}

/** value + context, the identity of a state in the traversal. */
export function serialize(s: { value: unknown; context: unknown }): string {
  return JSON.stringify({ value: s.value, context: s.context });
}

/**
 * The outermost successful done(): reset_depth 1 on a blocked device. The
 * kernel clears broken_pending there before it sends RESET_DONE (seed 003 #11).
 */
export function isOutermostSuccessfulDone(s: GdevMachineState | GdevSnapshot, e: GdevEvent): boolean {
  return e.type === 'RESET_DONE' && e.ok && s.context.reset_depth === 1 && s.value !== 'NO';
}

/** The machine events one kernel call sends for path event `e` taken in state `s`. */
export function microEvents(s: GdevMachineState | GdevSnapshot, e: GdevEvent): GdevEvent[] {
  return isOutermostSuccessfulDone(s, e) ? [{ type: 'CLEAR_BROKEN_PENDING' }, e] : [e];
}

/**
 * The traversal view: groupDeviceMachine itself, except that an outermost
 * successful RESET_DONE is the pair CLEAR_BROKEN_PENDING, RESET_DONE (see the
 * mapping above). Every other event is the machine's own transition.
 */
export const kernelView: typeof groupDeviceMachine = Object.create(groupDeviceMachine, {
  transition: {
    value(snapshot: GdevSnapshot, event: GdevEvent, scope: AnyActorScope): GdevSnapshot {
      let s = snapshot;
      for (const m of microEvents(snapshot, event)) s = groupDeviceMachine.transition(s, m, scope);
      return s;
    },
  },
});

/**
 * Events offered in a state: the ones the machine accepts, PREPARE only while
 * reset_depth < MAX_DEPTH, and never CLEAR_BROKEN_PENDING alone.
 */
export function offeredEvents(s: GdevSnapshot): GdevEvent[] {
  return ALL_EVENTS.filter((e) => {
    if (e.type === 'CLEAR_BROKEN_PENDING') return false;
    if (e.type === 'PREPARE' && s.context.reset_depth >= MAX_DEPTH) return false;
    return s.can(e);
  });
}

/* ----------------------------------------------------------- transitions */

interface TransitionLike {
  source: { key: string };
  guard?: unknown;
  eventType: string;
}

function guardName(t: TransitionLike): string {
  const g = t.guard;
  if (g === undefined) return '-';
  if (typeof g === 'string') return g;
  if (g && typeof g === 'object' && 'type' in g) return String((g as { type: unknown }).type);
  return 'inline';
}

function candidates(stateKey: string, eventType: string): TransitionLike[] {
  const node = groupDeviceMachine.root.states[stateKey];
  if (!node) throw new Error(`no state ${stateKey}`);
  const on = (n: { on: unknown }) => n.on as Record<string, TransitionLike[] | undefined>;
  const own = on(node)[eventType];
  if (own && own.length) return own;
  return on(groupDeviceMachine.root)[eventType] ?? [];
}

function transitionKey(stateKey: string, eventType: string, index: number, t: TransitionLike): string {
  return `${stateKey} --${eventType}[${index}:${guardName(t)}]-->`;
}

/** Every transition in the machine definition: atomic state × event type × guard branch. */
export function definedTransitions(): Set<string> {
  const out = new Set<string>();
  for (const stateKey of Object.keys(groupDeviceMachine.root.states)) {
    for (const type of EVENT_TYPES) {
      candidates(stateKey, type).forEach((t, i) => out.add(transitionKey(stateKey, type, i, t)));
    }
  }
  return out;
}

/** The machine transition (key) that event `e` takes in state `s`, or null when the machine rejects it. */
export function takenTransition(s: GdevMachineState, e: GdevEvent): string | null {
  const snap = groupDeviceMachine.resolveState({ value: s.value, context: { ...s.context } });
  const enabled = groupDeviceMachine.getTransitionData(snap, e) as unknown as TransitionLike[];
  if (enabled.length === 0) return null;
  if (enabled.length !== 1) throw new Error(`ambiguous transition for ${e.type} in ${s.value}`);
  const cands = candidates(s.value, e.type);
  const i = cands.indexOf(enabled[0]!);
  if (i < 0) throw new Error(`transition for ${e.type} in ${s.value} is not among the state's own or the root's`);
  return transitionKey(s.value, e.type, i, enabled[0]!);
}

/** Apply one machine event to plain state (throws when the machine rejects it). */
export function machineStep(s: GdevMachineState, e: GdevEvent): GdevMachineState {
  const snap = groupDeviceMachine.resolveState({ value: s.value, context: { ...s.context } });
  if (!snap.can(e)) throw new Error(`machine rejects ${eventLabel(e)} in ${serialize(s)}`);
  const [next] = transition(groupDeviceMachine, snap, e);
  return plain(next);
}

/**
 * Every state reachable from the initial one with reset_depth <= maxDepth
 * (PREPARE offered only below maxDepth; CLEAR_BROKEN_PENDING included, as the
 * machine allows it), and every transition taken on the way: the transitions
 * feasible within the depth bound.
 */
export function feasibleTransitions(
  nestedResetFix: boolean,
  maxDepth = MAX_DEPTH,
): { states: GdevMachineState[]; transitions: Set<string> } {
  const init = plain(
    groupDeviceMachine.resolveState({ value: 'NO', context: { reset_depth: 0, broken_pending: false, nestedResetFix } }),
  );
  const seen = new Map<string, GdevMachineState>([[serialize(init), init]]);
  const queue = [init];
  const transitions = new Set<string>();
  while (queue.length) {
    const s = queue.shift()!;
    for (const e of ALL_EVENTS) {
      if (e.type === 'PREPARE' && s.context.reset_depth >= maxDepth) continue;
      const key = takenTransition(s, e);
      if (!key) continue;
      transitions.add(key);
      const n = machineStep(s, e);
      const k = serialize(n);
      if (!seen.has(k)) {
        seen.set(k, n);
        queue.push(n);
      }
    }
  }
  return { states: [...seen.values()], transitions };
}

/* ---------------------------------------------------------------- kernel */

export const BDF = NVME;
/** Far beyond any cmdq wait, so broken_work runs only when a QUARANTINE step lets it. */
export const WORKER_LATENCY_US = 1_000_000;

export function newKernel(policy: PolicySpec): Simulation {
  return new Simulation(resolve(scenario({ name: 'mbt', kernel: { workerLatencyUs: WORKER_LATENCY_US } })), { policy });
}

export function kernelGdev(sim: Simulation): GdevMachineState {
  return plain(sim.world.k.gdevs[BDF]!.m);
}

export function recoveryCnt(sim: Simulation): number {
  const g = sim.world.k.gdevs[BDF]!;
  return sim.world.k.groups[g.group]!.recoveryCnt;
}

function nextIsWorker(sim: Simulation): boolean {
  return queuePeek(sim.world.s.queue)?.ev.k === 'work.broken';
}

/**
 * Run the kernel until no kernel task is left, processing every event before
 * the queued broken_work (which only a QUARANTINE step may run).
 */
export function settle(sim: Simulation): void {
  for (let n = 0; ; n++) {
    if (n > 1_000_000) throw new Error('kernel did not settle');
    if (sim.nextEventNs() === null || nextIsWorker(sim)) break;
    sim.step();
  }
  const left = sim.world.k.tasks.map((t) => `${t.name} (${t.wait?.kind ?? 'running'})`);
  if (left.length) throw new Error(`kernel tasks still waiting when only broken_work is left: ${left.join(', ')}`);
}

/** The machine events the kernel sent since trace index `from` ('gdev.state' records). */
export function sentEvents(sim: Simulation, from: number): Array<{ type: string; ok?: boolean }> {
  return sim.out.trace
    .slice(from)
    .filter((r): r is TraceRecordOf<'gdev.state'> => r.kind === 'gdev.state' && r.d.bdf === BDF)
    .map((r) => ('ok' in r.d ? { type: String(r.d.event), ok: Boolean(r.d.ok) } : { type: String(r.d.event) }));
}

/** Make the kernel call that corresponds to path event `e`. */
export function kernelCall(sim: Simulation, e: GdevEvent): void {
  switch (e.type) {
    case 'PREPARE':
      sim.spawnKernel('reset prepare', prepareFrame(BDF));
      break;
    case 'RESET_DONE':
      sim.spawnKernel('reset done', doneFrame(BDF, e.ok ? 0 : ETIMEDOUT));
      break;
    case 'REPORT_BROKEN':
      iommu_report_device_broken(sim.world, BDF);
      break;
    case 'QUARANTINE':
      if (!nextIsWorker(sim)) throw new Error('QUARANTINE step but no broken_work is queued');
      sim.step();
      break;
    case 'CLEAR_BROKEN_PENDING':
      throw new Error('CLEAR_BROKEN_PENDING has no kernel call of its own (it is part of the outermost successful done())');
  }
  settle(sim);
}
