/**
 * Property-based tests over random scenarios (generators in gen.ts).
 *
 * 1. Every generated scenario runs to the end with no invariant violation
 *    under baseline, v4 and driver-only, and under single-flag variants of
 *    them (the invariants are those the engine checks after every event:
 *    recovery_cnt, reset_depth, EATS vs ats_broken, CONS vs PROD, no ATC_INV
 *    to an ats_broken master, group_device machine rejections, lock misuse,
 *    deadlock).
 * 2. Same scenario and policy twice: the same result, log and trace, byte for byte.
 * 3. v4 with CR0.ATSCHK = 1 never corrupts memory, inside the two conditions
 *    seed 003 documents (see v4SafeTimings in gen.ts).
 * 4. The canonical stale-ATC pattern corrupts memory under baseline and is
 *    blocked under v4, so property 3 is not vacuous.
 *
 * On a failure fast-check prints the seed and the counterexample path; the
 * thrown message carries the shrunk scenario as JSON, ready to be pasted into
 * regressions.test.ts or into a file for `npm run sim`. To replay a failure:
 * FC_SEED=<seed> FC_PATH=<path> npx vitest run core/test/property.test.ts.
 * FC_RUNS=<n> replaces every property's run count, FC_SCALE=<k> multiplies
 * it; `npm run test:soak` runs them with fresh seeds and five times the runs.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Simulation, type RunStatus, type SimResult } from '../engine.ts';
import type { PolicyFlags } from '../policy/index.ts';
import type { PolicySpec, Scenario } from '../scenario/types.ts';
import { resolve } from './support.ts';
import { arbCanonical, arbScenario, CANONICAL_VICTIM, MAX_STEPS, v4SafeTimings } from './gen.ts';

/**
 * Event cap per run. Generated runs take at most a few hundred events; runs
 * with SFM and a 50 µs poll timeout, stopped at their time limit (below),
 * up to about 120 000 (measured). A run that reaches the cap is a livelock
 * and fails.
 */
const MAX_EVENTS = 500_000;
/**
 * After Service Failure Mode the SMMU consumes nothing; an issuer waiting
 * for queue space then loops on "CMDQ timeout" for ever, as the kernel does
 * (arm_smmu_cmdq_issue_cmdlist() has no way out). Such runs stop at a
 * virtual-time limit instead (1 s after the last step plus 50 poll periods:
 * every reset, worker and timeout chain is over by then), and the test
 * checks that every task left over is one of those pollers or waits for a
 * lock behind one.
 */
function sfmTimeLimitNs(s: Scenario): number {
  const lastUs = Math.max(0, ...(s.steps ?? []).map((x) => x.at));
  return (lastUs + 1_000_000 + 50 * (s.smmu?.pollTimeoutUs ?? 1_000_000)) * 1000;
}

/**
 * Each property runs with its own pinned seed in `npm test`, so a run is
 * reproducible and a red test is a change, not luck. `npm run test:soak`
 * sets FC_FRESH=1 (a fresh random seed, printed on a failure) and FC_SCALE=5.
 */
function params(numRuns: number, seed: number): fc.Parameters<unknown> {
  const scale = process.env.FC_SCALE ? Number(process.env.FC_SCALE) : 1;
  const p: fc.Parameters<unknown> = { numRuns: process.env.FC_RUNS ? Number(process.env.FC_RUNS) : numRuns * scale };
  if (process.env.FC_SEED) p.seed = Number(process.env.FC_SEED);
  else if (!process.env.FC_FRESH) p.seed = seed;
  if (process.env.FC_PATH) p.path = process.env.FC_PATH;
  return p;
}

/** Throw with the scenario as JSON, so the shrunk counterexample can be replayed as is. */
function fail(what: string, s: Scenario, detail?: unknown): never {
  const d = detail === undefined ? '' : `\n${typeof detail === 'string' ? detail : JSON.stringify(detail, null, 1)}`;
  throw new Error(`${what}${d}\nscenario JSON:\n${JSON.stringify(s)}`);
}

interface Variant {
  label: string;
  policy: PolicySpec;
  flags?: Partial<PolicyFlags>;
}

const PRESETS: Variant[] = [
  { label: 'baseline', policy: 'baseline' },
  { label: 'v4', policy: 'v4' },
  { label: 'driver-only', policy: 'driver-only' },
];

/** One idea of the series switched off (or on, for baseline): each must keep the invariants. */
const FLAG_VARIANTS: Variant[] = [
  { label: 'v4 -coClear', policy: 'v4', flags: { coClear: false } }, // 003 #14-#16
  { label: 'v4 -retryPerSid', policy: 'v4', flags: { retryPerSid: false } }, // 003 #19-#24
  { label: 'v4 -coreQuarantine', policy: 'v4', flags: { coreQuarantine: false } }, // 003 #11
  { label: 'v4 -atsBrokenFence', policy: 'v4', flags: { atsBrokenFence: false } }, // 003 #18, #23
  { label: 'v4 -resetResultAware', policy: 'v4', flags: { resetResultAware: false } }, // 001, 003 #04
  { label: 'v4 -probeSkipsPrepare', policy: 'v4', flags: { probeSkipsPrepare: false } }, // 003 #01
  { label: 'v4 -nestedResetFix', policy: 'v4', flags: { nestedResetFix: false } }, // 000
  { label: 'v4 -atcTimeoutDetect', policy: 'v4', flags: { atcTimeoutDetect: false } }, // 003 #12
  { label: 'baseline +atcTimeoutDetect', policy: 'baseline', flags: { atcTimeoutDetect: true } },
  { label: 'driver-only +coreQuarantine', policy: 'driver-only', flags: { coreQuarantine: true } },
  { label: 'driver-only -driverDisablesPciAts', policy: 'driver-only', flags: { driverDisablesPciAts: false } }, // 003 thread
  { label: 'v4 +driverDisablesPciAts', policy: 'v4', flags: { driverDisablesPciAts: true } },
];

interface Outcome {
  status: RunStatus;
  result: SimResult;
  sim: Simulation;
}

function runScenario(s: Scenario, v: Variant, trace = false): Outcome {
  const sim = new Simulation(resolve(s), { policy: v.policy, flags: v.flags, trace });
  const hasSfm = (s.steps ?? []).some((x) => x.op === 'smmu-fault' && x.kind === 'sfm');
  const status = sim.run(MAX_EVENTS, hasSfm ? sfmTimeLimitNs(s) : Number.POSITIVE_INFINITY);
  return { status, result: sim.result(), sim };
}

/** Property 1's check of one run. */
function checkRun(s: Scenario, v: Variant): void {
  const { status, result, sim } = runScenario(s, v);
  if (status === 'max-events')
    fail(`[${v.label}] the run did not finish within ${MAX_EVENTS} events`, s, result.log.slice(-10).join('\n'));
  if (status === 'max-time') {
    // Only the kernel's endless CMDQ-space loop after SFM may outlive the limit.
    const stuck = sim.world.k.tasks.filter(
      (t) => !(t.wait?.kind === 'poll' && t.wait.cond.type === 'cmdq_space') && !(t.wait?.kind === 'lock'),
    );
    const polling = sim.world.k.tasks.some((t) => t.wait?.kind === 'poll' && t.wait.cond.type === 'cmdq_space');
    if (!result.smmu.sfm || !polling || stuck.length > 0) {
      fail(
        `[${v.label}] the run did not finish by ${sfmTimeLimitNs(s) / 1e9} s of virtual time`,
        s,
        sim.world.k.tasks.map((t) => `${t.name}: ${JSON.stringify(t.wait)}`).join('\n'),
      );
    }
  }
  if (result.violations.length > 0) fail(`[${v.label}] invariant violations`, s, result.violations);
}

describe('the generators', () => {
  // toScenario() validates every scenario it builds and throws otherwise;
  // this also checks the generators reach every op and option they claim to.
  it('produce valid scenarios that cover every step op, reset method and result, fault kind', () => {
    const seen = new Set<string>();
    const note = (k: string): void => {
      seen.add(k);
    };
    for (const arb of [arbScenario(), arbScenario({ timings: v4SafeTimings })]) {
      for (const s of fc.sample(arb, 600)) {
        const n = s.groups.reduce((k, g) => k + g.devices.length, 0);
        if (n < 1 || n > 6 || s.groups.length > 4 || s.steps!.length < 5 || s.steps!.length > MAX_STEPS)
          fail("scenario out of the generator's bounds", s);
        if (s.groups.some((g) => g.devices.length > 1)) note('shared group');
        for (const st of s.steps!) {
          note(st.op);
          if (st.op === 'reset') {
            note(`reset:${st.method}`);
            note(`result:${st.result}`);
            if (st.probe) note('probe');
          }
          if (st.op === 'fault') note(`fault:${st.kind}`);
          if (st.op === 'smmu-fault') note(`smmu:${st.kind}`);
          if (st.op === 'attach' && st.pasid !== undefined) note('attach pasid');
          if (st.op === 'dma' && st.pasid !== undefined) note('dma pasid');
          if (st.op === 'dma') note(`dma write:${st.write}`);
        }
      }
    }
    for (const s of fc.sample(arbCanonical, 50)) resolve(s);
    const want = [
      'map',
      'unmap',
      'dma',
      'fault',
      'reset',
      'attach',
      'deferred-attach',
      'report-broken',
      'unplug',
      'smmu-fault',
      'cmd',
      ...['flr', 'af_flr', 'pm', 'bus', 'cxl_bus', 'acpi', 'quirk'].map((m) => `reset:${m}`),
      'result:0',
      'result:-ENOTTY',
      'result:-ETIMEDOUT',
      'result:-EIO',
      'probe',
      'fault:atc-unresponsive',
      'fault:atc-slow',
      'fault:atc-recover',
      'smmu:sfm',
      'smmu:cmdq-abort',
      'attach pasid',
      'dma pasid',
      'dma write:true',
      'dma write:false',
      'shared group',
    ];
    expect(want.filter((k) => !seen.has(k))).toEqual([]);
  });
});

describe('properties of random scenarios', () => {
  // Seed 000 (reset_depth, recovery_cnt), 001 and 003 #04 (failed resets keep
  // the device blocked), 003 #10-#11 (core quarantine), #12-#16 (CMDQ error,
  // GERROR, co-clear), #18-#24 (fence, retry, surgical STE update): whatever
  // the order and timing of events, the invariants hold under every policy.
  it('1. every scenario finishes with no invariant violation (baseline, v4, driver-only, flag variants)', () => {
    fc.assert(
      fc.property(arbScenario(), fc.constantFrom(...FLAG_VARIANTS), (s, variant) => {
        for (const v of [...PRESETS, variant]) checkRun(s, v);
      }),
      params(1000, 1001),
    );
  });

  // DESIGN.md "Quality bar": same scenario, seed and policy give the same
  // trace, byte for byte (the seeded PRNG drives the jitter of every timing).
  it('2. a scenario run twice under one policy gives byte-identical results', () => {
    fc.assert(
      // A second scenario runs in between, so state leaking from one
      // simulation into the next (module-level caches, shared arrays) shows too.
      fc.property(arbScenario(), arbScenario(), fc.constantFrom(...PRESETS, ...FLAG_VARIANTS), (s, other, v) => {
        const a = runScenario(s, v, true);
        runScenario(other, v, true);
        const b = runScenario(s, v, true);
        const ra = JSON.stringify(a.result);
        const rb = JSON.stringify(b.result);
        if (ra !== rb)
          fail(`[${v.label}] two runs gave different results`, s, {
            first: ra.slice(0, 2000),
            second: rb.slice(0, 2000),
            between: other,
          });
        if (JSON.stringify(a.result.log) !== JSON.stringify(b.result.log))
          fail(`[${v.label}] two runs gave different kernel logs`, s, { between: other });
        if (JSON.stringify(a.sim.out.trace) !== JSON.stringify(b.sim.out.trace))
          fail(`[${v.label}] two runs gave different traces`, s, { between: other });
      }),
      params(300, 1002),
    );
  });

  // The runner runs with the trace off, the page with it on. The trace is
  // only a sink: every piece of the model runs the same code either way, so
  // the outcome and even the number of events are the same. Only the trace
  // ids that results carry (-1 without a trace) may differ.
  it('2b. the trace on or off gives the same result, in the same events', () => {
    const noTraceIds = (r: SimResult): string => JSON.stringify(r, (k, v: unknown) => (k === 'traceId' ? undefined : v));
    fc.assert(
      fc.property(arbScenario(), fc.constantFrom(...PRESETS, ...FLAG_VARIANTS), (s, v) => {
        const a = runScenario(s, v, true);
        const b = runScenario(s, v, false);
        const on = noTraceIds(a.result);
        const off = noTraceIds(b.result);
        if (on !== off) {
          let i = 0;
          while (i < on.length && on[i] === off[i]) i++;
          fail(`[${v.label}] the trace on and off gave different results`, s, {
            on: on.slice(Math.max(0, i - 300), i + 200),
            off: off.slice(Math.max(0, i - 300), i + 200),
          });
        }
        if (a.sim.eventsProcessed !== b.sim.eventsProcessed) {
          fail(`[${v.label}] the trace on took ${a.sim.eventsProcessed} events, off ${b.sim.eventsProcessed}`, s, '');
        }
      }),
      params(300, 1003),
    );
  });

  // Seed 003 cover letter and #12, #15, #18, #23, #24: with ATSCHK = 1 the
  // surgical EATS clear stops translated DMA from a master whose ATC could not
  // be invalidated, before the unmap frees its pages. Inside the limits of
  // v4SafeTimings (the #12 FIXME and the #15 co-clear scope), no page is
  // ever corrupted.
  it('3. v4 never corrupts memory when CR0.ATSCHK = 1 (inside the documented limits)', () => {
    fc.assert(
      fc.property(arbScenario({ timings: v4SafeTimings }), (s) => {
        const { status, result } = runScenario(s, { label: 'v4', policy: 'v4' });
        if (status === 'max-events') fail('[v4] the run did not finish', s);
        if (result.stats.corruptedPages !== 0) {
          fail(`[v4] ${result.stats.corruptedPages} page(s) corrupted through a stale ATC entry`, s, {
            stats: result.stats,
            devices: result.devices,
            log: result.log.slice(-25),
          });
        }
      }),
      params(3000, 1004),
    );
  });

  // Property 3 only means something if its scenarios do hit the dangerous
  // pattern: under baseline the same generator corrupts memory in about one
  // scenario in seven (measured); require one in twenty.
  it("3b. property 3's scenarios corrupt memory under baseline (property 3 is not vacuous)", () => {
    const samples = fc.sample(arbScenario({ timings: v4SafeTimings }), 300);
    const corrupting = samples.filter(
      (s) => runScenario(s, { label: 'baseline', policy: 'baseline' }).result.stats.corruptedPages > 0,
    );
    expect(corrupting.length).toBeGreaterThanOrEqual(15);
  });

  // Seed 003 cover letter: under mainline an unresponsive device keeps its
  // stale ATC entries and writes into freed, reused pages; v4 clears EATS and
  // quarantines the device, so the same write is aborted.
  it('4. the canonical stale-ATC pattern corrupts under baseline and is blocked under v4', () => {
    fc.assert(
      fc.property(arbCanonical, (s) => {
        const base = runScenario(s, { label: 'baseline', policy: 'baseline' });
        if (base.result.stats.corruptedPages === 0)
          fail('[baseline] the canonical pattern did not corrupt memory', s, base.result.stats);
        if (base.result.violations.length > 0) fail('[baseline] invariant violations', s, base.result.violations);
        const v4 = runScenario(s, { label: 'v4', policy: 'v4' });
        const victim = v4.result.devices.find((d) => d.bdf === CANONICAL_VICTIM)!;
        const quarantined = victim.blocked === 'BROKEN' || victim.atsBroken;
        if (v4.result.stats.corruptedPages !== 0) fail('[v4] the canonical pattern corrupted memory', s, v4.result.stats);
        if (!(v4.result.stats.blockedDma > 0 || quarantined))
          fail('[v4] the stale DMA was neither blocked nor the device quarantined', s, { stats: v4.result.stats, victim });
        if (v4.result.violations.length > 0) fail('[v4] invariant violations', s, v4.result.violations);
      }),
      params(1000, 1005),
    );
  });
});
