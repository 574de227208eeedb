/**
 * The consumer's run-ahead (several commands in one event) must not change
 * anything but the number of events: every built-in, under every policy,
 * gives the same result document, log and API calls with one event per
 * command (stepwise) as with run-ahead. The trace holds the same records at
 * the same times; only ATC purge records may be written at a later event
 * (they carry their exact time in `atNs`). The consumer also runs ahead to
 * the completion of a CMD_SYNC that waits only for invalidations completing
 * in time, with the trace on or off: the same results again, in fewer events.
 */
import { describe, expect, it } from 'vitest';
import { Simulation } from '../engine.ts';
import { BUILTIN_SCENARIOS } from '../scenario/builtins/index.ts';
import { POLICY_PRESETS } from '../policy/index.ts';
import { resolve } from './support.ts';
import { opcodeName } from '../hw/cmd.ts';
import { stormScenario } from '../../bench/storm-scenario.ts';

function runBoth(s: Parameters<typeof resolve>[0], policy: (typeof POLICY_PRESETS)[number], trace = true) {
  const a = new Simulation(resolve(s), { policy, stepwise: false, trace });
  const b = new Simulation(resolve(s), { policy, stepwise: true, trace });
  a.run();
  b.run();
  return { a, b };
}

const nonPurge = (sim: Simulation) =>
  sim.out.trace
    .filter((t) => t.kind !== 'atc.purge' && t.kind !== 'atc.inv.late')
    .map((t) => `${t.t} ${t.kind} ${JSON.stringify(t.d)}`);

describe('run-ahead and stepwise consumption agree', () => {
  for (const [id, s] of Object.entries(BUILTIN_SCENARIOS)) {
    it(`${id}: same result, log, calls and trace under every policy`, () => {
      for (const p of POLICY_PRESETS) {
        const { a, b } = runBoth(s, p);
        expect(JSON.stringify(a.result())).toBe(JSON.stringify(b.result()));
        expect(nonPurge(a)).toEqual(nonPurge(b));
        expect(a.eventsProcessed).toBeLessThanOrEqual(b.eventsProcessed);
      }
    });
  }

  it('a 64-device storm: same result with a fraction of the events', () => {
    const { a, b } = runBoth(stormScenario(60, 8), 'v4');
    expect(JSON.stringify(a.result())).toBe(JSON.stringify(b.result()));
    expect(a.eventsProcessed * 3).toBeLessThan(b.eventsProcessed);
  });

  it('the same storm with a device that stops answering (the v4 retry cascade): same result', () => {
    const { a, b } = runBoth(stormScenario(60, 8, true), 'v4');
    expect(JSON.stringify(a.result())).toBe(JSON.stringify(b.result()));
    expect(a.result().stats.quarantines).toBe(1);
  });

  it('trace off: every built-in, and the storm, give the same result; a CMD_SYNC waiting on completions costs no event of its own, trace on or off', () => {
    for (const [id, sc] of Object.entries(BUILTIN_SCENARIOS)) {
      for (const p of POLICY_PRESETS) {
        const { a, b } = runBoth(sc, p, false);
        expect(JSON.stringify(a.result()), `${id} under ${p}`).toBe(JSON.stringify(b.result()));
      }
    }
    const storm = stormScenario(60, 8);
    const on = new Simulation(resolve(storm), { trace: true });
    const { a, b } = runBoth(storm, 'v4', false);
    on.run();
    expect(JSON.stringify(a.result())).toBe(JSON.stringify(b.result()));
    expect(JSON.stringify(a.result())).toBe(JSON.stringify(on.result()));
    // Per unmap, two syncs (seed 003 #24: each ATS batch is synced) each
    // wait for their last completion: stepwise, an event each; run ahead, none.
    expect(on.eventsProcessed).toBe(a.eventsProcessed);
    expect(b.eventsProcessed - a.eventsProcessed).toBeGreaterThanOrEqual(2 * 60);
  });

  it('a batch goes into the ring as a block, split where the ring wraps: every slot holds the command last written to it, trace on or off', () => {
    // A 2^8 ring takes batches of 64 (a block copy of the whole batch), a
    // 2^6 ring batches of 31 (split at the wrap into runs copied word by
    // word or as a block). The cmdq.write records name the command the
    // driver meant for each slot (from its batch, not from the ring).
    for (const log2 of [8, 6]) {
      const storm = stormScenario(40, log2);
      const off = new Simulation(resolve(storm), { trace: false });
      const on = new Simulation(resolve(storm), { trace: true });
      let wraps = 0;
      let lastProd = 0;
      for (let t = 1; t <= 40 * 20; t += 1) {
        off.runUntil(t * 1000);
        on.runUntil(t * 1000);
        expect(Array.from(off.world.smmu.cmdq), `2^${log2} ring at ${t} us`).toEqual(Array.from(on.world.smmu.cmdq));
        const meant = new Map<number, string>();
        for (const r of on.out.trace) if (r.kind === 'cmdq.write') meant.set(r.d.slot as number, r.d.op as string);
        for (const [slot, op] of meant)
          expect(opcodeName(on.world.smmu.cmdq[slot * 4]! & 0xff), `2^${log2} ring slot ${slot} at ${t} us`).toBe(op);
        const prod = off.world.k.cmdq.prod;
        if ((prod ^ lastProd) & (1 << log2)) wraps++;
        lastProd = prod;
      }
      expect(wraps).toBeGreaterThan(4);
      expect(off.result().stats.atcInvIssued).toBe(on.result().stats.atcInvIssued);
    }
  });

  it('the count of tasks waiting for queue space (which stops the run-ahead) follows the tasks through every event', () => {
    // A 2^6 ring and a device that stops answering: unmaps queue up behind
    // the retry cascade and wait for space; each CONS move wakes some.
    const sim = new Simulation(resolve(stormScenario(40, 6, true)), { trace: false });
    let most = 0;
    while (sim.step()) {
      const waiting = sim.world.k.tasks.filter((t) => t.wait?.kind === 'poll' && t.wait.cond.type === 'cmdq_space').length;
      expect(sim.world.smmu.spaceWaiters).toBe(waiting);
      most = Math.max(most, waiting);
    }
    expect(most).toBeGreaterThan(3);
  });
});
