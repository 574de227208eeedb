/**
 * The story of a run (core/story.ts): the caption says what the last event
 * did in the words its trace records have in the causal chain (Why?), the
 * chapters land where their narration is true, and the presenter keys and
 * Play stop where they should.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { BUILTIN_SCENARIOS } from '../scenario/builtins/index.ts';
import { validateScenario } from '../scenario/validate.ts';
import { Timeline } from '../timeline.ts';
import { TRACE_WORDS, describeRecord, traceIsDetail, traceMark } from '../trace.ts';
import { captionAt, chapterPositions, eventHeadline, eventRecordRange, nextStop, stopCrossed, storyAt } from '../story.ts';
import type { Chapter } from '../scenario/types.ts';

/** A built-in's recorded run, with its chapters. */
function run(id: string): Timeline & { scenarioChapters: Chapter[] } {
  const v = validateScenario(BUILTIN_SCENARIOS[id]!);
  if (!v.ok) throw new Error(`invalid ${id}`);
  return Object.assign(new Timeline(v.scenario, {}), { scenarioChapters: v.scenario.chapters });
}
const markerPositions = (tl: Timeline): number[] => {
  const d = tl.data;
  const out: number[] = [];
  for (let p = 0; p <= d.count; p++) {
    const { from, to } = eventRecordRange(d, p);
    if (tl.trace.slice(from, to).some((r) => traceMark(r) !== null)) out.push(p);
  }
  return out;
};

describe('caption: what the last event did, in the words of Why?', () => {
  for (const id of Object.keys(BUILTIN_SCENARIOS)) {
    it(`${id}: at every position the caption is the words of a record of the last event that wrote any`, () => {
      const tl = run(id);
      const d = tl.data;
      for (let p = 0; p <= d.count; p++) {
        const c = captionAt(tl.trace, d, p);
        if (!c) continue;
        expect(c.text).toBe(describeRecord(c.record));
        expect(c.text).not.toMatch(/undefined|\[object Object\]|NaN/);
        let q = p;
        while (q > 0 && eventRecordRange(d, q).from === eventRecordRange(d, q).to) q--;
        const { from, to } = eventRecordRange(d, q);
        expect(c.record.id).toBeGreaterThanOrEqual(from);
        expect(c.record.id).toBeLessThan(to);
        const records = tl.trace.slice(from, to);
        // A marked record (an event of note) is the caption whenever the event has one.
        const marked = records.find((r) => traceMark(r) !== null);
        if (marked) expect(c.record).toBe(marked);
        else if (records.some((r) => !traceIsDetail(r))) expect(traceIsDetail(c.record)).toBe(false);
      }
    });
  }

  it('spam-vs-quarantine (seed 003 #12, #11): the CMD_SYNC failure and the quarantine are captioned as they happen', () => {
    const tl = run('spam-vs-quarantine');
    const d = tl.data;
    const caps = Array.from({ length: d.count + 1 }, (_, p) => captionAt(tl.trace, d, p)!.text);
    const err = caps.findIndex((c) => c.includes('CERROR_ATC_INV_SYNC'));
    expect(err).toBeGreaterThan(0);
    // One ATC invalidation timeout later (1 ms) than the unmap that sent it.
    expect(d.times[err]! - d.times[caps.findIndex((c) => c.startsWith('iommu_unmap(dma0, 0x10000'))]!).toBeCloseTo(1_000_150, -3);
    expect(caps).toContain('arm_smmu_master_disable_ats(): 0000:01:00.0 ats_broken = true, STE.EATS cleared');
    expect(caps).toContain('group_device 0000:01:00.0 gets QUARANTINE: blocked NO → BROKEN (reset_depth 0)');
    expect(caps).toContain('0000:01:00.0 DMA write 0x10000 is blocked (STE.Config=ABORT)');
  });

  it('no detail of the mechanics is an event of note', () => {
    for (const [kind, w] of Object.entries(TRACE_WORDS)) if (w.detail) expect(w.mark, kind).toBeUndefined();
  });

  it('an event with only details is captioned by its first record; an empty range by nothing', () => {
    const tl = run('spam-vs-quarantine');
    const d = tl.data;
    for (let p = 1; p <= d.count; p++) {
      const { from, to } = eventRecordRange(d, p);
      const rs = tl.trace.slice(from, to);
      if (rs.length > 0 && rs.every(traceIsDetail)) expect(eventHeadline(tl.trace, from, to)).toBe(rs[0]);
    }
    expect(eventHeadline(tl.trace, 5, 5)).toBeNull();
  });
});

describe('chapters of the built-ins land where their narration is true', () => {
  const at = (tl: ReturnType<typeof run>, title: string) => {
    const chapters = tl.scenarioChapters;
    const i = chapters.findIndex((c) => c.title === title);
    expect(i, title).toBeGreaterThanOrEqual(0);
    return tl.seek(chapterPositions(chapters, tl.data)[i]!);
  };
  it('spam-vs-quarantine under v4', () => {
    const tl = run('spam-vs-quarantine');
    expect(at(tl, 'The device stops answering').endpoints[0]!.mode).toBe('unresponsive');
    const fail = at(tl, 'CMD_SYNC fails after 1 ms');
    expect([fail.cmdq.errName, fail.cmdq.errActive]).toEqual(['CERROR_ATC_INV_SYNC', true]);
    expect(fail.gerror).not.toBe(fail.gerrorn);
    const found = at(tl, 'The broken master is found').gdevs[0]!;
    expect([found.atsBroken, found.blocked]).toEqual([true, 'NO']);
    expect(at(tl, 'Quarantine').gdevs[0]!.blocked).toBe('BROKEN');
    expect(at(tl, 'Quarantine').groups[0]!.recoveryCnt).toBe(1);
    expect(at(tl, 'Stale DMA goes nowhere').stats.corruptedPages).toBe(0);
  });
  it('recovery-flr', () => {
    const tl = run('recovery-flr');
    expect(at(tl, 'Quarantined').gdevs[0]!.blocked).toBe('BROKEN');
    expect(at(tl, 'Function Level Reset').gdevs[0]!.resetDepth).toBe(1);
    const done = at(tl, 'Unblocked after a good reset');
    expect([done.gdevs[0]!.blocked, done.gdevs[0]!.atsBroken, done.groups[0]!.recoveryCnt]).toEqual(['NO', false, 0]);
  });
});

describe('storyAt, nextStop, stopCrossed', () => {
  const ch = (at: number): Chapter => ({ at, title: `c${at}`, text: 'x' });

  it('narration shows from a chapter until the next event of note after it', () => {
    const chapters = [ch(0), ch(10)];
    const pos = [2, 6];
    const markers = [1, 4, 6, 9];
    expect(storyAt(chapters, pos, markers, 1)).toBeNull();
    expect(storyAt(chapters, pos, markers, 2)).toMatchObject({ index: 0, narrate: true });
    expect(storyAt(chapters, pos, markers, 3)).toMatchObject({ index: 0, narrate: true });
    expect(storyAt(chapters, pos, markers, 4)).toMatchObject({ index: 0, narrate: false });
    // A chapter on an event of note narrates it, until the next one.
    expect(storyAt(chapters, pos, markers, 6)).toMatchObject({ index: 1, narrate: true });
    expect(storyAt(chapters, pos, markers, 8)).toMatchObject({ index: 1, narrate: true });
    expect(storyAt(chapters, pos, markers, 9)).toMatchObject({ index: 1, narrate: false });
    // A chapter not yet recorded is not shown.
    expect(storyAt(chapters, [2, null], markers, 50)).toMatchObject({ index: 0 });
  });

  const stopsArb = fc.array(fc.option(fc.nat({ max: 60 }), { nil: null }), { maxLength: 12 });
  it('nextStop and stopCrossed agree with a search of every stop (pinned seed)', () => {
    fc.assert(
      fc.property(stopsArb, fc.nat({ max: 60 }), fc.nat({ max: 60 }), (stops, a, b) => {
        const real = stops.filter((s): s is number => s !== null);
        const after = real.filter((s) => s > a);
        const before = real.filter((s) => s < a);
        expect(nextStop(stops, a, 1)).toBe(after.length ? Math.min(...after) : null);
        expect(nextStop(stops, a, -1)).toBe(before.length ? Math.max(...before) : null);
        const [lo, hi] = a <= b ? [a, b] : [b, a];
        const crossed = real.filter((s) => s > lo && s <= hi);
        expect(stopCrossed(stops, lo, hi)).toBe(crossed.length ? Math.min(...crossed) : null);
      }),
      { seed: 1315, numRuns: 400 },
    );
  });

  it('storyAt agrees with its definition on the default scenario at every position', () => {
    const tl = run('spam-vs-quarantine');
    const chapters = tl.scenarioChapters;
    const pos = chapterPositions(chapters, tl.data);
    const markers = markerPositions(tl);
    for (let p = 0; p <= tl.data.count; p++) {
      const s = storyAt(chapters, pos, markers, p);
      const starts = pos.map((x, i) => [x!, i] as const).filter(([x]) => x <= p);
      if (starts.length === 0) {
        expect(s).toBeNull();
        continue;
      }
      const [start, index] = starts[starts.length - 1]!;
      expect(s!.index).toBe(index);
      expect(s!.narrate).toBe(!markers.some((m) => m > start && m <= p));
    }
  });

  it('chapter positions: the last position at or before the chapter time; null past what is being recorded', () => {
    const tl = run('recovery-flr');
    const d = tl.data;
    const pos = chapterPositions(tl.scenarioChapters, d);
    tl.scenarioChapters.forEach((c, i) => {
      const p = pos[i]!;
      expect(d.times[p]!).toBeLessThanOrEqual(c.at * 1000);
      if (p < d.count) expect(d.times[p + 1]!).toBeGreaterThan(c.at * 1000);
    });
    expect(chapterPositions([ch(1e9)], { ...d, recording: 'running' })).toEqual([null]);
    expect(chapterPositions([ch(1e9)], d)).toEqual([d.count]);
  });
});
