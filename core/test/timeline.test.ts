/**
 * The app's time machine: seeking to any position, forwards or backwards,
 * gives the same view as stepping there from the start, and every helper
 * that maps times and trace records to positions agrees with the recording.
 */
import { describe, expect, it } from 'vitest';
import { RECORDING_BUDGET_BYTES, RECORDING_COST, Timeline } from '../timeline.ts';
import { DEFAULT_MAX_COMMANDS, Simulation } from '../engine.ts';
import { stormScenario } from '../../bench/storm-scenario.ts';
import { buildView } from '../view.ts';
import { BUILTIN_SCENARIOS } from '../scenario/builtins/index.ts';
import { resolve } from './support.ts';
import { prngInit, prngInt } from '../sim/prng.ts';

const strip = (v: ReturnType<typeof buildView>) => JSON.stringify({ ...v, cmdq: { ...v.cmdq, words: Array.from(v.cmdq.words) } });

describe('Timeline', () => {
  for (const id of ['spam-vs-quarantine', 'recovery-flr', 'nested-cxl-reset', 'late-gerror-isr']) {
    it(`${id}: random seeks match a straight stepwise run`, () => {
      const sc = resolve(BUILTIN_SCENARIOS[id]!);
      const tl = new Timeline(sc, { policy: 'v4', snapshotEvery: 16 });
      // Reference: views at every position from one straight run.
      const ref = new Simulation(sc, { policy: 'v4', stepwise: true });
      const views: string[] = [strip(buildView(ref))];
      while (ref.step()) views.push(strip(buildView(ref)));
      expect(views.length - 1).toBe(tl.data.count);
      const rng = prngInit(7);
      for (let k = 0; k < 60; k++) {
        const e = prngInt(rng, 0, tl.data.count);
        expect(strip(tl.seek(e)), `position ${e}`).toBe(views[e]);
      }
      expect(strip(tl.seek(tl.data.count))).toBe(views[tl.data.count]);
      expect(strip(tl.seek(0))).toBe(views[0]);
    });
  }

  it('records times, lengths and step positions consistently', () => {
    const sc = resolve(BUILTIN_SCENARIOS['attach-during-recovery']!);
    const tl = new Timeline(sc, { policy: 'v4' });
    const d = tl.data;
    for (let e = 1; e <= d.count; e++) {
      expect(d.times[e]!).toBeGreaterThanOrEqual(d.times[e - 1]!);
      expect(d.traceLen[e]!).toBeGreaterThanOrEqual(d.traceLen[e - 1]!);
      expect(d.logLen[e]!).toBeGreaterThanOrEqual(d.logLen[e - 1]!);
    }
    expect(d.logLen[d.count]).toBe(tl.log.length);
    expect(tl.result.log).toEqual(tl.log.map((l) => l.text));
    // Every step ran, at a position whose time is the step's time.
    sc.steps.forEach((s, i) => {
      expect(d.stepAt[i]).toBeGreaterThan(0);
      expect(d.times[d.stepAt[i]!]).toBe(s.at * 1000);
    });
    // positionAt / positionOfTrace agree with the arrays.
    for (const r of tl.trace) {
      const p = tl.positionOfTrace(r.id);
      expect(d.traceLen[p]!).toBeGreaterThan(r.id);
      if (p > 0) expect(d.traceLen[p - 1]!).toBeLessThanOrEqual(r.id);
      expect(d.times[p]).toBe(r.t);
    }
    const mid = d.times[Math.floor(d.count / 2)]!;
    const p = tl.positionAt(mid);
    expect(d.times[p]!).toBeLessThanOrEqual(mid);
    if (p < d.count) expect(d.times[p + 1]!).toBeGreaterThan(mid);
  });

  it('keeps the number of snapshots bounded by thinning them', () => {
    const sc = resolve(BUILTIN_SCENARIOS['shared-batch']!);
    const tl = new Timeline(sc, { policy: 'v4', snapshotEvery: 1, maxSnapshots: 20 });
    expect(tl.snapshotCount).toBeLessThanOrEqual(21);
    expect(strip(tl.seek(tl.data.count - 1))).toBe(strip(tl.seek(tl.data.count - 1)));
  });
});

// Issue 15, point 8: the page stopped at 2 000 000 events and the runner at 5 000 000, each with its
// own words, so the two disagreed on the end of a long run. The limit is now on commands consumed,
// which the runner (run-ahead, several commands per event) and the page (one event per command) count
// alike.
describe('limits: the page and the runner stop a run at the same place and say the same', () => {
  const storm = resolve(stormScenario(120, 8, true));
  it('one command cap, the same result document at the cap', () => {
    expect(DEFAULT_MAX_COMMANDS).toBe(2_000_000);
    const full = new Simulation(storm, { policy: 'v4', trace: false });
    expect(full.run()).toBe('done');
    const total = full.result().stats.commandsConsumed;
    for (const cap of [1, 2, 37, 211, 400, total - 1]) {
      const tl = new Timeline(storm, { policy: 'v4', maxCommands: cap });
      const sim = new Simulation(storm, { policy: 'v4', trace: false, maxCommands: cap });
      expect(sim.run(), `cap ${cap}`).toBe('max-commands');
      expect(tl.data.status).toBe('max-commands');
      const a = tl.result;
      const b = sim.result();
      expect(b.stats.commandsConsumed).toBe(cap);
      expect(JSON.stringify(a), `cap ${cap}`).toBe(JSON.stringify(b));
      expect(a.notes).toContain(`stopped after ${cap} commands`);
    }
    // One command more than the run needs: both run to the end.
    expect(new Timeline(storm, { policy: 'v4', maxCommands: total + 1 }).data.status).toBe('done');
    expect(new Simulation(storm, { policy: 'v4', trace: false, maxCommands: total + 1 }).run()).toBe('done');
  });

  it('the time limit: 300 s of virtual time after the last step, in the same words', () => {
    const sc = resolve({
      format: 'smmu-scenario/1',
      name: 'a dead SMMU with a full queue',
      seed: 1,
      smmu: { cmdqLog2Size: 3 },
      memory: { pages: 16 },
      domains: [{ id: 'dma0', type: 'paging' }],
      groups: [{ id: 0, domain: 'dma0', devices: [{ bdf: '0000:01:00.0', sids: [256] }] }],
      steps: [
        { at: 0, op: 'smmu-fault', kind: 'sfm' },
        ...Array.from({ length: 9 }, (_, i) => ({ at: 10 + i, op: 'cmd' as const, cmd: { op: 'TLBI_NH_ALL' }, sync: false })),
      ],
    });
    const tl = new Timeline(sc);
    const sim = new Simulation(sc, { trace: false });
    expect(sim.run()).toBe('max-time');
    expect(tl.data.status).toBe('max-time');
    expect(JSON.stringify(tl.result)).toBe(JSON.stringify(sim.result()));
    expect(tl.result.notes).toContain('stopped at the time limit (300000018 µs)');
  });
});

// Issue 14: a long run is recorded in slices while the page shows its start, under a memory budget.
describe('progressive recording', () => {
  const storm = resolve(stormScenario(24, 8, true));

  it('recorded in slices with checkpoints, seeks within what is recorded match a straight run', () => {
    const ref = new Simulation(storm, { policy: 'v4', stepwise: true });
    const views: string[] = [strip(buildView(ref))];
    while (ref.step()) views.push(strip(buildView(ref)));
    const whole = new Timeline(storm, { policy: 'v4' });
    const tl = new Timeline(storm, { policy: 'v4', progressive: true, snapshotEvery: Infinity });
    expect(tl.recording).toBe('running');
    expect(tl.data.count).toBe(0);
    const rng = prngInit(11);
    let slices = 0;
    while (tl.record(97) === 'running') {
      slices++;
      if (slices % 3 === 0) tl.checkpoint();
      expect(tl.data.recording).toBe('running');
      // Seeks land within what is recorded, and a seek past it shows its end.
      for (let k = 0; k < 2; k++) {
        const e = prngInt(rng, 0, tl.data.count);
        expect(strip(tl.seek(e)), `position ${e} of ${tl.data.count}`).toBe(views[e]);
      }
      expect(tl.seek(tl.data.count + 1000).events).toBe(tl.data.count);
    }
    expect(slices).toBeGreaterThan(3);
    expect(tl.recording).toBe('done');
    expect(tl.snapshotCount).toBeGreaterThan(1);
    const a = tl.data;
    const b = whole.data;
    expect(a.count).toBe(views.length - 1);
    expect(Array.from(a.times)).toEqual(Array.from(b.times));
    expect(Array.from(a.traceLen)).toEqual(Array.from(b.traceLen));
    expect(Array.from(a.logLen)).toEqual(Array.from(b.logLen));
    expect(Array.from(a.callsLen)).toEqual(Array.from(b.callsLen));
    expect(a.stepAt).toEqual(b.stepAt);
    expect(JSON.stringify(tl.result)).toBe(JSON.stringify(whole.result));
    expect(tl.trace.length).toBe(whole.trace.length);
    // The result is the runner's.
    const run = new Simulation(storm, { policy: 'v4', trace: false });
    run.run();
    expect(JSON.stringify(tl.result)).toBe(JSON.stringify(run.result()));
  });

  it('the result is not there before the end', () => {
    const tl = new Timeline(storm, { policy: 'v4', progressive: true });
    expect(() => tl.result).toThrow(/still being recorded/);
  });

  it('past its budget, recording thins its snapshots, then stops where the run stays usable', () => {
    const full = new Timeline(storm, { policy: 'v4', snapshotEvery: 32 });
    // Room for half the run's trace: snapshots go first, then recording stops.
    const budget = Math.floor((full.trace.length * RECORDING_COST.traceRecord) / 2);
    const tl = new Timeline(storm, { policy: 'v4', snapshotEvery: 32, budgetBytes: budget });
    expect(tl.recording).toBe('stopped');
    const d = tl.data;
    expect(d.recording).toBe('stopped');
    expect(d.stopReason).toMatch(/^recording stopped at its memory budget \(\d+ MiB\) after \d+ events, at [\d.]+ µs/);
    expect(d.count).toBeGreaterThan(0);
    expect(d.count).toBeLessThan(full.data.count);
    // Snapshots were thinned to the fewest kept before recording stopped.
    expect(tl.estimatedBytes).toBeGreaterThan(budget);
    expect(tl.snapshotCount).toBeLessThanOrEqual(8);
    expect(full.snapshotCount).toBeGreaterThan(8);
    expect(tl.result.notes).toContain(d.stopReason);
    // What was recorded is the run's: the same views as the whole recording, up to where it stopped.
    for (const e of [0, Math.floor(d.count / 2), d.count]) expect(strip(tl.seek(e))).toBe(strip(full.seek(e)));
    expect(Array.from(d.times)).toEqual(Array.from(full.data.times.subarray(0, d.count + 1)));
  });

  it('a run limit stops recording with the run’s own note', () => {
    const tl = new Timeline(storm, { policy: 'v4', maxCommands: 50 });
    expect(tl.recording).toBe('stopped');
    expect(tl.data.status).toBe('max-commands');
    expect(tl.data.stopReason).toBe('stopped after 50 commands');
    expect(tl.result.notes).toContain('stopped after 50 commands');
  });

  it('estimates what recording keeps from what it holds', () => {
    const tl = new Timeline(storm, { policy: 'v4' });
    const floor = tl.trace.length * RECORDING_COST.traceRecord + tl.data.count * RECORDING_COST.event;
    expect(tl.estimatedBytes).toBeGreaterThan(floor);
    expect(tl.estimatedBytes).toBeLessThan(floor * 3);
    expect(RECORDING_BUDGET_BYTES).toBe(1024 ** 3);
  });
});
