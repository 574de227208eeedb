/**
 * The invariant checker can fail (issue 12, "Tests that can fail"): for each
 * invariant, a run is brought to a state that breaks it by hand, and the
 * checker must report it. Every other test expects zero violations, so
 * without these a checker that reports nothing would pass them all.
 *
 * The invariants are the promises of the seeds:
 * - recovery_cnt counts the blocked group_devices of a group (seed 003 #03,
 *   #06: the fence that refuses attaches while it is non-zero);
 * - reset_depth never goes negative (seed 000: nested prepare/done);
 * - STE.EATS is clear on every SID of an ats_broken master (seed 003 #17:
 *   the surgical EATS clear and the fence that keeps attaches from
 *   setting it again);
 * - CMDQ CONS never passes PROD (the architecture);
 * - the kernel never writes an ATC_INV for an ats_broken master (seed 003
 *   #18; its checker test is in behaviour-kernel.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { Simulation, checkInvariants } from '../engine.ts';
import { ARM_SMMU_CMDQ_CONS, ARM_SMMU_CMDQ_PROD } from '../hw/regs.ts';
import { readReg, steL2 } from '../hw/smmu.ts';
import { setSteEats, steEats } from '../hw/ste.ts';
import { NVME, faultSteps, resolve, scenario } from './support.ts';

/** A run of the fault scenario up to `untilUs`, with no violation so far. */
function quarantined(untilUs = 5_000_000): Simulation {
  const sim = new Simulation(resolve(scenario({ steps: faultSteps() })), { policy: 'v4' });
  sim.runUntil(untilUs * 1000);
  expect(sim.world.k.masters[NVME]!.atsBroken).toBe(true);
  expect(sim.out.violations).toEqual([]);
  return sim;
}

const invariants = (sim: Simulation) => sim.out.violations.map((v) => v.invariant);

describe('the invariant checker reports a state that breaks each invariant', () => {
  it('recovery_cnt: a group whose count differs from its blocked devices', () => {
    const sim = quarantined();
    const grp = sim.world.k.groups[0]!;
    expect(grp.recoveryCnt).toBe(1);
    grp.recoveryCnt = 0;
    sim.world.k.invDirty = true;
    checkInvariants(sim.world);
    expect(invariants(sim)).toEqual(['recovery_cnt']);
    expect(sim.out.violations[0]!.message).toBe('group 0: recovery_cnt is 0 but 1 device(s) are blocked');
  });

  it('reset_depth: a negative depth', () => {
    const sim = quarantined();
    const g = sim.world.k.gdevs[NVME]!;
    g.m = { ...g.m, context: { ...g.m.context, reset_depth: -1 } };
    sim.world.k.invDirty = true;
    checkInvariants(sim.world);
    expect(invariants(sim)).toEqual(['reset_depth']);
  });

  it('eats-while-ats-broken: STE.EATS set again on the SID of a quarantined master', () => {
    const sim = quarantined();
    const loc = steL2(sim.world, 256, false)!;
    expect(steEats(loc.arr, loc.base)).toBe(0);
    setSteEats(loc.arr, loc.base, 1);
    sim.world.k.invDirty = true;
    checkInvariants(sim.world);
    expect(invariants(sim)).toEqual(['eats-while-ats-broken']);
  });

  it('cons-passes-prod: CONS ahead of PROD', () => {
    const sim = quarantined();
    const w = sim.world;
    const prod = readReg(w, ARM_SMMU_CMDQ_PROD);
    expect(readReg(w, ARM_SMMU_CMDQ_CONS) & 0xfffff).toBe(prod & 0xfffff);
    w.smmu.regs[ARM_SMMU_CMDQ_CONS / 4] = (prod + 3) >>> 0;
    checkInvariants(w);
    expect(invariants(sim)).toEqual(['cons-passes-prod']);
  });

  it('a state that keeps every invariant reports nothing', () => {
    const sim = quarantined();
    sim.world.k.invDirty = true;
    checkInvariants(sim.world);
    expect(sim.out.violations).toEqual([]);
  });
});
