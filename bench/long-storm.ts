/**
 * The long storms the page must record and seek in: `devices` ATS devices in
 * one paging domain, `unmaps` map/unmap pairs 100 µs apart, and one device
 * (the first) made unresponsive to ATC invalidations at 25 µs. The scenario
 * files in bench/scenarios/ are written from here by `bench/make-scenarios.ts`.
 */
import type { Scenario, Step } from '../core/scenario/types.ts';
import { bdf as bdfOf } from './storm-scenario.ts';

export { bdfOf };

export function longStorm(devices: number, unmaps: number): Scenario {
  const steps: Step[] = [{ at: 25, op: 'fault', device: bdfOf(0), kind: 'atc-unresponsive' }];
  for (let r = 0; r < unmaps; r++) {
    const iova = '0x' + (0x100000 + (r % 16) * 0x1000).toString(16);
    steps.push({ at: r * 100, op: 'map', domain: 'dma0', iova, pages: 1 });
    steps.push({ at: r * 100 + 50, op: 'unmap', domain: 'dma0', iova, pages: 1 });
  }
  return {
    format: 'smmu-scenario/1',
    name: `storm: ${devices} devices, ${unmaps} unmaps, one unresponsive`,
    description: `${devices} ATS devices in one paging domain; ${unmaps} map/unmap pairs 100 µs apart; ${bdfOf(0)} stops answering ATC invalidations at 25 µs.`,
    seed: 1,
    policy: 'v4',
    memory: { pages: 64 },
    domains: [{ id: 'dma0', type: 'paging' }],
    groups: Array.from({ length: devices }, (_, i) => ({
      id: i,
      domain: 'dma0',
      devices: [{ bdf: bdfOf(i), sids: [0x100 + i], ats: true, pasid: false, driver: 'nvme' }],
    })),
    steps,
  };
}

/** The storms of bench/scenarios/, by file name. */
export const LONG_STORMS: Array<{ file: string; devices: number; unmaps: number }> = [
  { file: 'storm-8x1000.json', devices: 8, unmaps: 1000 },
  { file: 'storm-64x2000.json', devices: 64, unmaps: 2000 },
  { file: 'storm-256x4000.json', devices: 256, unmaps: 4000 },
];
