/**
 * Core benchmark: a 64-device ATC invalidation storm under v4.
 *
 * Reports, measured in one run on this machine:
 *  - commands consumed per second of wall time by the emulator (SMMU + kernel
 *    model + endpoints), and the rate of a bare typed-array ring that only
 *    writes and reads back each 16-byte command, and their ratio;
 *  - scaling: the time for twice the work, relative to the time for the work;
 *  - ring size: cost per command with a 2^16-entry ring relative to 2^8;
 *  - runner start-up: wall time of `node --import tsx core/cli/sim.ts` on a
 *    small scenario.
 * Every figure is a ratio measured in the same run, so the machine's speed
 * cancels out. Nothing here is asserted; the numbers are printed.
 */
import { execFileSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { Simulation } from '../core/engine.ts';
import { validateScenario, formatErrors } from '../core/scenario/validate.ts';
import { DEVICES, stormScenario } from './storm-scenario.ts';

function runStorm(rounds: number, cmdqLog2Size = 8): { seconds: number; commands: number; events: number } {
  const v = validateScenario(stormScenario(rounds, cmdqLog2Size));
  if (!v.ok) throw new Error(formatErrors(v.errors));
  const sim = new Simulation(v.scenario, { trace: false });
  const t0 = performance.now();
  sim.run();
  const seconds = (performance.now() - t0) / 1000;
  const r = sim.result();
  if (r.violations.length) throw new Error(`violations: ${JSON.stringify(r.violations.slice(0, 3))}`);
  return { seconds, commands: r.stats.commandsConsumed, events: sim.eventsProcessed };
}

/** A bare ring: write each 16-byte command into a typed array and read it back. */
function bareRing(commands: number, log2: number): number {
  const size = 1 << log2;
  const mask = size - 1;
  const ring = new Uint32Array(size * 4);
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
  if (acc === 0xdeadbeef) console.log('');
  return commands / seconds;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function fmt(x: number): string { return x >= 1e6 ? `${(x / 1e6).toFixed(2)} M` : `${(x / 1e3).toFixed(1)} k`; }

function main(): void {
  const rounds = Number(process.env.STORM_ROUNDS ?? 1500);
  // Warm up the JIT on both sides.
  runStorm(200);
  bareRing(2_000_000, 8);

  const sims = [0, 1, 2].map(() => runStorm(rounds));
  const simSeconds = median(sims.map((s) => s.seconds));
  const commands = sims[0]!.commands;
  const simRate = commands / simSeconds;
  const bare = median([0, 1, 2].map(() => bareRing(commands, 8)));
  console.log(`storm: ${DEVICES} devices, ${rounds} unmaps, ${commands} commands consumed, ${sims[0]!.events} events`);
  console.log(`emulator:  ${fmt(simRate)} commands/s   (${(simSeconds * 1000).toFixed(1)} ms)`);
  console.log(`bare ring: ${fmt(bare)} commands/s`);
  console.log(`ratio emulator / bare ring: ${(simRate / bare).toFixed(4)}   (target >= 0.05)`);

  const doubled = median([0, 1, 2].map(() => runStorm(rounds * 2).seconds));
  console.log(`scaling: time(2x work) / time(1x work) = ${(doubled / simSeconds).toFixed(2)}   (target <= 2)`);

  const small = median([0, 1, 2].map(() => { const r = runStorm(rounds, 8); return r.seconds / r.commands; }));
  const large = median([0, 1, 2].map(() => { const r = runStorm(rounds, 16); return r.seconds / r.commands; }));
  console.log(`ring size: cost per command 2^16 / 2^8 = ${(large / small).toFixed(2)}   (target ~1)`);

  const starts: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    execFileSync(process.execPath, ['--import', 'tsx', 'core/cli/sim.ts', 'builtin:recovery-flr'], { stdio: 'ignore' });
    starts.push((performance.now() - t0) / 1000);
  }
  console.log(`runner start-up (node --import tsx core/cli/sim.ts builtin:recovery-flr): ${median(starts).toFixed(2)} s   (target < 1)`);
}

main();
