/**
 * Test support: build scenarios in code and run them under a policy.
 * Tests import the core through its modules; this file keeps the boilerplate
 * (validation, run, result) in one place.
 */
import { Simulation, type SimOptions, type SimResult } from '../engine.ts';
import { formatErrors, validateScenario } from '../scenario/validate.ts';
import type { PolicySpec, ResolvedScenario, Scenario, Step } from '../scenario/types.ts';
import type { TraceRecord } from '../trace.ts';

export const NVME = '0000:01:00.0';

/** A one-device scenario (nvme, SID 256, ATS) in domain dma0 unless overridden. */
export function scenario(over: Partial<Scenario> & { steps?: Step[] } = {}): Scenario {
  return {
    format: 'smmu-scenario/1',
    name: over.name ?? 'test',
    seed: 1,
    policy: 'v4',
    memory: { pages: 32 },
    domains: [
      { id: 'dma0', type: 'paging' },
      { id: 'dma1', type: 'paging' },
    ],
    groups: [{ id: 0, domain: 'dma0', devices: [{ bdf: NVME, sids: [256], ats: true, pasid: false, driver: 'nvme' }] }],
    ...over,
    steps: over.steps ?? [],
  } as Scenario;
}

export function resolve(s: Scenario): ResolvedScenario {
  const v = validateScenario(s);
  if (!v.ok) throw new Error(`invalid test scenario:\n${formatErrors(v.errors)}`);
  return v.scenario;
}

export interface Run {
  sim: Simulation;
  result: SimResult;
  trace: TraceRecord[];
  log: string[];
}

/** Validate, run to the end and return the simulation, its result, trace and log. */
export function run(s: Scenario, policy?: PolicySpec, opts: Omit<SimOptions, 'policy'> = {}): Run {
  const sim = new Simulation(resolve(s), { ...opts, policy });
  sim.run();
  const result = sim.result();
  return { sim, result, trace: sim.out.trace, log: result.log };
}

/** Log lines containing `needle` (the dmesg timestamp and prefix included). */
export function logLines(r: Run, needle: string): string[] {
  return r.log.filter((l) => l.includes(needle));
}

export function device(r: Run, bdf = NVME) {
  const d = r.result.devices.find((x) => x.bdf === bdf);
  if (!d) throw new Error(`no device ${bdf}`);
  return d;
}

export function calls(r: Run, fn: string) {
  return r.result.calls.filter((c) => c.fn === fn);
}

export function traceOf(r: Run, kind: string) {
  return r.trace.filter((t) => t.kind === kind);
}

/** The standard fault sequence: map, DMA (fills the ATC), device hangs, unmap. */
export function faultSteps(bdf = NVME): Step[] {
  return [
    { at: 0, op: 'map', domain: 'dma0', iova: '0x10000', pages: 2 },
    { at: 10, op: 'dma', device: bdf, iova: '0x10000', write: true },
    { at: 20, op: 'fault', device: bdf, kind: 'atc-unresponsive' },
    { at: 30, op: 'unmap', domain: 'dma0', iova: '0x10000', pages: 2 },
  ];
}
