/**
 * App benchmark: what the page's recording of a run costs (core/timeline.ts,
 * run in the page's Web Worker), on the long storms of bench/scenarios/
 * (bench/long-storm.ts): 8 devices × 1000 unmaps and 256 devices × 4000
 * unmaps (about 10^6 commands), one device unresponsive from 25 µs.
 *
 * Prints, measured in one run on this machine, for each storm:
 *  - recording: time to record the whole run as the page's worker does
 *    (web/lib/recorder.ts: trace on, one event per consumed command,
 *    snapshots spaced by ten times what a snapshot takes, at most 30 ms
 *    of recording apart) over a plain run of the same scenario with
 *    the trace on (`new Simulation(…, { trace: true }).run()`);
 *  - seeking: 100 seeks to random positions (a fixed-seed generator), each
 *    timed from the call to the View it returns: median and worst, in ms
 *    (a frame is 16.7 ms);
 *  - memory: the heap the recording retains, its estimate of it (what the
 *    budget is checked against), and the heap after the seeks and after
 *    playing 4000 events one by one (it must not grow).
 * Nothing is asserted. BENCH_STORMS=8x1000,64x2000 picks the storms.
 */
import { performance } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import { Simulation } from '../core/engine.ts';
import { Timeline } from '../core/timeline.ts';
import { validateScenario, formatErrors } from '../core/scenario/validate.ts';
import type { ResolvedScenario } from '../core/scenario/types.ts';
import { RECORDING_OPTIONS, recordAll, SLICE_MS } from '../web/lib/recorder.ts';

const gc = (globalThis as { gc?: () => void }).gc;
const MB = 1024 * 1024;

function heap(): number {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

function load(name: string): ResolvedScenario {
  const v = validateScenario(JSON.parse(readFileSync(`bench/scenarios/storm-${name}.json`, 'utf8')));
  if (!v.ok) throw new Error(formatErrors(v.errors));
  return v.scenario;
}

// A fixed-seed sequence of positions (xorshift32).
let x = 0x9e3779b9;
const next = () => {
  x ^= x << 13;
  x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5;
  x >>>= 0;
  return x;
};

const median = (a: number[]) => a.slice().sort((p, q) => p - q)[Math.floor(a.length / 2)]!;

const names = (process.env.BENCH_STORMS ?? '8x1000,256x4000').split(',');
// Warm the code up on the smallest storm.
{
  const sc = load('8x1000');
  new Simulation(sc, { trace: true }).run();
  recordAll(new Timeline(sc, RECORDING_OPTIONS), () => performance.now());
}
for (const name of names) {
  const sc = load(name);
  let t = performance.now();
  const plain = new Simulation(sc, { trace: true });
  plain.run();
  const plainMs = performance.now() - t;
  const commands = plain.stats().commandsConsumed;
  const traceRecords = plain.out.trace.length;
  const plainHeap = heap();
  // The plain run's trace is dropped before recording, so the recording's heap is its own.
  plain.out.trace.length = 0;
  const h0 = heap();
  t = performance.now();
  // As the page's worker records: slices of SLICE_MS with a snapshot after each.
  const tl = new Timeline(sc, RECORDING_OPTIONS);
  recordAll(tl, () => performance.now());
  const recordMs = performance.now() - t;
  const tlHeap = heap() - h0;
  const count = tl.data.count;
  const seeks: number[] = [];
  for (let i = 0; i < 100; i++) {
    const p = next() % (count + 1);
    const t0 = performance.now();
    tl.seek(p);
    seeks.push(performance.now() - t0);
  }
  const afterSeeks = heap() - h0;
  const from = next() % Math.max(1, count - 4000);
  const plays: number[] = [];
  for (let p = from; p < from + 4000 && p <= count; p++) {
    const t0 = performance.now();
    tl.seek(p);
    plays.push(performance.now() - t0);
  }
  const afterPlay = heap() - h0;
  console.log(
    `storm ${name}: ${commands} commands, ${count} events, ${traceRecords} trace records, ${tl.snapshotCount} snapshots (at most ${SLICE_MS} ms of recording apart), recording ${tl.recording}`,
  );
  console.log(
    `  recording / plain run (trace on): ${(recordMs / plainMs).toFixed(2)}   (${recordMs.toFixed(0)} ms / ${plainMs.toFixed(0)} ms)`,
  );
  console.log(
    `  seek, 100 random: median ${median(seeks).toFixed(1)} ms, worst ${Math.max(...seeks).toFixed(1)} ms; playing (one event per seek): median ${median(plays).toFixed(2)} ms, worst ${Math.max(...plays).toFixed(1)} ms`,
  );
  if (gc)
    console.log(
      `  heap retained by the recording: ${(tlHeap / MB).toFixed(0)} MiB (estimated ${(tl.estimatedBytes / MB).toFixed(0)} MiB; the plain run with its trace ${(plainHeap / MB).toFixed(0)} MiB); after the seeks ${(afterSeeks / MB).toFixed(0)} MiB, after playing ${(afterPlay / MB).toFixed(0)} MiB`,
    );
  else console.log('  heap: run node with --expose-gc to measure it');
}
