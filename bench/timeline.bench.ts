/**
 * App benchmark: what the page's recording of a run costs (core/timeline.ts,
 * run in the page's Web Worker), on the 64-device storm with one device
 * that stops answering ATC invalidations halfway.
 *
 * Prints, measured in one run on this machine:
 *  - recording: time to record the run (trace on, one event per consumed
 *    command, a snapshot every K events) over a plain run of the same
 *    scenario with the trace on and the same events (stepwise), i.e. the
 *    cost of the snapshots and per-event bookkeeping;
 *  - seeking: the mean time of a seek to a random position over the time of
 *    one event (how many events' worth of work a seek costs; the snapshot
 *    interval bounds the events replayed), and the mean seek in
 *    milliseconds against a 16.7 ms frame;
 *  - the view: time to build one View (what the page draws) over the time of
 *    one event;
 *  - memory: the recording's retained heap over the plain run's.
 * Nothing is asserted; positions come from a fixed-seed generator.
 */
import { performance } from 'node:perf_hooks';
import { Simulation } from '../core/engine.ts';
import { Timeline } from '../core/timeline.ts';
import { buildView } from '../core/view.ts';
import { validateScenario, formatErrors } from '../core/scenario/validate.ts';
import { stormScenario } from './storm-scenario.ts';

const gc = (globalThis as { gc?: () => void }).gc;

function heap(): number {
  gc?.();
  return process.memoryUsage().heapUsed;
}

const v = validateScenario(stormScenario(400, 8, true));
if (!v.ok) throw new Error(formatErrors(v.errors));
const scenario = v.scenario;

// Warm up both paths once.
new Simulation(scenario, { trace: true, stepwise: true }).run();
new Timeline(scenario, {});

const h0 = heap();
const t0 = performance.now();
const plain = new Simulation(scenario, { trace: true, stepwise: true });
plain.run();
const plainMs = performance.now() - t0;
const events = plain.eventsProcessed;
const plainHeap = heap() - h0;

const h1 = heap();
const t1 = performance.now();
const tl = new Timeline(scenario, {});
const recordMs = performance.now() - t1;
const tlHeap = heap() - h1;

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
const N = 200;
const t2 = performance.now();
for (let i = 0; i < N; i++) tl.seek(next() % (tl.data.count + 1));
const seekMs = (performance.now() - t2) / N;

const sim = new Simulation(scenario, { trace: true, stepwise: true });
for (let i = 0; i < events / 2; i++) sim.step();
const t3 = performance.now();
for (let i = 0; i < 50; i++) buildView(sim);
const viewMs = (performance.now() - t3) / 50;

const perEventMs = plainMs / events;
console.log(`storm with a broken device: ${events} events (${tl.data.count} recorded), ${tl.snapshotCount} snapshots`);
console.log(
  `recording / plain run (trace on): ${(recordMs / plainMs).toFixed(2)}   (${recordMs.toFixed(0)} ms / ${plainMs.toFixed(0)} ms)`,
);
console.log(
  `seek / one event: ${(seekMs / perEventMs).toFixed(0)}   (mean seek ${seekMs.toFixed(2)} ms; a frame is 16.7 ms: ${(seekMs / 16.7).toFixed(2)} frames)`,
);
console.log(`buildView / one event: ${(viewMs / perEventMs).toFixed(0)}   (${viewMs.toFixed(2)} ms per view)`);
if (gc)
  console.log(
    `retained heap, recording / plain run: ${(tlHeap / plainHeap).toFixed(1)}   (${(tlHeap / 1e6).toFixed(0)} MB / ${(plainHeap / 1e6).toFixed(0)} MB)`,
  );
else console.log('retained heap: run node with --expose-gc to measure it');
