/**
 * What the worker answers the page from the whole record (web/lib/page-window.ts
 * and the marks and sticky records of core/timeline.ts): at every position
 * it is what the page would draw holding the whole trace, log and call list
 * of a straight run, and each list stays within its bound.
 */
import { describe, expect, it } from 'vitest';
import {
  BUILTIN_SCENARIOS,
  STICKY_KINDS,
  Simulation,
  Timeline,
  captionAt,
  traceMark,
  validateScenario,
  type CallRecord,
  type LogLine,
  type ResolvedScenario,
  type Scenario,
  type TraceRecord,
} from '../../core/index.ts';
import { PLAIN_ASK, WINDOW_CALLS, chainOf, findRecord, logWindow, pageWindow, windowUpdate } from '../lib/page-window.ts';
import { longStorm } from '../../bench/long-storm.ts';

function resolved(raw: Scenario): ResolvedScenario {
  const v = validateScenario(raw);
  if (!v.ok) throw new Error('invalid scenario');
  return v.scenario;
}

/** A straight run one event at a time, keeping at each position the lengths of its outputs: what the page used to hold. */
function straight(sc: ResolvedScenario) {
  const sim = new Simulation(sc, { stepwise: true, trace: true });
  const lens = [{ trace: sim.out.trace.length, log: sim.out.log.length, calls: sim.out.calls.length }];
  while (sim.step()) lens.push({ trace: sim.out.trace.length, log: sim.out.log.length, calls: sim.out.calls.length });
  sim.run();
  const o = sim.out;
  lens[lens.length - 1] = { trace: o.trace.length, log: o.log.length, calls: o.calls.length };
  return { trace: o.trace as TraceRecord[], log: o.log as LogLine[], calls: o.calls.slice() as CallRecord[], lens };
}

/** Record in small slices, as the page's worker does (marks and sticky records are gathered slice by slice). */
function recordInSlices(sc: ResolvedScenario, n = 7): Timeline {
  const tl = new Timeline(sc, { progressive: true, snapshotEvery: 64 });
  while (tl.record(n) === 'running') tl.checkpoint();
  return tl;
}

describe('the page window, answered by the worker', () => {
  for (const id of ['spam-vs-quarantine', 'recovery-flr', 'attach-during-recovery']) {
    it(`${id}: at every position, the caption, log and calls a page holding the whole record would draw`, () => {
      const sc = resolved(BUILTIN_SCENARIOS[id]!);
      const ref = straight(sc);
      const tl = recordInSlices(sc);
      expect(tl.data.count).toBe(ref.lens.length - 1);
      for (let p = 0; p <= tl.data.count; p++) {
        const w = pageWindow(tl, p, PLAIN_ASK);
        const at = ref.lens[p]!;
        expect(w.position).toBe(p);
        expect(w.caption?.record.id ?? null, `caption at ${p}`).toBe(captionAt(ref.trace, tl.data, p)?.record.id ?? null);
        expect(w.log.total).toBe(at.log);
        expect(w.log.lines.map((l) => l.text)).toEqual(ref.log.slice(0, at.log).map((l) => l.text));
        expect(w.calls.total).toBe(at.calls);
        expect(w.calls.items).toEqual(ref.calls.slice(Math.max(0, at.calls - WINDOW_CALLS), at.calls));
        expect(w.chain).toBeNull();
      }
    });
  }

  it('the marks and sticky records gathered while recording in slices are those of the whole trace, at their positions', () => {
    const sc = resolved(BUILTIN_SCENARIOS['spam-vs-quarantine']!);
    const ref = straight(sc);
    const tl = recordInSlices(sc, 3);
    const marks = tl.markers();
    const want = ref.trace.filter((r) => traceMark(r) !== null);
    expect(marks.length).toBeGreaterThan(0);
    expect(marks.map((m) => m.traceId)).toEqual(want.map((r) => r.id));
    for (const m of marks) {
      // The position that wrote the record: its trace length is past the record, the one before is not.
      const p = m.position;
      expect(ref.lens[p]!.trace).toBeGreaterThan(m.traceId);
      if (p > 0) expect(ref.lens[p - 1]!.trace).toBeLessThanOrEqual(m.traceId);
      expect(m.label).toBe(traceMark(ref.trace[m.traceId]!)!.label);
    }
    expect(tl.markers(2)).toEqual(marks.slice(2));
    const sticky = tl.sticky();
    expect(sticky.map((r) => r.id)).toEqual(ref.trace.filter((r) => STICKY_KINDS.has(r.kind)).map((r) => r.id));
    expect(sticky.length).toBeGreaterThan(0);
  });

  it('the causal chain asked about runs from the first cause to the record, each link the cause of the next', () => {
    const sc = resolved(BUILTIN_SCENARIOS['spam-vs-quarantine']!);
    const tl = recordInSlices(sc);
    const quarantine = tl.trace.find((r) => r.kind === 'quarantine.driver');
    expect(quarantine).toBeDefined();
    const w = pageWindow(tl, tl.data.count, { ...PLAIN_ASK, focus: quarantine!.id });
    const c = w.chain!;
    expect(c.target.id).toBe(quarantine!.id);
    expect(c.items[c.items.length - 1]!.id).toBe(quarantine!.id);
    for (let i = 1; i < c.items.length; i++) expect(c.items[i]!.cause).toBe(c.items[i - 1]!.id);
    expect(c.more || c.items[0]!.cause < 0).toBe(true);
    // The chain does not depend on the position shown; a record not recorded has none.
    expect(pageWindow(tl, 0, { ...PLAIN_ASK, focus: quarantine!.id }).chain).toEqual(c);
    expect(chainOf(tl.trace, tl.trace.length)).toBeNull();
    expect(chainOf(tl.trace, -1)).toBeNull();
  });

  it('the log filter reaches the whole log and keeps the newest lines that pass; errors only keeps warn and worse', () => {
    const sc = resolved(BUILTIN_SCENARIOS['spam-vs-quarantine']!);
    const tl = recordInSlices(sc);
    const log = tl.log;
    const n = tl.data.logLen[tl.data.count]!;
    const f = 'error';
    const passing = log.slice(0, n).filter((l) => l.text.toLowerCase().includes(f));
    expect(passing.length).toBeGreaterThan(3);
    const all = logWindow(log, n, { logFilter: ' Error ', logErrorsOnly: false });
    expect(all.total).toBe(passing.length);
    expect(all.lines).toEqual(passing);
    const few = logWindow(log, n, { logFilter: f, logErrorsOnly: false }, 2);
    expect(few.total).toBe(passing.length);
    expect(few.lines).toEqual(passing.slice(-2));
    const serious = logWindow(log, n, { logFilter: '', logErrorsOnly: true });
    const want = log.slice(0, n).filter((l) => ['emerg', 'alert', 'crit', 'err', 'warn'].includes(l.level));
    expect(want.length).toBeGreaterThan(0);
    expect(want.length).toBeLessThan(n);
    expect(serious.lines).toEqual(want);
    // Only what is printed by the position counts.
    expect(logWindow(log, 0, { logFilter: f, logErrorsOnly: true })).toMatchObject({ lines: [], total: 0 });
  });

  it('finds the record that put a device in its state, and the one that set a group recovery_cnt, before a trace length', () => {
    const sc = resolved(BUILTIN_SCENARIOS['recovery-flr']!);
    const tl = recordInSlices(sc);
    const end = tl.trace.length;
    const states = tl.trace.filter((r) =>
      ['gdev.state', 'quarantine.driver', 'unquarantine.driver', 'device.gone'].includes(r.kind),
    );
    expect(states.length).toBeGreaterThan(1);
    const last = states[states.length - 1]!;
    const bdf = (last.d as { bdf: string }).bdf;
    const mine = states.filter((r) => (r.d as { bdf: string }).bdf === bdf);
    expect(findRecord(tl, { kind: 'device-state', bdf, upTo: end })).toBe(mine[mine.length - 1]!.id);
    expect(findRecord(tl, { kind: 'device-state', bdf, upTo: mine[0]!.id })).toBeNull();
    if (mine.length > 1) expect(findRecord(tl, { kind: 'device-state', bdf, upTo: mine[1]!.id })).toBe(mine[0]!.id);
    const cnts = tl.trace.filter((r) => r.kind === 'recovery_cnt');
    expect(cnts.length).toBeGreaterThan(0);
    const g = (cnts[0]!.d as { group: number }).group;
    const ofG = cnts.filter((r) => (r.d as { group: number }).group === g);
    expect(findRecord(tl, { kind: 'recovery-cnt', group: g, upTo: end })).toBe(ofG[ofG.length - 1]!.id);
    expect(findRecord(tl, { kind: 'recovery-cnt', group: g, upTo: ofG[0]!.id })).toBeNull();
  });

  it('a window as sent leaves out the log and the calls the page holds, and only those', () => {
    const sc = resolved(BUILTIN_SCENARIOS['spam-vs-quarantine']!);
    const tl = recordInSlices(sc);
    const d = tl.data;
    // Two positions with the same log and calls, and a later one where both have grown.
    let a = -1;
    for (let p = 1; p < d.count && a < 0; p++) if (d.logLen[p] === d.logLen[p + 1] && d.callsLen[p] === d.callsLen[p + 1]) a = p;
    expect(a).toBeGreaterThan(0);
    let b = a + 1;
    while (b <= d.count && (d.logLen[b] === d.logLen[a] || d.callsLen[b] === d.callsLen[a])) b++;
    expect(b).toBeLessThanOrEqual(d.count);
    const whole = pageWindow(tl, a, PLAIN_ASK);
    const held = { log: whole.log.key, calls: whole.calls.total };
    const same = windowUpdate(tl, a + 1, { ...PLAIN_ASK, held });
    expect(same.log).toBeNull();
    expect(same.calls).toBeNull();
    expect(same.caption).toEqual(pageWindow(tl, a + 1, PLAIN_ASK).caption);
    const later = windowUpdate(tl, b, { ...PLAIN_ASK, held });
    expect(later.log).toEqual(pageWindow(tl, b, PLAIN_ASK).log);
    expect(later.calls).toEqual(pageWindow(tl, b, PLAIN_ASK).calls);
    // Another filter over the same lines is another list.
    const filtered = windowUpdate(tl, a, { ...PLAIN_ASK, logErrorsOnly: true, held });
    expect(filtered.log).toEqual(logWindow(tl.log, d.logLen[a]!, { logFilter: '', logErrorsOnly: true }));
    expect(filtered.calls).toBeNull();
  });

  it('a storm of thousands of API calls: the window holds the last WINDOW_CALLS of those returned by the position', () => {
    const sc = resolved(longStorm(2, 400));
    const tl = recordInSlices(sc, 512);
    const end = tl.data.count;
    const total = tl.data.callsLen[end]!;
    expect(total).toBeGreaterThan(WINDOW_CALLS);
    const all = tl.callsBetween(0, total);
    const w = pageWindow(tl, end, PLAIN_ASK);
    expect(w.calls.total).toBe(total);
    expect(w.calls.items).toEqual(all.slice(total - WINDOW_CALLS));
    const mid = Math.floor(end / 2);
    const m = pageWindow(tl, mid, PLAIN_ASK);
    expect(m.calls.total).toBe(tl.data.callsLen[mid]);
    expect(m.calls.items).toEqual(all.slice(Math.max(0, m.calls.total - WINDOW_CALLS), m.calls.total));
    // A position past what is recorded is the last one.
    expect(pageWindow(tl, end + 10, PLAIN_ASK).position).toBe(end);
  });
});
