import { describe, expect, it } from 'vitest';
import { device, faultSteps, logLines, run, scenario } from './support.ts';

// Seed 003 cover letter: baseline keeps EATS on; v4 clears it and quarantines.
describe('smoke', () => {
  it('v4 quarantines an unresponsive device, baseline does not', () => {
    const v4 = run(scenario({ steps: faultSteps() }), 'v4');
    expect(device(v4).blocked).toBe('BROKEN');
    expect(device(v4).steEats).toEqual([0]);
    expect(logLines(v4, 'IOMMU has quarantined the device')).toHaveLength(1);
    const base = run(scenario({ steps: faultSteps() }), 'baseline');
    expect(device(base).blocked).toBe('NO');
    expect(device(base).steEats).toEqual([1]);
    expect(base.result.violations).toEqual([]);
  });
});
