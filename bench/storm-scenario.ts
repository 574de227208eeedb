/** The 64-device invalidation storm used by the core benchmark. */
import type { Scenario, Step } from '../core/scenario/types.ts';

export const DEVICES = 64;

/** The BDF of storm device i: eight functions per bus from bus 0x10. */
export function bdf(i: number): string {
  return `0000:${(0x10 + (i >> 3)).toString(16).padStart(2, '0')}:${(i & 7).toString(16).padStart(2, '0')}.0`;
}

/**
 * 64 ATS devices in one DMA domain and `rounds` map/unmap pairs: every unmap
 * invalidates the TLB and the ATC of all 64 devices. With `faulty`, one
 * device stops answering ATC invalidations halfway through.
 */
export function stormScenario(rounds: number, cmdqLog2Size = 8, faulty = false): Scenario {
  const steps: Step[] = [];
  let t = 0;
  for (let r = 0; r < rounds; r++) {
    const iova = '0x' + (0x100000 + (r % 16) * 0x1000).toString(16);
    steps.push({ at: t, op: 'map', domain: 'dma0', iova, pages: 1 });
    if (r % 8 === 0) steps.push({ at: t + 1, op: 'dma', device: bdf(r % DEVICES), iova, write: true });
    steps.push({ at: t + 2, op: 'unmap', domain: 'dma0', iova, pages: 1 });
    if (faulty && r === Math.floor(rounds / 2)) steps.push({ at: t + 3, op: 'fault', device: bdf(7), kind: 'atc-unresponsive' });
    t += 20;
  }
  return {
    format: 'smmu-scenario/1',
    name: `storm ${rounds}`,
    seed: 7,
    policy: 'v4',
    smmu: { cmdqLog2Size },
    memory: { pages: 64 },
    domains: [{ id: 'dma0', type: 'paging' }],
    groups: Array.from({ length: DEVICES }, (_, i) => ({
      id: i,
      domain: 'dma0',
      devices: [{ bdf: bdf(i), sids: [0x100 + i], ats: true, pasid: false, driver: 'nvme' }],
    })),
    steps,
  };
}
