/**
 * Helpers for the behaviour tests: scenario builders for the device layouts
 * the seeds talk about, and readers for the kernel log and the trace.
 */
import { Simulation } from '../engine.ts';
import { readReg } from '../hw/smmu.ts';
import type { PolicySpec, Scenario, Step } from '../scenario/types.ts';
import type { TraceEvents, TraceKind, TraceRecordOf } from '../trace.ts';
import { NVME, resolve, run, scenario, type Run } from './support.ts';

export { NVME };
export const POLICIES = ['baseline', 'v4', 'driver-only'] as const;
export type PresetId = (typeof POLICIES)[number];

/** dev_name() of the SMMU platform device, with the driver name, as dev_*() prints it. */
export const SMMU = 'arm-smmu-v3 arm-smmu-v3.0.auto: ';

/** "[%5lu.%06lu] " — the dmesg timestamp printk puts in front of every line. */
export const DMESG_TS = /^\[[ \d]{5}\d*\.\d{6}\] /;

export interface DevOpts {
  ats?: boolean;
  pasid?: boolean;
  driver?: string;
}

export function dev(bdf: string, sids: number[], o: DevOpts = {}) {
  return { bdf, sids, ats: o.ats ?? true, pasid: o.pasid ?? false, driver: o.driver ?? 'nvme' };
}

/** One group per device, all attached to dma0 (devices sharing one DMA domain, as in a shared unmap batch). */
export function sharedDomainScenario(devs: ReturnType<typeof dev>[], steps: Step[], over: Partial<Scenario> = {}): Scenario {
  return scenario({ groups: devs.map((d, i) => ({ id: i, domain: 'dma0', devices: [d] })), steps, ...over });
}

/** One group holding all the devices (functions of one multi-function card). */
export function oneGroupScenario(devs: ReturnType<typeof dev>[], steps: Step[], over: Partial<Scenario> = {}): Scenario {
  return scenario({ groups: [{ id: 0, domain: 'dma0', devices: devs }], steps, ...over });
}

/** Map two pages, let `bdfs` cache them in their ATCs, make `bad` unresponsive, unmap at `unmapAt` µs. */
export function atcTimeoutSteps(bdfs: string[], bad: string, unmapAt = 30): Step[] {
  return [
    { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
    ...bdfs.map((b, i): Step => ({ at: 10 + i * 0.1, op: 'dma', device: b, iova: '0x10000', write: true })),
    { at: 20, op: 'fault', device: bad, kind: 'atc-unresponsive' },
    { at: unmapAt, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 2 },
  ];
}

/* ------------------------------------------------------------------ log */

/** A log line without its dmesg timestamp. */
export function msg(line: string): string {
  return line.replace(DMESG_TS, '');
}

/** All log messages without timestamps. */
export function messages(r: Run): string[] {
  return r.log.map(msg);
}

/** Messages (without timestamp) that contain `needle`. */
export function msgsWith(r: Run, needle: string): string[] {
  return messages(r).filter((m) => m.includes(needle));
}

/** Index of the first message containing `needle`, or -1. */
export function msgIndex(r: Run, needle: string, from = 0): number {
  const all = messages(r);
  for (let i = from; i < all.length; i++) if (all[i]!.includes(needle)) return i;
  return -1;
}

/** The timestamp of a log line in µs, parsed back from "[%5lu.%06lu]". */
export function lineUs(line: string): number {
  const m = /^\[\s*(\d+)\.(\d{6})\]/.exec(line);
  if (!m) throw new Error(`not a dmesg line: ${line}`);
  return Number(m[1]) * 1_000_000 + Number(m[2]);
}

/* ---------------------------------------------------------------- trace */

/** The records of one kind (for which `pred` holds), typed for their kind. */
export function tr<K extends TraceKind>(
  r: Run | Simulation,
  kind: K,
  pred: (d: TraceEvents[K]) => boolean = () => true,
): Array<TraceRecordOf<K>> {
  const trace = r instanceof Simulation ? r.out.trace : r.trace;
  return trace.filter((t): t is TraceRecordOf<K> => t.kind === kind && pred(t.d as TraceEvents[K]));
}

export function first<K extends TraceKind>(
  r: Run | Simulation,
  kind: K,
  pred?: (d: TraceEvents[K]) => boolean,
): TraceRecordOf<K> | undefined {
  return tr(r, kind, pred)[0];
}

/** The blocked states a group_device went through, in order (from gdev.state records). */
export function blockedPath(r: Run, bdf = NVME): string[] {
  const path: string[] = [];
  for (const t of tr(r, 'gdev.state', (d) => d.bdf === bdf)) {
    const to = String(t.d.to);
    if (path[path.length - 1] !== to) path.push(to);
  }
  return path;
}

/** reset_depth after each prepare and done (the PREPARE and RESET_DONE group_device events). */
export function depthPath(r: Run, bdf = NVME): number[] {
  return tr(r, 'gdev.state', (d) => d.bdf === bdf && (d.event === 'PREPARE' || d.event === 'RESET_DONE')).map((t) =>
    Number(t.d.resetDepth),
  );
}

/** Returns of the calls to `fn` made by steps, in the order they returned. */
export function rets(r: Run, fn: string): string[] {
  return r.result.calls.filter((c) => c.fn === fn).map((c) => c.ret);
}

/** The return value of the call to `fn` a step started at `atUs`. */
export function retAt(r: Run, fn: string, atUs: number): string | undefined {
  return r.result.calls.find((c) => c.fn === fn && c.atUs === atUs)?.ret;
}

/* ------------------------------------------------------------ live runs */

/** A simulation paused at `tUs` (every event at or before it processed). */
export function simAt(s: Scenario, policy: PolicySpec, tUs: number): Simulation {
  return simAtNs(s, policy, Math.round(tUs * 1000));
}

/** A simulation paused at `tNs` of virtual time. */
export function simAtNs(s: Scenario, policy: PolicySpec, tNs: number): Simulation {
  const sim = new Simulation(resolve(s), { policy });
  sim.runUntil(tNs);
  return sim;
}

export function reg(sim: Simulation, off: number): number {
  return readReg(sim.world, off);
}

/** Run a scenario under every preset. */
export function runAll(s: Scenario): Record<PresetId, Run> {
  return { baseline: run(s, 'baseline'), v4: run(s, 'v4'), 'driver-only': run(s, 'driver-only') };
}

export { run, scenario, type Run };
