/**
 * Core benchmark: a 64-device ATC invalidation storm under v4.
 *
 * Prints, measured in one run on this machine:
 *  - commands consumed per second of wall time by the emulator (SMMU, kernel
 *    model and endpoints together, trace off) and the rate of a bare
 *    typed-array ring that only writes and reads back each 16-byte command,
 *    and their ratio (target: at least 0.05);
 *  - scaling: time for twice the work over time for the work (target <= 2),
 *    and, inside one run of four times the work, the cost of its last
 *    quarter over its first (target about 1);
 *  - ring size: cost per command with a 2^16-entry ring over a 2^8 one
 *    (target: about 1);
 *  - the same storm with one device that stops answering ATC invalidations
 *    halfway (the v4 retry cascade), for information;
 *  - runner start-up: wall time of `node --import tsx core/cli/sim.ts` on a
 *    built-in scenario (target < 1 s).
 * Each figure is a ratio within the run (or a start-up time), so the speed of
 * the machine cancels out; nothing is asserted. Each measurement is the
 * median of several runs after a warm-up (BENCH_WARMUP storms, default 12;
 * BENCH_REPEAT runs, default 7). Storms and bare-ring runs alternate, and the
 * throughput ratio is the median of the per-pair ratios, so a busy spell of
 * a shared machine weighs on both sides alike. For that the two sides of a
 * pair are timed over windows of about the same length: one sample of the
 * emulator is BENCH_STORMS storms (default 8, each a fresh Simulation
 * built just before its run, the build not timed) one after the other,
 * about as long as one bare-ring sample; a window of a few milliseconds
 * would be hit or missed whole by the machine's other work, one of some
 * tens of milliseconds shares it out like the other side's.
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Simulation } from '../core/engine.ts';
import { validateScenario, formatErrors } from '../core/scenario/validate.ts';
import type { ResolvedScenario } from '../core/scenario/types.ts';
import { DEVICES, stormScenario } from './storm-scenario.ts';

interface StormRun {
  seconds: number;
  commands: number;
  events: number;
  quarantines: number;
}

const STORMS = Math.max(1, Number(process.env.BENCH_STORMS ?? 8));

const SCENARIOS = new Map<string, ResolvedScenario>();

/** The storm's scenario, validated once per size (not in every sample: its garbage is the harness's). */
function stormOf(rounds: number, cmdqLog2Size: number, faulty: boolean): ResolvedScenario {
  const key = `${rounds}/${cmdqLog2Size}/${faulty}`;
  let sc = SCENARIOS.get(key);
  if (sc === undefined) {
    const v = validateScenario(stormScenario(rounds, cmdqLog2Size, faulty));
    if (!v.ok) throw new Error(formatErrors(v.errors));
    sc = v.scenario;
    SCENARIOS.set(key, sc);
  }
  return sc;
}

/**
 * `count` storms of `rounds` unmaps, one after the other, each built just
 * before its run: the mean seconds of the runs (the builds not timed), and
 * the counts of the last (the runs are identical: the same scenario and seed).
 */
function runStorm(rounds: number, cmdqLog2Size = 8, faulty = false, count = STORMS): StormRun {
  const scenario = stormOf(rounds, cmdqLog2Size, faulty);
  let ms = 0;
  let sim: Simulation | null = null;
  for (let i = 0; i < count; i++) {
    sim = new Simulation(scenario, { trace: false });
    const t0 = performance.now();
    sim.run();
    ms += performance.now() - t0;
  }
  const r = sim!.result();
  if (r.violations.length) throw new Error(`violations: ${JSON.stringify(r.violations.slice(0, 3))}`);
  return {
    seconds: ms / 1000 / count,
    commands: r.stats.commandsConsumed,
    events: sim!.eventsProcessed,
    quarantines: r.stats.quarantines,
  };
}

/** Wall time of each quarter of one storm of `rounds` unmaps (run to the end of each quarter in turn). */
function stormQuarters(rounds: number): number[] {
  const scenario = stormOf(rounds, 8, false);
  const sim = new Simulation(scenario, { trace: false });
  const steps = scenario.steps ?? [];
  const quarters: number[] = [];
  for (let k = 1; k <= 4; k++) {
    const endUs = k === 4 ? Number.POSITIVE_INFINITY : steps[Math.floor((steps.length * k) / 4)]!.at;
    const t0 = performance.now();
    if (k === 4) sim.run();
    else sim.runUntil(endUs * 1000);
    quarters.push((performance.now() - t0) / 1000);
  }
  if (sim.result().violations.length) throw new Error('violations');
  return quarters;
}

/** A bare ring: write each 16-byte command into a typed array and read it back. */
function bareRing(commands: number, log2: number): number {
  const mask = (1 << log2) - 1;
  const ring = new Uint32Array((mask + 1) * 4);
  let acc = 0;
  const t0 = performance.now();
  for (let i = 0; i < commands; i++) {
    const s = (i & mask) * 4;
    ring[s] = 0x40 | ((i & 0xffffff) << 8);
    ring[s + 1] = i;
    ring[s + 2] = (i * 3) >>> 0;
    ring[s + 3] = i >>> 1;
    acc = (acc + ring[s]! + ring[s + 1]! + ring[s + 2]! + ring[s + 3]!) >>> 0;
  }
  const seconds = (performance.now() - t0) / 1000;
  if (acc === 0x1234_5678) console.log('(checksum)');
  return commands / seconds;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const M = (x: number): string => `${(x / 1e6).toFixed(2)} M`;
const REPEAT = Number(process.env.BENCH_REPEAT ?? 7);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 12);

function main(): void {
  const rounds = Number(process.env.STORM_ROUNDS ?? 2000);
  // Warm up the JIT on both sides. The emulator's code settles (its last
  // re-optimisations) after about ten storms.
  for (let i = 0; i < WARMUP; i++) runStorm(rounds, 8, false, 1);
  bareRing(20_000_000, 8);

  // Storms and bare-ring runs alternate, so a busy spell of the machine
  // weighs on both sides of a ratio alike; the ratio reported is the median
  // of the per-pair ratios, and, for comparison, the ratio of the best runs.
  const bareCommands = 20_000_000;
  const sims: StormRun[] = [];
  const bares: number[] = [];
  const ratios: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const r = runStorm(rounds);
    const b = bareRing(bareCommands, 8);
    sims.push(r);
    bares.push(b);
    ratios.push(r.commands / r.seconds / b);
  }
  const simSeconds = median(sims.map((s) => s.seconds));
  const commands = sims[0]!.commands;
  const simRate = commands / simSeconds;
  const bare = median(bares);
  const bestSim = commands / Math.min(...sims.map((s) => s.seconds));
  const bestBare = Math.max(...bares);
  console.log(
    `storm: ${DEVICES} ATS devices in one domain, ${rounds} unmaps, ${commands} commands consumed, ${sims[0]!.events} events`,
  );
  console.log(
    `emulator:  ${M(simRate)} commands/s (${(simSeconds * 1000).toFixed(1)} ms per storm, samples of ${STORMS} storms in a row; best ${M(bestSim)})`,
  );
  console.log(`bare ring: ${M(bare)} commands/s (best ${M(bestBare)})`);
  console.log(
    `ratio emulator / bare ring: ${median(ratios).toFixed(3)}   (target >= 0.05; median of ${REPEAT} alternating pairs; best runs: ${(bestSim / bestBare).toFixed(3)})`,
  );

  // Twice the work against the work, also in alternating pairs. A cost
  // linear in the work gives 2.00; the best runs are printed beside it.
  const ones: number[] = [];
  const twos: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    ones.push(runStorm(rounds).seconds);
    twos.push(runStorm(rounds * 2).seconds);
  }
  const scaling = median(twos.map((t, i) => t / ones[i]!));
  console.log(
    `scaling: time(2x work) / time(1x work) = ${scaling.toFixed(2)}   (target <= 2; median of ${REPEAT} alternating pairs; best runs: ${(Math.min(...twos) / Math.min(...ones)).toFixed(2)})`,
  );
  // The same question inside one run: a cost that grows with the work done
  // so far (a list scanned per event, a heap that keeps growing) makes the
  // later quarters of a long storm dearer than the earlier ones.
  const quarters = Array.from({ length: REPEAT }, () => stormQuarters(rounds * 4));
  const q1 = median(quarters.map((q) => q[0]!));
  const q4 = median(quarters.map((q) => q[3]!));
  console.log(
    `scaling within a run: last quarter / first quarter of a ${rounds * 4}-unmap storm = ${(q4 / q1).toFixed(2)}   (target ~1; quarters ${[0, 1, 2, 3].map((i) => (median(quarters.map((q) => q[i]!)) * 1000).toFixed(1)).join(', ')} ms, medians of ${REPEAT})`,
  );

  // Ring sizes, also in alternating pairs, after a few storms on the large
  // ring (its first runs allocate and touch a 1 MiB queue the small one never has).
  runStorm(rounds, 16, false, 3);
  const ringRatios: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const small = runStorm(rounds, 8);
    const large = runStorm(rounds, 16);
    ringRatios.push(large.seconds / large.commands / (small.seconds / small.commands));
  }
  const bareBig = median(Array.from({ length: REPEAT }, () => bareRing(bareCommands, 16)));
  console.log(
    `ring size: cost per command, 2^16-entry ring / 2^8-entry ring = ${median(ringRatios).toFixed(2)}   (target ~1; median of ${REPEAT} alternating pairs; the bare ring's own ratio: ${(bare / bareBig).toFixed(2)})`,
  );

  const faulty = Array.from({ length: 3 }, () => runStorm(rounds, 8, true, 1));
  const f = faulty[1]!;
  console.log(
    `with one unresponsive device: ${f.commands} commands, ${M(f.commands / median(faulty.map((x) => x.seconds)))} commands/s, ${f.quarantines} quarantine`,
  );

  const starts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, ['--import', 'tsx', 'core/cli/sim.ts', 'builtin:recovery-flr'], { stdio: 'ignore' });
    starts.push((performance.now() - t0) / 1000);
  }
  console.log(
    `runner start-up (node --import tsx core/cli/sim.ts builtin:recovery-flr): ${median(starts).toFixed(2)} s   (target < 1)`,
  );
}

main();
