/**
 * Time travel and determinism of the engine (core/engine.ts):
 * - snapshot()/restore() at any point, then running to the end, gives the
 *   result of an uninterrupted run; snapshots are independent copies;
 * - inject(step) after runUntil()/runBefore() continues exactly as a fresh
 *   run of the scenario with that step appended (engine: "Steps run before
 *   other events at the same time");
 * - SCENARIO-FORMAT.md: "same seed + policy => same trace";
 * - trace records form a causal chain: a cause is an earlier record, and
 *   virtual time never goes back.
 */
import { describe, expect, it } from 'vitest';
import { Simulation, type Snapshot } from '../engine.ts';
import { BUILTIN_SCENARIOS } from '../scenario/builtins/index.ts';
import { POLICY_PRESETS, type PresetName } from '../policy/index.ts';
import type { Scenario, Step } from '../scenario/types.ts';
import { NVME, resolve, scenario } from './support.ts';
import { validateScenario } from '../scenario/validate.ts';

const IDS = Object.keys(BUILTIN_SCENARIOS);

/** Result and trace as JSON text: "identical" means byte-for-byte equal. */
function fingerprint(sim: Simulation): { result: string; trace: string } {
  return { result: JSON.stringify(sim.result()), trace: JSON.stringify(sim.out.trace) };
}

/**
 * Compare two fingerprints; on a mismatch report the first differing trace
 * record of each run (the whole trace would be unreadable).
 */
function expectSame(got: { result: string; trace: string }, want: { result: string; trace: string }, label: string): void {
  if (got.trace !== want.trace) {
    const a = JSON.parse(got.trace) as unknown[],
      b = JSON.parse(want.trace) as unknown[];
    let i = 0;
    while (i < a.length && i < b.length && JSON.stringify(a[i]) === JSON.stringify(b[i])) i++;
    expect(a.slice(i, i + 3), `${label}: trace records from #${i} on (${a.length} vs ${b.length} records)`).toEqual(
      b.slice(i, i + 3),
    );
  }
  if (got.result !== want.result) expect(JSON.parse(got.result), `${label}: result`).toEqual(JSON.parse(want.result));
  expect(got.result, `${label}: result JSON`).toBe(want.result);
  expect(got.trace, `${label}: trace JSON`).toBe(want.trace);
}

function fresh(sc: Scenario, policy?: PresetName): Simulation {
  return new Simulation(resolve(sc), { policy });
}

function reference(sc: Scenario, policy?: PresetName): { result: string; trace: string; events: number } {
  const sim = fresh(sc, policy);
  expect(sim.run()).toBe('done');
  return { ...fingerprint(sim), events: sim.eventsProcessed };
}

/** A longer run: 40 map / DMA / unmap rounds with a hang, a recovery and an FLR in the middle. */
function longScenario(): Scenario {
  const steps: Step[] = [];
  for (let i = 0; i < 40; i++) {
    const iova = '0x' + (0x10000 + (i % 8) * 0x4000).toString(16);
    steps.push({ at: i * 300, op: 'map', domain: 'dma0', iova, pages: 2 });
    steps.push({ at: i * 300 + 10, op: 'dma', device: NVME, iova, write: true });
    steps.push({ at: i * 300 + 100, op: 'unmap', domain: 'dma0', iova, pages: 2 });
    if (i === 15) steps.push({ at: i * 300 + 50, op: 'fault', device: NVME, kind: 'atc-unresponsive' });
    if (i === 25) steps.push({ at: i * 300 + 50, op: 'fault', device: NVME, kind: 'atc-recover' });
    if (i === 26) steps.push({ at: i * 300 + 150, op: 'reset', device: NVME, method: 'flr', result: 0 });
  }
  return scenario({ name: 'long', steps, memory: { pages: 64 } });
}

/**
 * Step through a run, taking a snapshot every `every` events, then restore
 * each snapshot and run to the end: each must reproduce the reference.
 */
function checkSnapshots(sc: Scenario, policy: PresetName | undefined, every: number): number {
  const ref = reference(sc, policy);
  const sim = fresh(sc, policy);
  const snaps: Snapshot[] = [sim.snapshot()];
  let n = 0;
  while (sim.step()) if (++n % every === 0) snaps.push(sim.snapshot());
  expect(sim.run()).toBe('done');
  expectSame(fingerprint(sim), ref, `${sc.name}: stepped run`);
  // Restore in an order that jumps both back and forward in time.
  const order = snaps.map((_, i) => i).sort((a, b) => (a % 2) - (b % 2) || b - a);
  for (const i of order) {
    sim.restore(snaps[i]!);
    expect(sim.eventsProcessed, `snapshot ${i}`).toBe(snaps[i]!.events);
    expect(sim.nowNs).toBe(snaps[i]!.nowNs);
    expect(sim.run()).toBe('done');
    expectSame(fingerprint(sim), ref, `${sc.name}: restored at event ${snaps[i]!.events}`);
  }
  return snaps.length;
}

describe('snapshot and restore reproduce an uninterrupted run', () => {
  for (const id of IDS) {
    it(`${id}: a snapshot every 2 events, under every policy`, () => {
      for (const p of POLICY_PRESETS) expect(checkSnapshots(BUILTIN_SCENARIOS[id]!, p, 2)).toBeGreaterThanOrEqual(3);
    });
  }

  for (const p of POLICY_PRESETS) {
    it(`a long run under ${p}: a snapshot every 50 events`, () => {
      expect(checkSnapshots(longScenario(), p, 50)).toBeGreaterThanOrEqual(4);
    });
  }

  it('restore then run, twice, gives the same result both times', () => {
    for (const id of ['spam-vs-quarantine', 'failed-reset', 'attach-races-quarantine']) {
      const sc = BUILTIN_SCENARIOS[id]!;
      const ref = reference(sc);
      const sim = fresh(sc);
      for (let i = 0; i < Math.floor(ref.events / 2); i++) sim.step();
      const s = sim.snapshot();
      sim.restore(s);
      sim.restore(s); // restoring twice in a row is the same as once
      sim.run();
      const a = fingerprint(sim);
      sim.restore(s);
      sim.run();
      const b = fingerprint(sim);
      expectSame(b, a, `${id}: second restore`);
      expectSame(a, ref, `${id}: first restore`);
      // Restoring the final state and running again changes nothing.
      const end = sim.snapshot();
      sim.restore(end);
      expect(sim.run()).toBe('done');
      expectSame(fingerprint(sim), b, `${id}: restored at the end`);
    }
  });

  it('a snapshot is an independent copy: running, restoring and running again leave it unchanged', () => {
    for (const id of ['spam-vs-quarantine', 'shared-batch', 'unplug-quarantined']) {
      const sc = BUILTIN_SCENARIOS[id]!;
      const sim = fresh(sc);
      for (let i = 0; i < 8; i++) sim.step();
      const s = sim.snapshot();
      const copy = structuredClone(s);
      sim.run();
      expect(s, `${id}: after running on`).toEqual(copy);
      sim.restore(s);
      for (let i = 0; i < 5; i++) sim.step();
      expect(s, `${id}: after restoring and stepping`).toEqual(copy);
      sim.restore(s);
      sim.run();
      expect(s, `${id}: after a second run`).toEqual(copy);
      // And the other way: changing a snapshot's data does not reach a simulation restored from it.
      sim.restore(s);
      sim.run();
      const before = fingerprint(sim);
      sim.restore(s);
      const live = sim.snapshot();
      (s.state as unknown as { k: { stats: { quarantines: number } } }).k.stats.quarantines += 1000;
      sim.run();
      expectSame(fingerprint(sim), before, `${id}: after editing the snapshot`);
      expect(live.state).toEqual(copy.state);
    }
  });
});

/* ----------------------------------------------------------------- inject */

interface InjectCase {
  id: string;
  step: (at: number) => Step;
}

/** Steps that touch the first device and domain of each built-in. */
function stepsFor(id: string): InjectCase[] {
  const sc = BUILTIN_SCENARIOS[id]!;
  const dev = sc.groups[0]!.devices[0]!.bdf;
  const dom = sc.domains?.find((d) => d.type === 'paging')?.id ?? 'dma0';
  const other = sc.domains?.find((d) => d.type === 'paging' && d.id !== dom)?.id ?? dom;
  return [
    { id: `${id}: dma`, step: (at) => ({ at, op: 'dma', device: dev, iova: '0x10000', write: true }) },
    { id: `${id}: report-broken`, step: (at) => ({ at, op: 'report-broken', device: dev }) },
    { id: `${id}: fault atc-recover`, step: (at) => ({ at, op: 'fault', device: dev, kind: 'atc-recover' }) },
    { id: `${id}: fault atc-unresponsive`, step: (at) => ({ at, op: 'fault', device: dev, kind: 'atc-unresponsive' }) },
    { id: `${id}: reset flr`, step: (at) => ({ at, op: 'reset', device: dev, method: 'flr', result: 0 }) },
    { id: `${id}: unmap`, step: (at) => ({ at, op: 'unmap', domain: dom, iova: '0x10000', pages: 1 }) },
    { id: `${id}: attach`, step: (at) => ({ at, op: 'attach', group: sc.groups[0]!.id, domain: other }) },
  ];
}

function withStep(sc: Scenario, s: Step): Scenario {
  return { ...sc, steps: [...(sc.steps ?? []), s] };
}

/** Distinct virtual times (ns) at which the reference run does something, in order. */
function eventTimes(sc: Scenario): number[] {
  const sim = fresh(sc);
  const ts: number[] = [];
  while (sim.step()) if (ts.at(-1) !== sim.nowNs) ts.push(sim.nowNs);
  return ts;
}

/** µs value whose `* 1000` is exactly `ns` (so the injected step lands on that very time), or null. */
function exactUs(ns: number): number | null {
  const us = ns / 1000;
  return us * 1000 === ns ? us : null;
}

describe('inject(step) continues exactly as a fresh run with the step appended', () => {
  const IDS_INJ = [
    'spam-vs-quarantine',
    'shared-batch',
    'recovery-flr',
    'failed-reset',
    'attach-during-recovery',
    'late-gerror-isr',
  ];

  for (const id of IDS_INJ) {
    it(`${id}: runUntil(t) then inject at the time of the next queued event`, () => {
      const sc = BUILTIN_SCENARIOS[id]!;
      const times = eventTimes(sc);
      let checked = 0;
      for (const c of stepsFor(id)) {
        // A few points spread over the run.
        for (const k of [0, Math.floor(times.length / 3), Math.floor((2 * times.length) / 3)]) {
          const sim = fresh(sc);
          sim.runUntil(times[k]!);
          // runUntil(t): "Process every event at or before tNs; the clock then reads tNs."
          const ahead = sim.out.trace.filter((r) => r.t > times[k]!).map((r) => `${r.kind}@${r.t}`);
          expect.soft(ahead, `${c.id}: records after ${times[k]} ns after runUntil`).toEqual([]);
          expect(sim.nowNs).toBe(times[k]);
          const next = sim.nextEventNs();
          if (next === null) continue;
          const at = exactUs(next);
          if (at === null) continue;
          expect(next).toBeGreaterThan(times[k]!);
          const st = c.step(at);
          sim.inject(st);
          sim.run();
          const want = fresh(withStep(sc, st));
          want.run();
          expectSame(fingerprint(sim), fingerprint(want), `${c.id} at ${at} µs (after runUntil ${times[k]! / 1000} µs)`);
          checked++;
        }
      }
      expect(checked).toBeGreaterThanOrEqual(7);
    });

    it(`${id}: runBefore(T) then inject at T, where T is the time of an already-queued event`, () => {
      const sc = BUILTIN_SCENARIOS[id]!;
      const times = eventTimes(sc).filter((t) => t > 0 && exactUs(t) !== null);
      expect(times.length).toBeGreaterThan(2);
      let checked = 0;
      for (const c of stepsFor(id)) {
        for (const T of [times[1]!, times[Math.floor(times.length / 2)]!, times.at(-1)!]) {
          const sim = fresh(sc);
          sim.runBefore(T);
          // runBefore(T): "Process every event strictly before tNs (the state a step injected at tNs sees)".
          const late = sim.out.trace.filter((r) => r.t >= T).map((r) => `${r.kind}@${r.t}`);
          expect.soft(late, `${c.id}: records at or after ${T} ns after runBefore`).toEqual([]);
          // Something is due exactly at T: the injected step shares its time.
          expect.soft(sim.nextEventNs(), `${c.id}: next event after runBefore(${T})`).toBe(T);
          const st = c.step(exactUs(T)!);
          sim.inject(st);
          sim.run();
          const want = fresh(withStep(sc, st));
          want.run();
          expectSame(fingerprint(sim), fingerprint(want), `${c.id} at ${T / 1000} µs (after runBefore)`);
          checked++;
        }
      }
      expect(checked).toBe(stepsFor(id).length * 3);
    });
  }

  it('inject between events and after a snapshot/restore also matches a fresh run', () => {
    const sc = longScenario();
    for (const [atUs, make] of [
      [3555.5, (at: number): Step => ({ at, op: 'report-broken', device: NVME })],
      [4800, (at: number): Step => ({ at, op: 'dma', device: NVME, iova: '0x14000', write: true })],
      [9000, (at: number): Step => ({ at, op: 'reset', device: NVME, method: 'pm', result: '-EIO' })],
    ] as const) {
      const st = make(atUs);
      const sim = fresh(sc);
      sim.runUntil(atUs * 1000 - 700);
      const snap = sim.snapshot();
      sim.run(); // go past, then come back
      sim.restore(snap);
      sim.inject(st);
      sim.run();
      const want = fresh(withStep(sc, st));
      want.run();
      expectSame(fingerprint(sim), fingerprint(want), `${st.op} at ${atUs} µs`);
    }
  });

  it('a step cannot be injected in the past', () => {
    const sim = fresh(BUILTIN_SCENARIOS['shared-batch']!);
    sim.runUntil(50_000);
    expect(() =>
      sim.inject({ at: 10, op: 'report-broken', device: BUILTIN_SCENARIOS['shared-batch']!.groups[0]!.devices[0]!.bdf }),
    ).toThrow();
  });
});

/* ------------------------------------------------------------ determinism */

describe('determinism: same scenario, seed and policy give the same result and trace', () => {
  for (const id of IDS) {
    it(id, () => {
      for (const p of POLICY_PRESETS) {
        const a = reference(BUILTIN_SCENARIOS[id]!, p);
        const b = reference(BUILTIN_SCENARIOS[id]!, p);
        expect(b.result, `${id} under ${p}`).toBe(a.result);
        expect(b.trace, `${id} under ${p}: trace`).toBe(a.trace);
        expect(b.events).toBe(a.events);
      }
    });
  }

  it('a run is not affected by runs of other scenarios in between', () => {
    const first = reference(BUILTIN_SCENARIOS['spam-vs-quarantine']!, 'v4');
    for (const id of IDS) reference(BUILTIN_SCENARIOS[id]!, 'baseline');
    expect(reference(BUILTIN_SCENARIOS['spam-vs-quarantine']!, 'v4')).toEqual(first);
  });
});

/* ----------------------------------------------------------- trace order */

describe('trace records: causes point back, time never goes back', () => {
  for (const id of IDS) {
    it(id, () => {
      for (const p of POLICY_PRESETS) {
        const sim = fresh(BUILTIN_SCENARIOS[id]!, p);
        sim.run();
        const tr = sim.out.trace;
        expect(tr.length).toBeGreaterThan(0);
        const bad: string[] = [];
        tr.forEach((r, i) => {
          if (r.id !== i) bad.push(`record ${i} has id ${r.id}`);
          if (!(r.cause >= -1 && r.cause < r.id)) bad.push(`record ${r.id} (${r.kind}) has cause ${r.cause}`);
          if (i > 0 && r.t < tr[i - 1]!.t) bad.push(`record ${r.id} (${r.kind}) at ${r.t} ns after ${tr[i - 1]!.t} ns`);
        });
        expect(bad, `${id} under ${p}`).toEqual([]);
        // Log lines and API calls link to records that exist.
        for (const l of sim.out.log) expect(l.traceId).toBeLessThan(tr.length);
        for (const c of sim.out.calls) expect(c.traceId).toBeLessThan(tr.length);
      }
    });
  }
});

// Issue 15, point 4: domain ids are the scenario's, and the id rules allow names of the object
// prototype. Kept in a plain object, "__proto__" set the object's prototype instead of an entry and
// a snapshot dropped it: the page failed after End, Home, End.
describe('domain ids that are names of the object prototype', () => {
  const odd: Scenario = {
    format: 'smmu-scenario/1',
    name: 'prototype names as domain ids',
    domains: [
      { id: '__proto__', type: 'paging' },
      { id: 'constructor', type: 'paging' },
    ],
    groups: [
      { id: 0, domain: '__proto__', devices: [{ bdf: NVME, sids: [256], ats: true }] },
      { id: 1, domain: 'constructor', devices: [{ bdf: '0000:02:00.0', sids: [512], ats: true }] },
    ],
    steps: [
      { at: 0, op: 'map', domain: '__proto__', iova: '0x10000', pages: 2 },
      { at: 5, op: 'map', domain: 'constructor', iova: '0x10000', pages: 2 },
      { at: 10, op: 'dma', device: NVME, iova: '0x10000', write: true },
      { at: 20, op: 'unmap', domain: '__proto__', iova: '0x10000', pages: 2 },
      { at: 30, op: 'attach', group: 1, domain: '__proto__' },
      { at: 40, op: 'unmap', domain: 'constructor', iova: '0x10000', pages: 2 },
    ],
  };

  it('run, and run again from snapshots taken anywhere, to the same end', () => {
    const whole = new Simulation(resolve(odd));
    whole.run();
    const want = JSON.stringify(whole.result());
    expect(whole.result().violations).toEqual([]);
    expect(whole.result().groups.map((g) => g.domain)).toEqual(['__proto__', '__proto__']);
    const sim = new Simulation(resolve(odd));
    const snaps: Snapshot[] = [];
    while (sim.nextEventNs() !== null) {
      snaps.push(sim.snapshot());
      sim.step();
    }
    for (const s of snaps) {
      sim.restore(s);
      sim.run();
      expect(JSON.stringify(sim.result())).toBe(want);
    }
  });

  it('"__blocked", the model\'s name for the blocking domain, is refused with the reason', () => {
    const v = validateScenario({ ...odd, domains: [...odd.domains!, { id: '__blocked', type: 'paging' }] });
    expect(v.ok).toBe(false);
    if (!v.ok)
      expect(v.errors).toContainEqual({
        path: 'domains[2].id',
        message: '"__blocked" is reserved (the model\'s name for the blocking domain)',
      });
  });
});
